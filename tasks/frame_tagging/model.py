"""Frame tagging: per-frame encoder → recurrent stack → one label per frame.

End-to-end model: ``(frames (B, T, C) raw floats, lengths (B,))`` →
``probabilities (B, T, K)``; for video, frames are images ``(B, T, H, W, C)``.
``FrameNormalizer`` (training statistics, non-finite values → the channel mean,
steps past ``lengths`` masked and zeroed) feeds the core: a frame encoder
(``Dense(frame_units, relu)`` per frame; ``frame_encoder=conv``: a 1-D convolution
over ``conv_width`` neighbouring frames, so a causal model uses the dense one;
``frame_encoder=cnn`` for video: a small 2-D CNN applied to each image alone with
``PerFrame``: three blocks of 3×3 convolution (``filters`` channels, doubled in each
block) and 2×2 max-pooling, 48×48 → 6×6, the maximum over the 6×6 places (what the
digit is matters, not where),
``Dense(frame_units)``) → dropout →
gallery recurrent stack (bidirectional by default; ``--set bidirectional=false``
for a causal model whose label at t sees only frames ≤ t) → ``Dense(K, softmax)`` per frame.

With ``ensemble = E > 1`` the core holds ``E`` such branches (frame encoder, recurrent
stack, classifier; layer names end in the branch number), each with its own
initialisation and its own loss; the core returns their probabilities stacked
``(B, T, E, K)`` and the end-to-end model averages them (``"branch_mean"``).
"""

import keras

from gallery.errors import GalleryError
from gallery.layers.ensemble import BranchMean, StackBranches
from gallery.layers.frames import FrameNormalizer, PerFrame, WithMask
from gallery.layers.stack import recurrent_encoder


def image_encoder(frame_shape, units, filters=32, batch_norm=False):
    """One image ``(H, W, C)`` → features ``(units,)``; wrapped in ``PerFrame``. The three
    convolutions have ``filters``, ``2·filters`` and ``4·filters`` channels; with
    ``batch_norm`` each is batch-normalised before its ReLU (statistics over the valid
    frames only: ``PerFrame`` with a mask never shows it padding)."""
    layers = [keras.Input(tuple(frame_shape))]
    for block in range(3):  # 48×48 → 24 → 12 → 6
        width = filters * 2 ** block
        if batch_norm:
            layers += [keras.layers.Conv2D(width, 3, padding="same", use_bias=False),
                       keras.layers.BatchNormalization(), keras.layers.ReLU()]
        else:
            layers += [keras.layers.Conv2D(width, 3, padding="same", activation="relu")]
        layers += [keras.layers.MaxPooling2D()]
    layers += [keras.layers.GlobalMaxPooling2D(), keras.layers.Dense(units, activation="relu")]
    return keras.Sequential(layers, name="image_encoder")


def check_encoder(config, frame_shape):
    images = len(frame_shape) == 3
    if images != (config.frame_encoder == "cnn"):
        raise GalleryError(
            f"frames of shape {list(frame_shape)} need --set frame_encoder="
            + ("cnn" if images else "conv or dense") + f", not {config.frame_encoder!r}")


def tag_frames(frames, mask, config, frame_shape, classes, branch=""):
    """One branch: frames ``(B, T, *frame_shape)`` → probabilities ``(B, T, K)``; its
    layer names end in ``branch`` (``""`` for a single model)."""
    seed = config.seed + 1000 * (int(branch) if branch else 0)
    if config.frame_encoder == "cnn":  # each image alone
        x = PerFrame(image_encoder(frame_shape, config.frame_units, config.filters,
                                   config.batch_norm),
                     name=f"frame_encoder{branch}")(frames, mask=mask)
    elif config.frame_encoder == "conv":  # each frame with its neighbours (padding is zero)
        x = keras.layers.Conv1D(config.frame_units, config.conv_width, padding="same",
                                activation="relu", name=f"frame_encoder{branch}")(frames)
    else:
        x = keras.layers.Dense(config.frame_units, activation="relu",
                               name=f"frame_encoder{branch}")(frames)
    x = WithMask(name=f"with_mask{branch}")([x, mask])
    x = keras.layers.Dropout(config.dropout, seed=seed)(x)
    x = recurrent_encoder(x, cell=config.cell, units=config.units,
                          num_layers=config.num_layers, bidirectional=config.bidirectional,
                          dropout=config.dropout, name=f"recurrent{branch}", seed=seed,
                          recurrent_dropout=config.recurrent_dropout)
    return keras.layers.Dense(classes, activation="softmax", name=f"classifier{branch}")(x)


def build_core(config, frame_shape, classes):
    """``[frames, mask]`` → ``(B, T, K)``, or ``(B, T, E, K)`` for an ensemble."""
    check_encoder(config, frame_shape)
    frames = keras.Input((None, *frame_shape), name="frames")
    mask = keras.Input((None,), dtype="bool", name="mask")
    if config.ensemble == 1:
        return keras.Model([frames, mask], tag_frames(frames, mask, config, frame_shape, classes),
                           name="core")
    branches = [tag_frames(frames, mask, config, frame_shape, classes, str(k))
                for k in range(config.ensemble)]
    return keras.Model([frames, mask], StackBranches(name="branches")(branches), name="core")


def frame_shape(meta):
    """The shape of one frame: ``(C,)`` for sensor streams, ``(H, W, C)`` for video."""
    return tuple(meta.get("frame_shape") or [meta["channels"]])


def build_model(config, meta):
    shape, classes = frame_shape(meta), len(meta["labels"])
    frames = keras.Input((None, *shape), name="frames")
    lengths = keras.Input((), dtype="int32", name="lengths")
    normalised, mask = FrameNormalizer(meta["mean"], meta["std"], name="normalizer")(
        frames, lengths)
    probabilities = build_core(config, shape, classes)([normalised, mask])
    if config.ensemble > 1:
        probabilities = BranchMean(name="branch_mean")(probabilities)
    return keras.Model([frames, lengths], probabilities, name="frame_tagger")


def one_stream_tagger(model, shape):
    """The end-to-end model on one stream ``(1, T, *shape)`` of any length ``T`` (and
    its length ``(1,)``): a batch of one, so its loop converts to TFLite's ``WHILE`` and
    runs the stream's own ``T`` steps."""
    frames = keras.Input((None, *shape), batch_size=1, name="frames")
    lengths = keras.Input((), batch_size=1, dtype="int32", name="lengths")
    return keras.Model([frames, lengths], model([frames, lengths]), name="tagger_one_stream")
