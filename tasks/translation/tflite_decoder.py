"""Translation's TFLite decoder: source text → ids ``(1, S)`` (its own tokens, at most
``max_length``) as the model's ``TextToIds`` makes them (its facts in the side file's
``text``) → the ``encoder`` part → the decoder's first states (with the attention keys
and source mask) → greedy decoding with the ``step`` part from ``start_id`` to
``end_id`` (what the SavedModel gives with ``beam_width=1``), the tokens joined back as
the target's token mode joins them (the target ``TextToIds``'s table,
``target_id_to_token``). NumPy only.
"""

from gallery.export.tflite_decoding import TextDecoder, as_text, greedy, join_tokens


class TranslationDecoder(TextDecoder):
    def predict_one(self, text):
        info = self.info
        ids = self.ids_for("encoder", "source_ids", as_text(text))
        if not ids.any():  # no token at all: nothing to translate
            return {"translation": "", "score": float("-inf")}
        states = self.model.run("encoder", source_ids=ids)
        tokens, score = greedy(self.model, states, info["start_id"], info["max_target"],
                               end_id=info["end_id"])
        words = info["target_id_to_token"]  # the target TextToIds's, marks blank
        return {"translation": join_tokens([words[t] for t in tokens], info["target_tokens"]),
                "score": score}
