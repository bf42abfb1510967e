"""Frame tagging's TFLite decoder: a stream of up to ``T`` frames ``(n, C)`` is
zero-padded to ``(1, T, C)`` float32 and given with its length ``(1,)`` int32 to the
``tag`` part (the model normalises and masks the padding itself) → per-frame
probabilities, cut to the stream's ``n`` frames, and their labels. NumPy only.
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
        padded = np.zeros((1, steps, *shape), np.float32)
        padded[0, :len(frames)] = frames
        out = self.model.run("tag", frames=padded, lengths=np.array([len(frames)], np.int32))
        probabilities = out[0][0, :len(frames)]
        labels = self.info["labels"]
        return {"labels": [labels[k] for k in probabilities.argmax(-1)],
                "probabilities": probabilities.tolist()}
