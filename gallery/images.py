"""Turning encoded image bytes into model inputs inside the graph, without failing.

``decode_image_batch`` decodes a batch of PNG/JPEG/GIF/BMP bytes (an animated GIF:
its first frame) to grayscale
``(B, H, W, 1)`` float32 in ``[0, 1]`` (aspect ratio kept, padded; inverted when the
background is bright, so dark ink on white paper looks like the training images).
A corrupt, truncated, empty or non-image entry does not fail the call: it becomes a
blank image with ``ok = False``. (``tf.io.decode_image`` raises on bad data, and
graph code cannot catch that; a ``tf.data`` pipeline with ``ignore_errors`` can.)

``read_grayscale`` reads a user's image file with Pillow, refusing in one line what
is not an image, is truncated, or has more pixels than Pillow's decompression-bomb
limit (``PIL.Image.MAX_IMAGE_PIXELS``, 89.5 M): such a file may be a few hundred
bytes that would decode to gigabytes.
"""

import warnings

import numpy as np
import tensorflow as tf

from gallery.data.files import require_file
from gallery.errors import GalleryError


def check_image_size(path):
    """``GalleryError`` if the image file at ``path`` declares more pixels than Pillow's
    decompression-bomb limit (reads the header only; a non-image passes)."""
    from PIL import Image

    path = require_file(path, "image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path):
                pass
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(path) from None
    except Exception:  # not an image, or a corrupt one: the model says so (ok = False)
        pass
    return path


def _too_large(path):
    from PIL import Image

    return GalleryError(f"{path} has more than {Image.MAX_IMAGE_PIXELS:,} pixels (Pillow's "
                        "limit against decompression bombs); scale it down first")


def read_grayscale(path):
    """A user's image file → ``(h, w, 1)`` float32 in ``[0, 1]`` (its first frame), or
    a one-line ``GalleryError``."""
    from PIL import Image

    path = require_file(path, "image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as picture:
                return np.asarray(picture.convert("L"), np.float32)[..., None] / 255.0
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(path) from None
    except MemoryError:
        raise GalleryError(f"{path} is too large to decode in memory") from None
    except Exception as error:  # Pillow raises many kinds for corrupt or foreign data
        reason = str(error).splitlines()[0] if str(error).strip() else type(error).__name__
        raise GalleryError(f"{path.name} is not a readable image ({reason})") from None


def _decode_one(data, height, width):
    # RGB first, then grayscale: TensorFlow's GIF decoder refuses channels=1 (an
    # animated GIF gives its first frame); alpha is dropped
    image = tf.io.decode_image(data, channels=3, expand_animations=False, dtype=tf.float32)
    image = tf.image.rgb_to_grayscale(image)
    image = tf.cond(tf.reduce_mean(image) > 0.5, lambda: 1.0 - image, lambda: image)
    return tf.image.resize_with_pad(image, height, width)


def _decode_batch(images, decode_one, shape):
    """``images (B,)`` tf.string → ``(decode_one(each) stacked (B, *shape), ok (B,))``;
    what fails to decode is zeros with ``ok`` False.

    The images that decode, with their indices, plus one blank sentinel (index ``B``,
    so the batch is never empty) form exactly one batch, read with
    ``get_single_element`` and scattered into place. (``Dataset.reduce`` gave the same
    in 50 ms a call, each call instantiating its reduce function; this takes under
    1 ms: ``benchmarks/inference.py``'s captioning rows.)"""
    images = tf.reshape(images, [-1])
    count = tf.shape(images)[0]
    sentinel = tf.data.Dataset.from_tensors((count, tf.zeros(shape, tf.float32)))
    decoded = (tf.data.Dataset.from_tensor_slices((tf.range(count), images))
               .map(lambda i, data: (i, decode_one(data)))
               .ignore_errors()
               .concatenate(sentinel)
               .batch(tf.cast(count + 1, tf.int64)))
    index, batch = decoded.get_single_element()
    index, batch = index[:-1, None], batch[:-1]  # without the sentinel
    return (tf.scatter_nd(index, batch, [count, *shape]),
            tf.scatter_nd(index, tf.ones_like(index[:, 0], tf.bool), [count]))


def decode_image_batch(images, height, width):
    """``images (B,)`` tf.string → ``(pixels (B, height, width, 1), ok (B,) bool)``."""
    return _decode_batch(images, lambda data: _decode_one(data, height, width),
                         [height, width, 1])


# -- colour photos (a pretrained encoder's input) ---------------------------------------
def _decode_photo(data, size):
    image = tf.io.decode_image(data, channels=3, expand_animations=False, dtype=tf.uint8)
    return tf.image.resize(tf.cast(image, tf.float32), [size, size], antialias=True)


def decode_photo_batch(images, size):
    """``images (B,)`` tf.string → ``(pixels (B, size, size, 3) float32 RGB in 0..255,
    ok (B,) bool)``: each image resized to ``size × size`` (aspect not kept, as the
    encoder saw its training photos); an entry that does not decode is black, ``ok``
    False. The one preprocessing of photos, for training features and serving alike."""
    return _decode_batch(images, lambda data: _decode_photo(data, size), [size, size, 3])


def read_photos(paths, size):
    """Image files → pixels ``(N, size, size, 3)`` (:func:`decode_photo_batch`), or a
    one-line ``GalleryError`` naming a file that does not decode."""
    pixels, ok = decode_photo_batch(tf.constant([require_file(p, "image file").read_bytes()
                                                 for p in paths]), size)
    bad = [str(p) for p, good in zip(paths, ok.numpy()) if not good]
    if bad:
        raise GalleryError(f"{bad[0]} is not a readable image (it does not decode)")
    return pixels
