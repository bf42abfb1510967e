"""A frozen image encoder run by the TFLite interpreter, for extracting features fast.

On a CPU, TFLite's XNNPACK kernels run EfficientNet-Lite0 about three times as fast
as TensorFlow runs the same Keras model (``benchmarks/image_encoder_speed.py`` prints
both, on batches of 32; depthwise convolutions are TensorFlow's slow spot, and XLA is
slower still), with the same numbers to about 1e-4. Converting costs once what
extracting a few hundred images costs, so this pays for a data set, not for a
handful of images. It serves only a frozen encoder: the converted copy does not see
later changes to the Keras weights.
"""

import numpy as np

from gallery.export.tflite import convert
from gallery.export.tflite_runtime import interpreter


class TFLiteEncoder:
    """``encoder(pixels)`` runs the Keras ``model`` (fixed input shape apart from the
    batch, e.g. ``(None, 224, 224, 3)``) converted to TFLite with built-in ops only.

    Args:
        model: a Keras model with one input and one output.
        num_threads: the interpreter's threads (``None``: its default).
    """

    def __init__(self, model, num_threads=None):
        self.tflite_bytes, self.ops = convert(model)
        self._interpreter = interpreter(self.tflite_bytes, "the encoder", num_threads)
        (self._input,), (self._output,) = (self._interpreter.get_input_details(),
                                           self._interpreter.get_output_details())
        self._batch = int(self._input["shape"][0])

    def __call__(self, pixels):
        """``pixels`` ``(B, *input shape)`` → the model's output ``(B, ...)`` as NumPy;
        the interpreter is resized when ``B`` changes."""
        pixels = np.asarray(pixels, dtype=self._input["dtype"])
        shape = tuple(int(d) for d in self._input["shape"][1:])
        if pixels.shape[1:] != shape:
            raise ValueError(f"the encoder takes (B, {', '.join(map(str, shape))}) pixels, "
                             f"not {pixels.shape}")
        if pixels.shape[0] != self._batch:
            self._interpreter.resize_tensor_input(self._input["index"], pixels.shape)
            self._interpreter.allocate_tensors()
            self._batch = pixels.shape[0]
        self._interpreter.set_tensor(self._input["index"], pixels)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"]).copy()
