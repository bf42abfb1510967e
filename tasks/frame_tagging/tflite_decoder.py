"""Frame tagging's TFLite decoder: a stream of up to ``T`` frames ``(n, C)`` is given
as ``(1, n, C)`` float32 with its length ``(1,)`` int32 to the ``tag`` part, whose loop
runs ``n`` steps (an export with a fixed time axis takes it zero-padded to ``T``; the
model masks the padding itself) → per-frame probabilities, cut to the stream's ``n``
frames, and their labels. NumPy only.
"""

import numpy as np

from gallery.export.tflite_runtime import TFLiteDecoder

from .tflite_stream import StreamDecoding


class FrameTaggingDecoder(StreamDecoding, TFLiteDecoder):
    def predict_one(self, frames):
        frames = np.asarray(frames, np.float32)
        steps, shape = self.info["frames"], tuple(self.info["frame_shape"])
        if frames.ndim != 1 + len(shape) or frames.shape[1:] != shape:
            raise ValueError(f"this model takes a stream of frames of shape (T, "
                             f"{', '.join(map(str, shape))}), got {frames.shape}")
        if len(frames) > steps:
            raise ValueError(f"this model takes streams of up to {steps} frames, "
                             f"got {len(frames)}")
        any_length = self.model.inputs["tag"]["frames"]["shape_signature"][1] == -1
        # an empty stream is one masked frame (its length 0)
        padded = np.zeros((1, max(len(frames), 1) if any_length else steps, *shape),
                          np.float32)
        padded[0, :len(frames)] = frames
        out = self.model.run("tag", frames=padded, lengths=np.array([len(frames)], np.int32))
        probabilities = out[0][0, :len(frames)]
        labels = self.info["labels"]
        return {"labels": [labels[k] for k in probabilities.argmax(-1)],
                "probabilities": probabilities.tolist()}
