"""Captioning's TFLite decoder: image bytes → pixels ``(1, H, W, 1)`` (Pillow, as
``gallery.images`` makes them; a photo model, whose side file has ``photo_size``:
RGB ``(1, size, size, 3)`` in 0..255) → the ``encoder`` part → the decoder's first
states → greedy decoding with the ``step`` part from ``start_id`` to ``end_id`` (what
the SavedModel gives with ``beam_width=1``). NumPy only.
"""

import numpy as np

from gallery.export.tflite_decoding import greedy, image_pixels, photo_pixels
from gallery.export.tflite_runtime import TFLiteDecoder


class CaptioningDecoder(TFLiteDecoder):
    def predict_one(self, image):
        """The greedy caption of encoded image bytes or ``(H, W)`` pixels in ``[0, 1]``."""
        info = self.info
        if "photo_size" in info:
            return self._photo(image)
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

    def _photo(self, image):
        info = self.info
        if not isinstance(image, (bytes, bytearray)):
            raise TypeError(f"each input of this model is an encoded image (bytes), "
                            f"got {type(image).__name__}")
        pixels = photo_pixels(bytes(image), info["photo_size"])
        states = self.model.run("encoder", pixels=pixels[None])
        tokens, score = greedy(self.model, states, info["start_id"], info["max_target"],
                               end_id=info["end_id"])
        words = info["target_vocabulary"]
        return {"caption": " ".join(words[t] for t in tokens), "score": score}
