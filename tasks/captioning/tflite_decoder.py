"""Captioning's TFLite decoder: image bytes → pixels ``(1, H, W, 1)`` (Pillow, as
``gallery.images`` makes them) → the ``encoder`` part → the decoder's first states →
greedy decoding with the ``step`` part from ``start_id`` to ``end_id`` (what the
SavedModel gives with ``beam_width=1``). NumPy only.
"""

import numpy as np

from gallery.export.tflite_decoding import greedy, image_pixels
from gallery.export.tflite_runtime import TFLiteDecoder


class CaptioningDecoder(TFLiteDecoder):
    def predict_one(self, image):
        """The greedy caption of encoded image bytes or ``(H, W)`` pixels in ``[0, 1]``."""
        info = self.info
        if isinstance(image, np.ndarray):
            pixels = image
            if pixels.shape != (info["height"], info["width"]):
                raise ValueError(f"this model takes ({info['height']}, {info['width']}) "
                                 f"pixels, got {pixels.shape}")
        elif isinstance(image, (bytes, bytearray)):
            pixels = image_pixels(bytes(image), info["height"], info["width"])
        else:
            raise TypeError(f"each input of this model is an encoded image (bytes) or "
                            f"an array of pixels, got {type(image).__name__}")
        states = self.model.run("encoder", pixels=pixels.reshape(1, *pixels.shape[:2], 1))
        tokens, score = greedy(self.model, states, info["start_id"], info["max_target"],
                               end_id=info["end_id"])
        words = info["target_vocabulary"]
        return {"caption": " ".join(words[t] for t in tokens), "score": score}
