"""Any mix of layer and cell dtype policies works as it does with ``keras.layers.RNN``.

Each case: the output dtype is Keras's for the same mix, the outputs match a float32
twin (copied weights) within the policy's tolerance, and one training step runs with
finite loss and gradients reaching every weight.
"""

import keras
import numpy as np
import pytest

from gallery.layers import GRUCell, LSTMCell, Recurrent

B, T, D, H = 4, 5, 3, 6
TOLERANCE = {"float32": 1e-6, "mixed_float16": 1e-2, "mixed_bfloat16": 6e-2}
PAIRS = {"lstm": (LSTMCell, keras.layers.LSTMCell), "gru": (GRUCell, keras.layers.GRUCell)}
# (layer policy, cell policy, global policy); None: the default of the moment
MIXES = [("mixed_float16", None, None), ("float32", "mixed_float16", None),
         ("mixed_bfloat16", "mixed_bfloat16", None), ("mixed_bfloat16", "float32", None),
         (None, None, "mixed_float16"), (None, "float32", "mixed_bfloat16")]


@pytest.fixture
def global_policy():
    yield keras.config.set_dtype_policy
    keras.config.set_dtype_policy("float32")


def _model(rnn_class, cell_class, layer_dtype, cell_dtype, x_mask=True):
    kwargs = {} if cell_dtype is None else {"dtype": cell_dtype}
    layer_kwargs = {} if layer_dtype is None else {"dtype": layer_dtype}
    inputs = keras.Input((T, D))
    x = keras.layers.Masking(dtype="float32")(inputs) if x_mask else inputs
    layer = rnn_class(cell_class(H, **kwargs), return_sequences=True, **layer_kwargs)
    y = layer(x)
    return keras.Model(inputs, keras.layers.Dense(1, dtype="float32")(y)), layer


CASES = [("lstm", mix) for mix in MIXES] + [("gru", MIXES[1]), ("gru", MIXES[4])]
# Repeats of a default case on another setting: a float32 cell under a mixed_bfloat16
# policy (default tier: lstm-mixed_bfloat16-float32-None) and GRU under a global
# mixed_float16 (default tier: lstm-None-None-mixed_float16, gru-float32-mixed_float16-None).
SLOW = {("lstm", MIXES[5]), ("gru", MIXES[4])}


@pytest.mark.parametrize("kind,mix", [
    pytest.param(*case, marks=pytest.mark.slow if case in SLOW else ()) for case in CASES],
    ids=[f"{k}-" + "-".join(map(str, m)) for k, m in CASES])
def test_dtype_policy_mix(kind, mix, global_policy):
    layer_dtype, cell_dtype, global_dtype = mix
    ours_cell, keras_cell = PAIRS[kind]
    x = np.random.default_rng(0).normal(size=(B, T, D)).astype("float32")
    x[1, 3:] = 0.0  # padding, masked
    reference, _ = _model(Recurrent, ours_cell, "float32", "float32")
    if global_dtype:
        global_policy(global_dtype)
    ours, our_layer = _model(Recurrent, ours_cell, layer_dtype, cell_dtype)
    theirs, their_layer = _model(keras.layers.RNN, keras_cell, layer_dtype, cell_dtype)
    global_policy("float32")
    ours.set_weights(reference.get_weights())
    theirs.set_weights(reference.get_weights())

    assert our_layer.compute_dtype == their_layer.compute_dtype
    assert our_layer(x).dtype == their_layer(x).dtype
    policy = max((layer_dtype, cell_dtype, global_dtype), key=lambda p: TOLERANCE.get(p, 0))
    expected = reference.predict(x, verbose=0)
    for model in (ours, theirs):
        np.testing.assert_allclose(model.predict(x, verbose=0), expected,
                                   atol=TOLERANCE[policy], rtol=TOLERANCE[policy])

    ours.compile(optimizer="adam", loss="mse")
    before = [np.asarray(w, "float32") for w in ours.trainable_weights]
    loss = ours.train_on_batch(x, np.ones((B, T, 1), "float32"))
    assert np.isfinite(loss)
    after = [np.asarray(w, "float32") for w in ours.trainable_weights]
    assert all(np.isfinite(w).all() and not np.array_equal(w, v) for w, v in zip(after, before))
