"""Labelled text: reading users' CSV/TSV files, label vocabularies, seeded splits."""

import csv
import dataclasses
import itertools
import re

import numpy as np

from gallery.data.files import (
    DATA_LINES,
    READ_ERRORS,
    file_chunks,
    open_text,
    read_error,
    require_file,
    split_lines,
    text_lines,
    utf8_size,
    without_line_end,
)
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

    ``.tsv``: fields separated by tabs, no quoting (a ``"`` is text like any other).
    ``.csv``: RFC 4180 quoting; the delimiter (``,``, ``;``, tab or ``|``) is the one
    that splits the header into ``text`` and ``label``. Every row must have as many
    fields as the header (blank lines are skipped). Labels may be numbers or strings;
    they are kept as strings (``"0"``, ``"pos"``). Rows with an empty label are skipped
    (counted in the error if nothing is left). Raises ``GalleryError`` with one line,
    naming the file and line, for every problem a user can fix.
    """
    path = require_file(path)
    if path.suffix.lower() not in (".csv", ".tsv"):
        raise GalleryError(f"data file must be .csv or .tsv, got {path.name}")
    tsv = path.suffix.lower() == ".tsv"
    texts, labels, skipped = [], [], 0
    rows = tsv_rows(path) if tsv else csv_rows(path)
    _, header = next(rows, (1, []))
    columns = [c.strip().lower() for c in header]
    missing = [c for c in ("text", "label") if c not in columns]
    if missing:
        raise GalleryError(f"{path.name} needs a header with columns text and label; "
                           f"missing {', '.join(missing)} (found: {_shown(columns)})")
    text_at, label_at = columns.index("text"), columns.index("label")
    for number, row in rows:
        if not any(field.strip() for field in row):
            continue  # a blank line
        if len(row) != len(columns):
            hint = " (a tab inside a text?)" if tsv and len(row) > len(columns) else ""
            raise GalleryError(f"{path}:{number}: {len(row)} fields, but the header has "
                               f"{len(columns)}{hint}")
        label = row[label_at].strip()
        if not label:
            skipped += 1
            continue
        texts.append(row[text_at])
        labels.append(label)
    if not texts:
        raise GalleryError(f"{path.name} has no labelled rows ({skipped} rows without a label)")
    return LabelledText(texts, labels)


def _shown(columns, limit=8, width=40):
    """Header names for a message: at most ``limit`` of them, each cut at ``width``."""
    cut = [c if len(c) <= width else c[:width] + "..." for c in columns[:limit]]
    return ", ".join(cut + (["..."] if len(columns) > limit else [])) or "nothing"


def tsv_rows(path, limit=DATA_LINES):
    """``(line number, fields)`` of a tab-separated file: split at tabs, nothing else;
    a line longer than ``limit`` is refused (:func:`gallery.data.files.split_lines`)."""
    for number, line in enumerate(text_lines(path, limit=limit), 1):
        yield number, line.split("\t")


CSV_DELIMITERS = (",", ";", "\t", "|")


def csv_rows(path, columns=("text", "label"), limit=DATA_LINES):
    """``(line number, fields)`` of a CSV file, its delimiter the one of
    ``CSV_DELIMITERS`` that splits the header into names including ``columns``.

    A record (whose quoted fields may span lines) longer than ``limit`` is refused
    while it is read: the ``csv`` module would hold it whole."""
    start, size, delimiter = 1, 0, ","  # start: the line the current record starts at

    def bounded(lines):
        nonlocal size
        for line in lines:
            if size + utf8_size(without_line_end(line)) > limit.max_bytes:
                raise limit.refuse(path, start, "record")
            size += utf8_size(line)
            yield line
    try:
        with open_text(path) as handle:
            lines = _csv_lines(split_lines(file_chunks(handle), path, limit))
            first = next(lines, "")
            delimiter = next((d for d in CSV_DELIMITERS
                              if _names_columns(first, d, columns)), ",")
            reader = csv.reader(bounded(itertools.chain([first], lines)),
                                delimiter=delimiter, strict=True)
            for row in reader:
                yield start, row
                start, size = reader.line_num + 1, 0
    except csv.Error as error:
        raise GalleryError(f"{path}:{start}: not valid CSV ({delimiter!r}-separated): "
                           f"{error}") from None
    except READ_ERRORS as error:
        raise read_error(path, error) from None


_LONE_RETURN = re.compile(r"(?<=\r)(?!\n)")  # the place after a "\r" that ends a line


def _csv_lines(lines):
    """``lines`` (split at ``"\\n"``) split at lone ``"\\r"`` too, as the ``csv`` module
    reads a file opened with ``newline=""``: a classic Mac line end ends a record."""
    for line in lines:
        if "\r" in line:
            yield from filter(None, _LONE_RETURN.split(line))
        else:
            yield line


def _names_columns(line, delimiter, columns):
    try:
        names = {c.strip().lower() for c in next(csv.reader([line], delimiter=delimiter))}
    except (csv.Error, StopIteration):
        return False
    return {c.lower() for c in columns} <= names


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
