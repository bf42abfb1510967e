"""``majority``'s TFLite decoder: an a/b string → character ids ``(1, max_length)``
(the model's ``TextToIds``, ``tokens="chars"``) → the ``classify`` model → the more
likely letter. NumPy only, on the gallery's public runtime interface."""

from gallery.export.tflite_decoding import TextIds, as_text
from gallery.export.tflite_runtime import TFLiteDecoder


class MajorityDecoder(TFLiteDecoder):
    def predict_one(self, text):
        text = as_text(text)
        ids = TextIds(**self.info["text"])(text)
        probabilities = self.model.run("classify", ids=ids)[0][0]
        best = int(probabilities.argmax())
        return {"text": text, "label": self.info["labels"][best],
                "probability": float(probabilities[best])}
