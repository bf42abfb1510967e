"""TFLiteEncoder gives the Keras encoder's numbers, for any batch size, on a small
model of the layers Lite0 is made of (converting Lite0 itself is a slow test in
test_efficientnet_lite.py)."""

import keras
import numpy as np
import pytest

from gallery.vision.tflite_encoder import TFLiteEncoder


@pytest.fixture(scope="module")
def small_encoder():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 128, offset=-127 / 128)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(epsilon=1e-3)(x)
    x = keras.layers.Activation("relu6")(x)
    x = keras.layers.DepthwiseConv2D(5, strides=2, padding="same", use_bias=False)(x)
    return keras.Model(inputs, x)


def test_same_numbers_for_any_batch(small_encoder):
    encoder = TFLiteEncoder(small_encoder)
    assert "DEPTHWISE_CONV_2D" in encoder.ops
    rng = np.random.default_rng(0)
    for batch in (3, 1, 3, 5):
        pixels = rng.uniform(0, 255, (batch, 16, 16, 3)).astype("float32")
        out = encoder(pixels)
        assert out.shape == (batch, 4, 4, 8)
        np.testing.assert_allclose(out, small_encoder(pixels), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"takes \(B, 16, 16, 3\) pixels"):
        encoder(np.zeros((1, 32, 32, 3), "float32"))
