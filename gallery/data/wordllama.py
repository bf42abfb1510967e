"""WordLlama word vectors, offline, from the ``wordllama`` wheel on PyPI.

The wheel ships ``weights/l2_supercat_256.safetensors``: one 256-d vector per token of
the Llama-2 tokenizer (32,000 SentencePiece pieces; ``tokenizers/
l2_supercat_tokenizer_config.json`` holds them), trained so that the mean of a text's
token vectors embeds the text (Miller, 2024). We read the two files only (the package
is never imported, its dependencies are not needed):

* a word is split into pieces by greedy longest match, the first piece carrying
  SentencePiece's word-start mark ``▁`` (``"unwatchable" → ▁un watch able``);
  its vector is the mean of the pieces' vectors, divided by the table's mean row norm
  (about 13.8) so it is on the scale of the MiniLM vectors (about 1);
* a word that cannot be split (a character the vocabulary lacks) gets zeros and
  ``found=False``.
"""

import functools
import json

import numpy as np

from gallery.data.embedded import package_file
from gallery.data.word_vectors import read_safetensors_tensor

PACKAGE = "wordllama"
HINT = "pip install --no-deps wordllama==0.4.0.post1 (make does this)"
DIM = 256
WORD_START = "\u2581"


@functools.lru_cache(maxsize=1)
def wordllama_pieces():
    """``(vectors (32000, 256) scaled to mean row norm 1, {piece: row})``."""
    weights = package_file(PACKAGE, "weights/l2_supercat_256.safetensors", HINT)
    config = package_file(PACKAGE, "tokenizers/l2_supercat_tokenizer_config.json", HINT)
    vocabulary = json.loads(config.read_text(encoding="utf-8"))["model"]["vocab"]
    table = read_safetensors_tensor(weights, "embedding.weight")
    return table / np.linalg.norm(table, axis=1).mean(), vocabulary


def pieces_of(word, vocabulary, max_chars=100):
    """Greedy longest-match split of ``▁word`` into vocabulary pieces, or ``None``."""
    if not word or len(word) > max_chars:
        return None
    text, pieces, start = WORD_START + word, [], 0
    while start < len(text):
        end = len(text)
        while end > start and text[start:end] not in vocabulary:
            end -= 1
        if end == start:
            return None
        pieces.append(text[start:end])
        start = end
    return pieces


def wordllama_vectors(words):
    """``(len(words), 256)`` vectors and a boolean ``found`` per word."""
    table, vocabulary = wordllama_pieces()
    matrix = np.zeros((len(words), DIM), "float32")
    found = np.zeros(len(words), bool)
    for row, word in enumerate(words):
        pieces = pieces_of(word, vocabulary)
        if pieces:
            matrix[row] = table[[vocabulary[p] for p in pieces]].mean(axis=0)
            found[row] = True
    return matrix, found
