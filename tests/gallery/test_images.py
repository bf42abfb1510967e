"""``gallery.images``: batches of encoded images decoded inside a graph, an entry that
does not decode marked and left black; the same with and without AutoGraph."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gallery.images import decode_image_batch, decode_photo_batch


def encoded(pixels, kind):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, kind)
    return buffer.getvalue()


@pytest.mark.parametrize("autograph", [True, False])
def test_a_batch_decodes_in_a_graph_with_bad_entries_marked(autograph):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    images = tf.constant([encoded(photo, "PNG"), b"not an image", b"",
                          encoded(photo, "JPEG")])
    photos = tf.function(lambda x: decode_photo_batch(x, 16), autograph=autograph)
    pixels, ok = photos(images)
    assert pixels.shape == (4, 16, 16, 3) and ok.numpy().tolist() == [True, False, False, True]
    assert not np.any(pixels.numpy()[1:3])  # what did not decode is black
    expected = tf.image.resize(tf.cast(photo, tf.float32), [16, 16], antialias=True)
    np.testing.assert_allclose(pixels[0], expected, atol=1e-3)

    digits = tf.function(lambda x: decode_image_batch(x, 8, 12), autograph=autograph)
    pixels, ok = digits(images)
    assert pixels.shape == (4, 8, 12, 1) and ok.numpy().tolist() == [True, False, False, True]
    pixels, ok = digits(tf.constant([], tf.string))  # an empty batch is an empty answer
    assert pixels.shape == (0, 8, 12, 1) and ok.shape == (0,)


def test_a_batch_where_nothing_decodes_is_all_black_and_marked():
    photo = np.random.default_rng(1).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    truncated = encoded(photo, "PNG")[:40]
    pixels, ok = tf.function(lambda x: decode_photo_batch(x, 8))(
        tf.constant([truncated, b"GIF89a", b"\x89PNG\r\n"]))
    assert pixels.shape == (3, 8, 8, 3) and not ok.numpy().any()
    assert not np.any(pixels.numpy())
    pixels, ok = decode_image_batch(tf.constant(encoded(photo, "PNG")), 8, 8)  # a scalar
    assert pixels.shape == (1, 8, 8, 1) and ok.numpy().tolist() == [True]
