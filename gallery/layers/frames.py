"""Layers for streams of frames: raw sensor frames in, normalised frames and a mask out."""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="gallery")
class FrameNormalizer(keras.layers.Layer):
    """``(frames (B, T, ..., C) float, lengths (B,) int)`` → ``(normalised, mask (B, T))``.

    Frames are sensor readings ``(B, T, C)`` or images ``(B, T, H, W, C)``.
    ``(x − mean) / std`` per channel (the last axis) with the training statistics
    (fixed, saved in the config). Values that are NaN or ±inf become 0 after
    normalising, i.e. the channel mean: a defined answer for a broken sensor
    reading. ``lengths`` are clipped to ``[0, T]``; steps at or beyond a stream's
    length are masked and zeroed.
    """

    def __init__(self, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]

    def call(self, frames, lengths):
        frames = ops.cast(frames, "float32")
        x = (frames - ops.array(self.mean)) / ops.array(self.std)
        x = ops.where(ops.isfinite(x), x, ops.zeros_like(x))
        steps = ops.shape(frames)[1]
        lengths = ops.clip(ops.cast(lengths, "int32"), 0, steps)
        mask = ops.arange(steps)[None, :] < lengths[:, None]
        keep = ops.cast(mask, x.dtype)
        for _ in range(len(frames.shape) - 2):  # (B, T) → (B, T, 1, ...) like the frames
            keep = ops.expand_dims(keep, -1)
        return x * keep, mask

    def compute_output_spec(self, frames, lengths):
        return (keras.KerasTensor(frames.shape, "float32"),
                keras.KerasTensor(frames.shape[:2], "bool"))

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std}


@keras.saving.register_keras_serializable(package="gallery")
class WithMask(keras.layers.Layer):
    """``[x (B, T, D), mask (B, T) bool]`` → ``x`` carrying ``mask`` as its Keras mask."""

    def call(self, inputs):
        return inputs[0]

    def compute_mask(self, inputs, mask=None):
        return ops.cast(inputs[1], "bool")

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs[0].shape, inputs[0].dtype)


@keras.saving.register_keras_serializable(package="gallery")
class PerFrame(keras.layers.Wrapper):
    """Apply ``layer`` to every frame: ``(B, T, *frame)`` → ``(B, T, *out)``.

    The frames of all streams go through ``layer`` as one batch of ``B·T`` (a reshape,
    no loop), e.g. a CNN over video images. With ``mask (B, T)``, only the valid
    frames go through it (gathered, then scattered back into zeros): padding costs no
    compute and never reaches statistics such as batch normalisation's. Used instead
    of ``keras.layers.TimeDistributed``, which in Keras 3.15 maps over the batch size
    instead of the time steps when ``T`` is unknown in a traced graph (wrong shapes
    as soon as ``B != T``).
    """

    def build(self, input_shape):
        if not self.layer.built:  # loading a .keras file builds the inner layer first
            self.layer.build((None, *input_shape[2:]))
        self.built = True

    def call(self, inputs, mask=None, training=None):
        if mask is None:
            shape = ops.shape(inputs)
            out = self.layer(ops.reshape(inputs, (-1, *inputs.shape[2:])), training=training)
            return ops.reshape(out, (shape[0], shape[1], *out.shape[1:]))
        where = tf.where(ops.cast(mask, "bool"))  # (N, 2) indices of the valid frames
        out = self.layer(tf.gather_nd(inputs, where), training=training)
        size = tf.concat([tf.shape(inputs, out_type="int64")[:2],
                          tf.shape(out, out_type="int64")[1:]], axis=0)
        full = tf.scatter_nd(where, out, size)
        full.set_shape([None, None, *out.shape[1:]])
        return full

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None, *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])
