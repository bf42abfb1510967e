"""Frame tagging: per-frame encoder → recurrent stack → one label per frame.

End-to-end model: ``(frames (B, T, C) raw floats, lengths (B,))`` →
``probabilities (B, T, K)``. ``FrameNormalizer`` (training statistics, non-finite
values → the channel mean, steps past ``lengths`` masked and zeroed) feeds the core:
a frame encoder (``Dense(frame_units, relu)`` per frame, or ``frame_encoder=conv``: a
1-D convolution over ``conv_width`` neighbouring frames; a causal model uses the
dense one) → dropout → gallery recurrent stack
(bidirectional by default; ``--set bidirectional=false`` for a causal model whose
label at t sees only frames ≤ t) → ``Dense(K, softmax)`` per frame.
"""

import keras

from gallery.layers.frames import FrameNormalizer, WithMask
from gallery.layers.stack import recurrent_encoder


def build_core(config, channels, classes):
    frames = keras.Input((None, channels), name="frames")
    mask = keras.Input((None,), dtype="bool", name="mask")
    if config.frame_encoder == "conv":  # each frame with its neighbours (padding is zero)
        x = keras.layers.Conv1D(config.frame_units, config.conv_width, padding="same",
                                activation="relu", name="frame_encoder")(frames)
    else:
        x = keras.layers.Dense(config.frame_units, activation="relu", name="frame_encoder")(
            frames)
    x = WithMask(name="with_mask")([x, mask])
    x = keras.layers.Dropout(config.dropout, seed=config.seed)(x)
    x = recurrent_encoder(x, cell=config.cell, units=config.units,
                          num_layers=config.num_layers, bidirectional=config.bidirectional,
                          dropout=config.dropout, name="recurrent", seed=config.seed)
    probabilities = keras.layers.Dense(classes, activation="softmax", name="classifier")(x)
    return keras.Model([frames, mask], probabilities, name="core")


def build_model(config, meta):
    channels, classes = meta["channels"], len(meta["labels"])
    frames = keras.Input((None, channels), name="frames")
    lengths = keras.Input((), dtype="int32", name="lengths")
    normalised, mask = FrameNormalizer(meta["mean"], meta["std"], name="normalizer")(
        frames, lengths)
    core = build_core(config, channels, classes)
    return keras.Model([frames, lengths], core([normalised, mask]), name="frame_tagger")
