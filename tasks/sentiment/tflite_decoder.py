"""Sentiment's TFLite decoder: review text → ids ``(1, max_length)`` int64, as the
model's ``TextToIds`` makes them, → the ``classify`` part → probabilities ``(1, C)``
→ the label. NumPy only (``Task.tflite_decoder``, :mod:`gallery.export.tflite_runtime`).
"""

from gallery.export.tflite_decoding import as_text, text_to_ids, vocabulary_ids
from gallery.export.tflite_runtime import TFLiteDecoder


class SentimentDecoder(TFLiteDecoder):
    def __init__(self, model):
        super().__init__(model)
        self.ids = vocabulary_ids(self.info["vocabulary"])

    def predict_one(self, text):
        info = self.info
        ids = text_to_ids(as_text(text), self.ids, info["max_length"], info["tokens"])
        probabilities = self.model.run("classify", token_ids=ids)[0][0]
        best = int(probabilities.argmax())
        return {"label": info["labels"][best], "probability": float(probabilities[best]),
                "probabilities": probabilities.tolist()}
