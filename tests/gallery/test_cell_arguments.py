"""Every argument of Keras's cells and RNN, against Keras's built-ins with copied weights.

Paths: ``plain`` (inference: the fused TF loop), ``xla`` (training, kernels off: the
fused TF loop under XLA), ``compiled`` (training: the compiled kernels) and
``generic`` (``use_fused=False``: the projected loop differentiated by TensorFlow).
Arguments without a fused algebra (a non-default activation) take the generic loop
on every path, which is what these tests check they do correctly.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gallery import kernels
from gallery.layers import ElmanCell, GRUCell, LSTMCell, Recurrent

B, T, D, H = 3, 6, 4, 5
X = tf.constant(np.random.default_rng(0).normal(size=(B, T, D)).astype("float32"))
MASK = tf.constant(np.arange(T)[None] < np.array([6, 3, 5])[:, None])
PAIRS = {"lstm": (LSTMCell, keras.layers.LSTMCell, 4),
         "gru": (GRUCell, keras.layers.GRUCell, 3),
         "elman": (ElmanCell, keras.layers.SimpleRNNCell, None)}
PATHS = ["plain", "xla", "compiled", "generic"]


def _twins(kind, return_state=True, **cell_args):
    ours_cls, keras_cls, _ = PAIRS[kind]
    ours = Recurrent(ours_cls(H, **cell_args), return_sequences=True, return_state=return_state)
    theirs = keras.layers.RNN(keras_cls(H, **cell_args), return_sequences=True,
                              return_state=return_state)
    ours(X), theirs(X)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def _set_path(layer, path):
    if path == "compiled" and kernels.recurrent_ops() is None:
        pytest.fail("the compiled recurrent kernels did not build on this machine")
    layer.use_kernels = path == "compiled"
    layer.use_fused = path != "generic"
    return path != "plain"  # training


def _outputs_and_grads(layer, training):
    with tf.GradientTape() as tape:
        flat = tf.nest.flatten(layer(X, mask=MASK, training=training))
        loss = sum(tf.reduce_sum(tf.sin(o) * (k + 1.0)) for k, o in enumerate(flat))
    return flat + tape.gradient(loss, layer.trainable_variables)


def _assert_close(a, b, atol=1e-5):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol, rtol=1e-5)


ACTIVATIONS = {"lstm": dict(activation="relu", recurrent_activation="hard_sigmoid"),
               "gru": dict(activation="softsign", recurrent_activation="hard_sigmoid"),
               "elman": dict(activation="sigmoid")}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind", list(PAIRS))
def test_non_default_activations_match_keras(kind, path):
    ours, theirs = _twins(kind, **ACTIVATIONS[kind])
    training = _set_path(ours, path)
    _assert_close(_outputs_and_grads(ours, training), _outputs_and_grads(theirs, training))


# Under XLA (a compile per case) the default tier keeps LSTM; GRU and Elman run there on
# the compiled and generic loops, under XLA in the slow tier.
@pytest.mark.parametrize("kind,path", [
    pytest.param(kind, path, id=f"{kind}-{path}", marks=pytest.mark.slow
                 if path == "xla" and kind != "lstm" else ())
    for kind in PAIRS for path in ("xla", "compiled", "generic")])
def test_recurrent_dropout_matches_keras_given_the_same_masks(kind, path, monkeypatch):
    """Keras's cells with their masks replaced by ours (one input mask, one recurrent
    mask; Keras's gated cells draw one per gate, here all the same) give our numbers."""
    ours, theirs = _twins(kind, dropout=0.3, recurrent_dropout=0.4)
    training = _set_path(ours, path)
    rng = np.random.default_rng(1)
    input_mask = tf.constant((rng.random((B, D)) > 0.3) / 0.7, tf.float32)
    recurrent_mask = tf.constant((rng.random((B, H)) > 0.4) / 0.6, tf.float32)
    count = PAIRS[kind][2]
    monkeypatch.setattr(ours, "dropout_masks", lambda cell, x, t: (input_mask, recurrent_mask))
    monkeypatch.setattr(theirs.cell, "get_dropout_mask",
                        lambda _: [input_mask] * count if count else input_mask)
    monkeypatch.setattr(theirs.cell, "get_recurrent_dropout_mask",
                        lambda _: [recurrent_mask] * count if count else recurrent_mask)
    _assert_close(_outputs_and_grads(ours, training), _outputs_and_grads(theirs, training))


