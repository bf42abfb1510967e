"""Sentiment's TFLite decoder: review text → ids ``(1, T)`` int64 (``T`` the review's
own tokens, at most ``max_length``), as the model's ``TextToIds`` makes them (its facts
in the side file's ``text``), → the ``classify`` part, whose loop runs ``T`` steps →
probabilities ``(1, C)`` → the label. NumPy only (``Task.tflite_decoder``,
:mod:`gallery.export.tflite_runtime`).
"""

from gallery.export.tflite_decoding import TextDecoder, as_text


class SentimentDecoder(TextDecoder):
    def predict_one(self, text):
        info = self.info
        ids = self.ids_for("classify", "token_ids", as_text(text))
        probabilities = self.model.run("classify", token_ids=ids)[0][0]
        best = int(probabilities.argmax())
        return {"label": info["labels"][best], "probability": float(probabilities[best]),
                "probabilities": probabilities.tolist()}
