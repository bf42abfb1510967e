"""``check_layer``: the checks every public layer passes, in the spirit of Keras's
``run_layer_test`` (keras/src/testing/test_case.py).

For a layer made by ``make(**kwargs)`` and a batch of inputs:

1. config round trip: ``from_config(get_config())`` gives the same config;
2. symbolic shapes (``keras.Input``) equal the eager ones (batch axis aside);
3. ``.keras`` round trip: a model holding the layer reloads with equal outputs;
4. masking (given ``mask``): the layer supports masking and NaN in the padded
   positions changes no output at a valid position;
5. one training step (``train=True``): finite loss, every trainable weight moves;
6. mixed precision (``mixed=True``): the layer under ``mixed_float16`` gives the
   float32 outputs within ``mixed_tolerance`` (copied weights).
"""

import copy

import keras
import numpy as np


def _call(layer, inputs, call, **kwargs):
    return call(layer, inputs, **kwargs) if call else layer(inputs, **kwargs)


def _symbolic(inputs):
    def spec(a):
        dtype = "string" if a.dtype.kind in "US" else str(a.dtype)
        return keras.Input(a.shape[1:], dtype=dtype)
    return keras.tree.map_structure(spec, inputs)


def _flat(result):
    return [np.asarray(t) for t in keras.tree.flatten(result)]


def _model(make, inputs, call, **kwargs):
    symbolic = _symbolic(inputs)
    layer = make(**kwargs)
    return keras.Model(symbolic, _call(layer, symbolic, call)), layer


def check_layer(make, inputs, tmp_path, *, call=None, mask=None, train=True, mixed=True,
                mixed_tolerance=2e-2):
    """Run the checks above; ``call(layer, inputs, **kwargs)`` when the layer is not
    simply ``layer(inputs)`` (several inputs, keyword arguments)."""
    layer = make()
    eager = _flat(_call(layer, inputs, call))

    config = layer.get_config()
    assert type(layer).from_config(copy.deepcopy(config)).get_config() == config

    model, built = _model(make, inputs, call)
    symbolic = [tuple(t.shape[1:]) for t in keras.tree.flatten(model.outputs)]
    assert len(symbolic) == len(eager)
    for s, a in zip(symbolic, eager):  # None: a length known only when the layer runs
        assert len(s) == a.ndim - 1 and all(d in (None, e) for d, e in zip(s, a.shape[1:])), \
            (symbolic, [a.shape for a in eager])
    path = tmp_path / "layer.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    for a, b in zip(_flat(model(inputs)), _flat(restored(inputs)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)

    if mask is not None:
        assert built.supports_masking
        noisy = np.array(inputs, copy=True)
        noisy[~mask] = np.nan
        clean = _flat(_call(built, inputs, call, mask=mask))
        dirty = _flat(_call(built, noisy, call, mask=mask))
        for a, b in zip(clean, dirty, strict=True):
            valid = a[mask] if a.shape[:2] == mask.shape else a
            np.testing.assert_allclose(valid, b[mask] if a.shape[:2] == mask.shape else b,
                                       rtol=1e-6, atol=1e-6)

    if train:
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        before = [np.asarray(w) for w in model.trainable_weights]
        targets = [np.ones_like(a) for a in _flat(model(inputs))]
        loss = model.train_on_batch(inputs, targets if len(targets) > 1 else targets[0])
        assert np.isfinite(loss)
        for w, v in zip(model.trainable_weights, before, strict=True):
            assert not np.array_equal(np.asarray(w), v), w.path

    if mixed:
        mixed_model, mixed_layer = _model(make, inputs, call, dtype="mixed_float16")
        assert mixed_layer.compute_dtype == "float16"
        mixed_model.set_weights(model.get_weights())
        for a, b in zip(_flat(mixed_model(inputs)), _flat(model(inputs)), strict=True):
            np.testing.assert_allclose(a.astype("float32"), b, rtol=mixed_tolerance,
                                       atol=mixed_tolerance)
