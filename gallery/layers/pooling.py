"""`MaskedPooling`: one vector per sequence from per-step outputs, padding excluded."""

import keras

from gallery import masking


@keras.saving.register_keras_serializable(package="gallery")
class MaskedPooling(keras.layers.Layer):
    """``(B, T, F)`` with its Keras mask ``(B, T)`` → ``(B, F)``.

    ``mode``: ``"max"`` (per-feature max over valid steps), ``"mean"`` (mean over
    valid steps) or ``"last"`` (the output at the last valid step). Padding never
    changes the result; a sequence with no valid step gives zeros.
    """

    MODES = ("max", "mean", "last")

    def __init__(self, mode="max", **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"`mode` must be one of {self.MODES}; received mode={mode!r}.")
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = keras.ops.ones(keras.ops.shape(inputs)[:2], dtype="bool")
        if self.mode == "max":
            return masking.masked_max(inputs, mask)
        if self.mode == "mean":
            return masking.masked_mean(inputs, mask)
        return masking.last_valid(inputs, mask)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
