"""The character model's TFLite decoder: the ``step`` part (one character id ``(1,)``
and the states of every layer → next-character logits and new states) reads the
prime one character at a time, then each arg-max character is fed back: greedy,
what the SavedModel's ``generate`` gives with temperature 0. NumPy only.
"""

import numpy as np

from gallery.export.tflite_decoding import as_text, greedy, step
from gallery.export.tflite_runtime import TFLiteDecoder

from .characters import CharacterIds


class CharLMDecoder(TFLiteDecoder):
    def __init__(self, model):
        super().__init__(model)
        self.ids = CharacterIds(self.info["vocabulary"])
        self.chars = self.ids.id_to_char()

    def predict_one(self, prime):
        return self.generate(prime)

    def generate(self, prime, length=None):
        """Continue ``prime`` greedily for ``length`` characters (default: the run's
        ``sample_length``); an empty prime reads ``"\\n"``."""
        tokens = [self.ids.id_of(c) for c in (as_text(prime) or "\n")]
        states = [np.zeros((1, size), np.float32) for size in self.info["state_sizes"]]
        for token in tokens[:-1]:  # read the prime; its last character starts decoding
            _, *states = step(self.model, token, states)
        length = self.info["sample_length"] if length is None else length
        generated, _ = greedy(self.model, states, tokens[-1], length)
        return {"prime": prime, "text": "".join(self.chars[t] for t in generated)}
