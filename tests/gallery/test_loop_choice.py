"""Which time loop ``Recurrent`` runs each cell with, asked through
``Recurrent.loop_for``: the method the layer itself dispatches on, so the answer is
what runs (the last test checks that). A cell that should take the fused loop, or the
compiled kernel in float32 training, and does not, fails here."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gallery import kernels
from gallery.layers import ElmanCell, GRUCell, LSTMCell, Recurrent, RecurrentCell, fused
from gallery.layers import recurrent as recurrent_module


class NewCell(RecurrentCell):
    """A cell written without a fused algebra: ``h_t = tanh(x_t W + b + h_tm1 U)``."""

    def step_projected(self, projected, states, recurrent_mask=None):
        h = keras.ops.tanh(projected + keras.ops.matmul(self._dropped(states[0], recurrent_mask),
                                                        self._weight(self.recurrent_kernel)))
        return h, [h]


#: ``(cell, loop in inference, loop in float32 training)``, default layer settings.
CASES = {
    "lstm": (lambda: LSTMCell(4), "fused", "compiled"),
    "gru": (lambda: GRUCell(4), "fused", "compiled"),
    "elman": (lambda: ElmanCell(4), "fused", "compiled"),
    "elman_relu": (lambda: ElmanCell(4, activation="relu"), "fused", "compiled"),
    "elman_linear": (lambda: ElmanCell(4, activation=None), "fused", "compiled"),
    "gru_reset_before": (lambda: GRUCell(4, reset_after=False), "projected", "projected"),
    "lstm_hard_sigmoid": (lambda: LSTMCell(4, recurrent_activation="hard_sigmoid"),
                          "projected", "projected"),
    "elman_softsign": (lambda: ElmanCell(4, activation="softsign"), "projected", "projected"),
    "new_cell": (lambda: NewCell(4), "projected", "projected"),
    "keras_cell": (lambda: keras.layers.SimpleRNNCell(4), "keras", "keras"),
}
X = tf.constant(np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32"))


def built(cell, **options):
    layer = Recurrent(cell, return_sequences=True, **options)
    layer.build(X.shape)
    return layer


def needs_kernels(expected):
    if expected == "compiled" and kernels.recurrent_ops() is None:
        pytest.skip("the compiled kernels do not build here (see CONTRIBUTING.md: g++)")


@pytest.mark.parametrize("name", list(CASES))
def test_each_cell_takes_its_loop(name):
    make, inference, training = CASES[name]
    layer = built(make())
    assert layer.loop_for(layer.cell, training=False) == inference
    needs_kernels(training)
    assert layer.loop_for(layer.cell, training=True) == training


def test_layer_options_dtype_and_xla_change_the_loop():
    needs_kernels("compiled")
    unrolled = built(LSTMCell(4), unroll=True)
    assert unrolled.loop_for(unrolled.cell, True) == "generic"
    slow = built(LSTMCell(4))
    slow.use_fast_path = False
    assert slow.loop_for(slow.cell, True) == "generic"
    autodiff = built(LSTMCell(4))
    autodiff.use_fused = False
    assert autodiff.loop_for(autodiff.cell, True) == "projected"
    tf_loop = built(LSTMCell(4))
    tf_loop.use_kernels = False
    assert tf_loop.loop_for(tf_loop.cell, True) == "fused"
    half = built(LSTMCell(4, dtype="mixed_float16"))
    assert half.loop_for(half.cell, True) == "fused"  # the kernels are float32
    stack = built([LSTMCell(4), keras.layers.LSTMCell(4)])
    assert [stack.loop_for(c, True) for c in stack.cells] == ["keras", "keras"]
    layer, seen = built(LSTMCell(4)), []

    @tf.function(jit_compile=True)
    def under_xla():
        seen.append(layer.loop_for(layer.cell, True))
        return tf.constant(0)

    under_xla()
    assert seen == ["fused"]  # XLA cannot hold the compiled ops


@pytest.mark.parametrize("name", ["lstm", "gru_reset_before", "keras_cell"])
@pytest.mark.parametrize("training", [False, True])
def test_the_loop_it_names_is_the_loop_that_runs(name, training, monkeypatch):
    make, *_ = CASES[name]
    layer = built(make())
    expected = layer.loop_for(layer.cell, training)
    if training:
        needs_kernels(expected)
    ran = []

    def spy(label, function):
        def called(*args, **kwargs):
            ran.append(label)
            return function(*args, **kwargs)
        return called

    monkeypatch.setattr(fused, "compiled_loop", spy("compiled", fused.compiled_loop))
    monkeypatch.setattr(fused, "fused_loop", spy("fused", fused.fused_loop))
    monkeypatch.setattr(recurrent_module, "generic_loop",
                        spy("generic loop", recurrent_module.generic_loop))
    layer(X, training=training)
    assert ran == {"compiled": ["compiled"], "fused": ["fused"],
                   "projected": ["generic loop"], "generic": ["generic loop"],
                   "keras": []}[expected]
    assert expected in recurrent_module.LOOPS
