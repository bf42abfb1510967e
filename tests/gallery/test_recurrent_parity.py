"""Parity of gallery cells and `Recurrent` with Keras's built-in layers (copied weights)."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from helpers import as_list, copy_weights, right_padded_mask, twin_layers

from gallery.layers import Recurrent

KINDS = ["elman", "lstm", "gru", "gru_v1"]
B, T, D, H = 4, 7, 3, 5


def _inputs(seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, D)).astype("float32")


@pytest.mark.parametrize(
    "kind,num_layers,go_backwards,masked",
    list(itertools.product(KINDS, [1, 2], [False, True], [False, True])))
def test_matches_keras_rnn(kind, num_layers, go_backwards, masked):
    x = _inputs()
    mask = right_padded_mask([7, 5, 1, 3], T) if masked else None
    ours, theirs = twin_layers(kind, H, num_layers, return_sequences=True,
                               return_state=True, go_backwards=go_backwards)
    copy_weights(ours, theirs, x)
    expected = as_list(theirs(x, mask=mask))
    got = as_list(ours(x, mask=mask))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-5)


# One layer each way repeats the two-layer case's check on a smaller setting: slow tier
# (default tier: the [KIND-2-MASKED] cases).
@pytest.mark.parametrize("kind,num_layers,masked", [
    pytest.param(*case, marks=pytest.mark.slow if case[1] == 1 else ())
    for case in itertools.product(KINDS, [1, 2], [False, True])])
def test_bidirectional_matches_keras(kind, num_layers, masked):
    x = _inputs(1)
    mask = right_padded_mask([2, 7, 4, 6], T) if masked else None
    for return_sequences in (False, True):
        ours, theirs = twin_layers(kind, H, num_layers, bidirectional=True,
                                   return_sequences=return_sequences, return_state=True)
        copy_weights(ours, theirs, x)
        for g, e in zip(as_list(ours(x, mask=mask)), as_list(theirs(x, mask=mask))):
            np.testing.assert_allclose(g, e, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_last_output_only_and_initial_state(kind):
    x = _inputs(2)
    ours, theirs = twin_layers(kind, H, 2, return_state=True)
    copy_weights(ours, theirs, x)
    rng = np.random.default_rng(3)
    per_layer = 2 if kind == "lstm" else 1

    def state():
        return rng.normal(size=(B, H)).astype("float32")
    initial = [[state() for _ in range(per_layer)] if per_layer > 1 else state()
               for _ in range(2)]
    for g, e in zip(as_list(ours(x, initial_state=initial)),
                    as_list(theirs(x, initial_state=initial))):
        np.testing.assert_allclose(g, e, atol=1e-5)


@pytest.mark.parametrize("kind,masked", list(itertools.product(KINDS, [False, True])))
def test_fast_path_equals_generic_path_with_gradients(kind, masked):
    """The projected layer-by-layer loop gives the generic loop's outputs and gradients."""
    x = tf.constant(_inputs(4))
    mask = right_padded_mask([7, 2, 5, 6], T) if masked else None
    fast, _ = twin_layers(kind, H, 2, return_sequences=True, go_backwards=True)
    fast(x)
    generic = Recurrent.from_config(fast.get_config())
    generic(x)
    generic.set_weights(fast.get_weights())
    generic.use_fast_path = False

    def outputs_and_grads(layer):
        with tf.GradientTape() as tape:
            y = layer(x, mask=mask)
            loss = tf.reduce_sum(y * tf.sin(y))
        return y, tape.gradient(loss, layer.trainable_variables)

    y_fast, g_fast = outputs_and_grads(fast)
    y_gen, g_gen = outputs_and_grads(generic)
    np.testing.assert_allclose(y_fast, y_gen, atol=1e-5)
    for a, b in zip(g_fast, g_gen):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_compiled_graph_has_no_python_time_loop():
    """In a tf.function the loop is one symbolic while-loop, whatever the length."""
    ours, _ = twin_layers("lstm", H, 2)
    fn = tf.function(lambda x: ours(x))
    graph = fn.get_concrete_function(tf.TensorSpec((None, None, D), tf.float32)).graph
    ops_ = [op.type for op in graph.get_operations()]
    # two per layer: fused.inference_loop's unrolled loop and its loop over the rest
    assert ops_.count("While") + ops_.count("StatelessWhile") == 2 * 2
    assert fn(tf.constant(_inputs())).shape == (B, H)


@pytest.mark.parametrize("kind", KINDS)
def test_cell_weights_swap_both_ways(kind):
    from helpers import KERAS_TWINS
    ours_fn, keras_fn = KERAS_TWINS[kind]
    ours, theirs = ours_fn(H), keras_fn(H)
    ours.build((None, D))
    theirs.build((None, D))
    theirs.set_weights(ours.get_weights())  # ours → Keras
    h = np.random.default_rng(5).normal(size=(B, H)).astype("float32")
    states = [h, h] if kind == "lstm" else [h]
    xt = _inputs()[:, 0]
    out_ours, _ = ours(xt, states)
    out_theirs, _ = theirs(xt, states)
    np.testing.assert_allclose(out_ours, out_theirs, atol=1e-6)
