"""``use_keras_cells``: a model whose gallery cells are swapped for Keras's built-in
twins (same weights) gives the same outputs, through ``Bidirectional``, stacks, masks
and direct one-step calls; the swapped layers run Keras's own loop."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gallery.layers import ElmanCell, GRUCell, LSTMCell, Recurrent
from gallery.layers.keras_builtin import keras_cell, use_keras_cells


def model_with(make_cells):
    ids = keras.Input((None,), dtype="int64")
    x = keras.layers.Embedding(20, 6, mask_zero=True)(ids)
    x = keras.layers.Bidirectional(Recurrent(make_cells(), return_sequences=True))(x)
    x = Recurrent(make_cells())(x)
    return keras.Model(ids, keras.layers.Dense(3)(x))


STACKS = {"lstm": lambda: LSTMCell(5), "gru": lambda: GRUCell(5),
          "gru_reset_before": lambda: GRUCell(5, reset_after=False),
          "elman_stack": lambda: [ElmanCell(5), ElmanCell(4, activation="relu")]}


@pytest.mark.parametrize("name", list(STACKS))
def test_the_swapped_model_gives_the_same_outputs(name):
    ours = model_with(STACKS[name])
    theirs = keras.Model.from_config(ours.get_config())
    theirs.set_weights(ours.get_weights())
    cells = 2 * 2 if name == "elman_stack" else 2
    assert use_keras_cells(theirs) == cells + (2 if name == "elman_stack" else 1)
    ids = np.array([[3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 0, 0, 0, 0]])  # right-padded
    np.testing.assert_allclose(theirs(ids).numpy(), ours(ids).numpy(), atol=1e-5)
    for layer in theirs.layers:
        inner = getattr(layer, "forward_layer", layer)
        if isinstance(inner, Recurrent):
            assert {inner.loop_for(c) for c in inner.cells} == {"keras"}


def test_one_step_of_the_twin_is_the_cells_step():
    cell = LSTMCell(4)
    cell.build((None, 3))
    twin = keras_cell(cell)
    assert isinstance(twin, keras.layers.LSTMCell)
    x, h, c = (tf.random.normal((2, n)) for n in (3, 4, 4))
    (out, states), (twin_out, twin_states) = cell(x, [h, c]), twin(x, [h, c])
    np.testing.assert_allclose(twin_out, out, atol=1e-6)
    np.testing.assert_allclose(twin_states[1], states[1], atol=1e-6)


def test_a_one_cell_stack_becomes_its_keras_cell():
    """``Recurrent([cell])`` (charlm's one layer), stateful, read chunk by chunk from a
    nested start state ``[[h, c]]``: Keras's one-cell ``StackedRNNCells`` would return
    ``[h, c]`` and its loop would refuse it; the swapped layer is ``RNN(LSTMCell)`` and
    gives our outputs and final states."""
    from gallery.layers.recurrent import StateCarrier

    def build():
        x = keras.Input(batch_shape=(2, None, 3))
        return keras.Model(x, Recurrent([LSTMCell(4)], return_sequences=True,
                                        stateful=True)(x))

    ours = build()
    theirs = build()
    theirs.set_weights(ours.get_weights())
    assert use_keras_cells(theirs) == 1
    layer = theirs.layers[-1]
    assert isinstance(layer.cell, keras.layers.LSTMCell) and not layer._is_stack
    x = tf.random.normal((2, 5, 3))
    np.testing.assert_allclose(theirs(x), ours(x), atol=1e-6)  # the stateful call
    start = [[tf.random.normal((2, 4)), tf.random.normal((2, 4))]]
    mask = tf.sequence_mask([5, 2], 5)
    (a, a_states), (b, b_states) = (StateCarrier(model.layers[-1])(x, start, mask=mask)
                                    for model in (ours, theirs))
    np.testing.assert_allclose(b, a, atol=1e-6)
    for s, t in zip(tf.nest.flatten(a_states), tf.nest.flatten(b_states), strict=True):
        np.testing.assert_allclose(t, s, atol=1e-6)
