"""Sentiment's TFLite decoder: review text → ids ``(1, max_length)`` int64, as the
model's ``TextToIds`` makes them (its facts in the side file's ``text``), → the
``classify`` part → probabilities ``(1, C)``
→ the label. NumPy only (``Task.tflite_decoder``, :mod:`gallery.export.tflite_runtime`).
"""

from gallery.export.tflite_decoding import TextDecoder, as_text


class SentimentDecoder(TextDecoder):
    def predict_one(self, text):
        info = self.info
        ids = self.text_ids(as_text(text))
        probabilities = self.model.run("classify", token_ids=ids)[0][0]
        best = int(probabilities.argmax())
        return {"label": info["labels"][best], "probability": float(probabilities[best]),
                "probabilities": probabilities.tolist()}
