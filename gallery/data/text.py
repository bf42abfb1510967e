"""Labelled text: reading users' CSV/TSV files, label vocabularies, seeded splits."""

import csv
import dataclasses
import pathlib

import numpy as np

from gallery.errors import GalleryError

csv.field_size_limit(1 << 26)  # long reviews are fine; a 64 MB cell is not text


@dataclasses.dataclass
class LabelledText:
    """Parallel lists: ``texts[i]`` has label ``labels[i]`` (a string)."""

    texts: list
    labels: list

    def __len__(self):
        return len(self.texts)

    def subset(self, index):
        return LabelledText([self.texts[i] for i in index], [self.labels[i] for i in index])


def read_labelled_file(path):
    """Read a ``.csv`` or ``.tsv`` file with a header naming ``text`` and ``label`` columns.

    Labels may be numbers or strings; they are kept as strings (``"0"``, ``"pos"``).
    Rows with an empty label are skipped (counted in the error if nothing is left).
    Raises ``GalleryError`` with one line for every problem a user can fix.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise GalleryError(f"data file not found: {path}")
    if path.suffix.lower() not in (".csv", ".tsv"):
        raise GalleryError(f"data file must be .csv or .tsv, got {path.name}")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    texts, labels, skipped = [], [], 0
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            columns = [c.strip().lower() for c in (reader.fieldnames or [])]
            missing = [c for c in ("text", "label") if c not in columns]
            if missing:
                raise GalleryError(
                    f"{path.name} needs a header with columns text and label; "
                    f"missing {', '.join(missing)} (found: {', '.join(columns) or 'nothing'})")
            reader.fieldnames = columns
            for row in reader:
                label = (row.get("label") or "").strip()
                if not label:
                    skipped += 1
                    continue
                texts.append(row.get("text") or "")
                labels.append(label)
    except csv.Error as error:
        raise GalleryError(f"{path.name} is not valid {delimiter!r}-separated text: {error}") \
            from None
    if not texts:
        raise GalleryError(f"{path.name} has no labelled rows ({skipped} rows without a label)")
    return LabelledText(texts, labels)


def split_three_ways(data, fractions=(0.8, 0.1, 0.1), seed=20240917):
    """Seeded train/validation/test split, the same on every machine."""
    order = np.random.RandomState(seed).permutation(len(data))
    n_train = int(round(fractions[0] * len(data)))
    n_val = int(round(fractions[1] * len(data)))
    return (data.subset(order[:n_train]), data.subset(order[n_train:n_train + n_val]),
            data.subset(order[n_train + n_val:]))


def label_vocabulary(labels):
    """Sorted distinct labels; numbers sort numerically (``"0" < "1" < "10"``)."""
    distinct = set(labels)

    def key(label):
        try:
            return (0, float(label), label)
        except ValueError:
            return (1, 0.0, label)
    return sorted(distinct, key=key)