def test_recurrent_dropout_is_one_mask_per_sequence_and_training_only():
    """A linear Elman cell with U = I and no inputs carries h_0 ⊙ mᵗ: the same mask
    at every step, inverted (kept values scaled by 1/(1 − rate)), none in inference."""
    cell = ElmanCell(4, activation=None, use_bias=False, recurrent_dropout=0.5, seed=3)
    layer = Recurrent(cell, return_sequences=True)
    x = np.zeros((64, 3, 2), "float32")
    layer(x)
    cell.set_weights([np.zeros((2, 4), "float32"), np.eye(4, dtype="float32")])
    h0 = np.ones((64, 4), "float32")
    np.testing.assert_array_equal(layer(x, initial_state=[h0])[:, -1], h0)
    for use_kernels in (True, False):
        layer.use_kernels = use_kernels
        out = np.asarray(layer(x, initial_state=[h0], training=True))
        first = out[:, 0]
        assert set(np.unique(first)) == {0.0, 2.0}
        np.testing.assert_array_equal(out[:, 1], first * first)
        np.testing.assert_array_equal(out[:, 2], first ** 3)


REGULARIZED = dict(kernel_regularizer="l2", recurrent_regularizer=keras.regularizers.L1(0.1),
                   bias_regularizer="l1")


@pytest.mark.parametrize("kind", list(PAIRS))
def test_regularizers_are_in_model_losses_as_in_keras(kind):
    penalties = []
    for layer in _twins(kind, return_state=False, **REGULARIZED):
        layer.activity_regularizer = keras.regularizers.L2(0.01)  # the layer's, on its outputs
        model = keras.Sequential([keras.Input((T, D)), layer])
        model(X)
        penalties.append(sorted(float(p) for p in model.losses))
    assert len(penalties[0]) == 4
    np.testing.assert_allclose(penalties[0], penalties[1], rtol=1e-5)


@pytest.mark.parametrize("kind", list(PAIRS))
def test_constraints_hold_after_each_optimizer_step(kind):
    constrained = dict(kernel_constraint="non_neg", bias_constraint="non_neg",
                       recurrent_constraint=keras.constraints.MaxNorm(0.5))
    models = []
    for layer in _twins(kind, return_state=False, **constrained):
        model = keras.Sequential([keras.Input((T, D)), layer])
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        model.fit(X, tf.ones((B, T, H)), epochs=2, verbose=0, shuffle=False)
        models.append(model)
    cell = models[0].layers[0].cell
    assert np.all(np.asarray(cell.kernel) >= 0) and np.all(np.asarray(cell.bias) >= 0)
    norms = np.sqrt((np.asarray(cell.recurrent_kernel) ** 2).sum(axis=0))
    assert np.all(norms <= 0.5 + 1e-6)
    _assert_close(models[0].get_weights(), models[1].get_weights(), atol=1e-4)


@pytest.mark.parametrize("kind", list(PAIRS))
def test_config_round_trip_with_every_argument(kind):
    args = dict(**REGULARIZED, **ACTIVATIONS[kind], use_bias=False, dropout=0.1,
                recurrent_dropout=0.2, seed=7, kernel_initializer="he_normal",
                kernel_constraint="non_neg")
    cell = PAIRS[kind][0](H, **args)
    clone = type(cell).from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    keras_config = PAIRS[kind][1](H, **args).get_config()
    assert set(keras_config) <= set(cell.get_config())
    layer = Recurrent(cell, stateful=False, unroll=True, zero_output_for_mask=True,
                      jit_compile=False)
    again = Recurrent.from_config(layer.get_config())
    assert again.get_config() == layer.get_config() and again.jit_compile is False


@pytest.mark.parametrize("option", ["unroll", "zero_output_for_mask", "go_backwards"])
@pytest.mark.parametrize("kind", list(PAIRS))
def test_rnn_arguments_match_keras(kind, option):
    ours_cls, keras_cls, _ = PAIRS[kind]
    layers = [Recurrent(ours_cls(H), return_sequences=True, **{option: True}),
              keras.layers.RNN(keras_cls(H), return_sequences=True, **{option: True})]
    for layer in layers:
        layer(X)
    layers[0].set_weights(layers[1].get_weights())
    _assert_close(*[_outputs_and_grads(layer, True) for layer in layers])


def test_unroll_needs_a_known_length():
    layer = Recurrent(LSTMCell(H), unroll=True)
    with pytest.raises(ValueError, match="unroll"):
        layer(keras.Input((None, D)))


@pytest.mark.parametrize("kind", list(PAIRS))
def test_stateful_matches_keras(kind):
    ours_cls, keras_cls, _ = PAIRS[kind]
    layers = [Recurrent(ours_cls(H), stateful=True, return_sequences=True),
              keras.layers.RNN(keras_cls(H), stateful=True, return_sequences=True)]
    models = [keras.Sequential([keras.Input(batch_shape=(B, None, D)), layer]) for layer in layers]
    models[0].set_weights(models[1].get_weights())
    for _ in range(2):  # the second call starts from the first call's final states
        _assert_close(*[m(X[:, :3]) for m in models])
    for layer in layers:
        layer.reset_state()
    _assert_close(*[m(X[:, 3:]) for m in models])
