"""The character model's id layout, owned here and asked by the model, the training
batches, the SavedModel's text ⇄ ids, the TFLite decoder and the explorer::

    id 0        a character outside the vocabulary (shown as U+FFFD)
    id i + 1    vocabulary[i]

so a model over ``V`` characters has ``V + 1`` ids (:func:`id_count`). Plain Python
and NumPy: the TFLite decoder imports it without TensorFlow.
"""

import numpy as np

#: The id of a character outside the vocabulary.
UNKNOWN_ID = 0
#: How that id is shown when ids become text again.
UNKNOWN_SHOWN = "\ufffd"


def id_count(vocabulary_size):
    """The number of ids (embedding rows, logits) for ``vocabulary_size`` characters."""
    return vocabulary_size + 1


class CharacterIds:
    """Characters ⇄ ids for ``vocabulary`` (a sequence of distinct characters)."""

    def __init__(self, vocabulary):
        self.vocabulary = list(vocabulary)
        self._index = {char: UNKNOWN_ID + 1 + i for i, char in enumerate(self.vocabulary)}

    def id_of(self, char):
        """The id of ``char``; :data:`UNKNOWN_ID` outside the vocabulary."""
        return self._index.get(char, UNKNOWN_ID)

    def ids_of_vocabulary(self):
        """The ids of ``vocabulary``, in its order."""
        return [self._index[char] for char in self.vocabulary]

    def encode(self, text):
        """``text`` → ids ``(len(text),)`` int32."""
        return np.fromiter((self.id_of(c) for c in text), np.int32, len(text))

    def id_to_char(self):
        """The table id → character (``[UNKNOWN_SHOWN, *vocabulary]``)."""
        return [UNKNOWN_SHOWN, *self.vocabulary]
