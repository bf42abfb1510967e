"""Activity streams stitched from real BasicMotions recordings (embedded default).

BasicMotions (the ``aeon`` wheel, ``datasets/data/BasicMotions/*.ts``, read as text,
never imported): a smart watch's 3-D accelerometer and 3-D gyroscope at 10 Hz, 40
training and 40 test recordings of 100 steps, four activities (standing, walking,
running, badminton). A *stream* joins random crops (``min_crop``–``max_crop`` steps)
of recordings of changing activity until it is ``min_length``–``max_length`` long;
every step is labelled with the activity it came from. Training and validation
streams use disjoint training recordings (32 / 8); test streams use only the test
recordings. Built deterministically from the seed.

Also ``--data video`` (moving digits, ``video.py``), ``--data actrectut:PATH`` (the
ActRecTut gesture stream, ``actrectut.py``), ``--data tfds:NAME`` (TFDS video data,
``tfds_video.py``) and ``--data DIR`` with labelled ``*.csv`` streams (see README).
"""

import csv
import re

import numpy as np

from gallery.data.embedded import package_file
from gallery.data.files import require_file, require_folder, text_lines
from gallery.data.sources import parse_source
from gallery.errors import GalleryError
from gallery.task import Splits

from .actrectut import load_actrectut
from .streams import Streams
from .tfds_video import load_tfds_video
from .video import load_video

INSTALL = "pip install --no-deps aeon==1.6.0 (make does this)"


def read_ts(path):
    """A multivariate, equal-length ``.ts`` file → ``x (N, T, C)``, ``labels [N]``."""
    rows, labels, in_data = [], [], False
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        *dims, label = line.split(":")
        rows.append([[float(v) for v in d.split(",")] for d in dims])
        labels.append(label.strip())
    if not rows:
        raise GalleryError(f"{path} holds no @data rows")
    return np.asarray(rows, np.float32).transpose(0, 2, 1), labels


def basic_motions(part):
    return read_ts(package_file("aeon", f"datasets/data/BasicMotions/BasicMotions_{part}.ts",
                                INSTALL))


def stitch(recordings, classes, count, seed, config):
    """``count`` streams of crops of ``recordings (N, T, C)`` with class ids ``classes``."""
    rng = np.random.default_rng(seed)
    frames, labels = [], []
    for _ in range(count):
        length = int(rng.integers(config.min_length, config.max_length + 1))
        parts, tags, total, last = [], [], 0, -1
        while total < length:
            choices = np.flatnonzero(classes != last)
            pick = int(rng.choice(choices if len(choices) else np.arange(len(classes))))
            span = recordings.shape[1]
            crop = int(rng.integers(config.min_crop, min(config.max_crop, span) + 1))
            start = int(rng.integers(0, span - crop + 1))
            parts.append(recordings[pick, start:start + crop])
            tags.append(np.full(crop, classes[pick]))
            total, last = total + crop, classes[pick]
        frames.append(np.concatenate(parts)[:length])
        labels.append(np.concatenate(tags)[:length])
    return Streams(frames, labels)


def load_motions(config):
    x_train, y_train = basic_motions("TRAIN")
    x_test, y_test = basic_motions("TEST")
    names = sorted(set(y_train))
    train_ids = np.array([names.index(y) for y in y_train])
    test_ids = np.array([names.index(y) for y in y_test])
    # Validation recordings: 2 per class, chosen by the seed, never used for training.
    rng = np.random.default_rng(config.seed)
    held = np.concatenate([rng.choice(np.flatnonzero(train_ids == k), 2, replace=False)
                           for k in range(len(names))])
    fit = np.setdiff1d(np.arange(len(train_ids)), held)
    splits = [stitch(x_train[fit], train_ids[fit], config.train_streams, config.seed, config),
              stitch(x_train[held], train_ids[held], config.val_streams, config.seed + 1,
                     config),
              stitch(x_test, test_ids, config.test_streams, config.seed + 2, config)]
    label_names = np.array([n.lower() for n in names])
    for part in splits:
        part.labels = [label_names[ids] for ids in part.labels]
    mean = x_train[fit].reshape(-1, x_train.shape[-1]).mean(axis=0)
    std = x_train[fit].reshape(-1, x_train.shape[-1]).std(axis=0) + 1e-6
    meta = {"labels": [n.lower() for n in names], "channels": int(x_train.shape[-1]),
            "mean": mean.tolist(), "std": std.tolist(),
            "source": "BasicMotions activity streams (embedded)"}
    return Splits(*splits, meta)


#: A number as spreadsheets write it: digits, one decimal point (or comma, see below),
#: an exponent; ``nan`` for a missing value. No thousands separators, no ``1_000``.
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?nan", re.IGNORECASE)


def _number(text, delimiter):
    """One field as a float: empty is NaN; with ``;`` or tab as the delimiter a comma
    is the decimal separator (``2,39`` → 2.39), as German or French spreadsheets write."""
    if not text:
        return np.nan
    if delimiter != "," and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    if not NUMBER.fullmatch(text):
        raise ValueError(text)
    return float(text)


def _fields(line, delimiter):
    try:
        return [v.strip() for v in next(csv.reader([line], delimiter=delimiter, strict=True))]
    except csv.Error as error:
        raise ValueError(str(error)) from None


def _row(line, delimiter, labelled):
    """``(numbers, label)`` of one line, or ``ValueError``."""
    values = _fields(line, delimiter)
    label = values.pop() if labelled else None
    if not values:
        raise ValueError(line)
    return [_number(v, delimiter) for v in values], label


def _delimiter(line, labelled):
    """Which of ``;``, tab (each only if the line holds one) and ``,`` splits ``line``
    into numbers (and a label): ``None`` if none does; ``ValueError`` if more than one
    does, differently (``1,5;x`` is 1.5 and ``x``, or 1 and ``5;x``)."""
    readings = {}
    for delimiter in (";", "\t", ","):
        if delimiter == "," or delimiter in line:
            try:
                readings[delimiter] = _row(line, delimiter, labelled)
            except ValueError:
                pass
    if len({repr(reading) for reading in readings.values()}) > 1:
        raise ValueError(f"it splits into numbers at {' and at '.join(map(repr, readings))}")
    return next(iter(readings), None)


def _is_header(line):
    """A header names columns: no field is a number, whatever the delimiter."""
    for delimiter in (";", "\t", ","):
        try:
            fields = _fields(line, delimiter)
        except ValueError:
            continue
        if any(field and NUMBER.fullmatch(field.replace(",", ".", 1)) for field in fields):
            return False
    return True


class StreamRows:
    """The rows of a CSV stream read one line at a time, by the rules of
    :func:`read_stream_csv`; ``where`` names the file (or ``stdin``) in errors.
    ``parse(number, line)`` gives ``(numbers, label)``, or ``None`` for an empty line
    or the header."""

    def __init__(self, where, labelled=False):
        self.where, self.labelled = where, labelled
        self.delimiter, self.first, self.width = None, True, None

    def parse(self, number, line):
        where, labelled = self.where, self.labelled
        if not line.strip():
            return None
        if self.delimiter is None:
            try:
                self.delimiter = _delimiter(line, labelled)
            except ValueError as error:
                raise GalleryError(f"{where}:{number}: cannot tell what separates the "
                                   f"fields: {error}; add a header line naming the columns "
                                   "(e.g. value;label)") from None
            if self.delimiter is None and self.first and _is_header(line):
                self.first = False  # the header's delimiter is the file's
                self.delimiter = next((d for d in (";", "\t") if d in line), ",")
                return None
        self.first = False
        try:
            row, label = _row(line, self.delimiter or ",", labelled)
        except ValueError as error:
            expected = "numbers and a label" if labelled else "numbers"
            raise GalleryError(f"{where}:{number}: expected {expected} separated by "
                               f"{self.delimiter or ','!r}, got {str(error)[:40]!r}") from None
        if self.width is not None and len(row) != self.width:
            raise GalleryError(f"{where}:{number}: {len(row)} numbers, but the rows before "
                               f"have {self.width}")
        if labelled and not label:
            raise GalleryError(f"{where}:{number}: the label (last field) is empty")
        self.width = len(row)
        return row, label


def read_stream_csv(path, labelled=False):
    """A CSV stream, one frame per row: ``C`` numbers and, with ``labelled``, the step's
    label as the last field. Returns ``(frames (T, C) float32, labels (T,) str or
    None)``; an empty file gives ``T = 0`` frames of ``C = 0`` channels.

    The delimiter is the header's (``;`` or tab if it holds one, else ``,``), or without
    a header the one of ``;``, tab and ``,`` that splits the first row into numbers
    (``;`` and tab only if the row holds one; a row two of them split differently,
    like ``1,5;x``, is refused). With ``;`` or tab, a comma in a number is its decimal
    separator (``2,39;0,43;walk`` → 2.39, 0.43, ``walk``). Quoted fields are read as in
    CSV. A first row in which no field is a number is a header (skipped); empty
    numbers are NaN. Any other row that is not numbers, or
    has another number of fields than the first, is a one-line error naming the file
    and line (:class:`StreamRows`).
    """
    path = require_file(path, "stream file")
    rows, frames, labels = StreamRows(path, labelled), [], []
    for number, line in enumerate(text_lines(path), 1):
        if (parsed := rows.parse(number, line)) is not None:
            frames.append(parsed[0])
            labels.append(parsed[1])
    frames = np.array(frames, np.float32).reshape(len(frames), -1 if frames else 0)
    return frames, (np.array(labels) if labelled else None)


def load_stream_folder(folder):
    """``DIR/*.csv`` labelled streams (sorted by name): the last tenth (at least one)
    tests, the tenth before it validates, the rest trains."""
    files = sorted(require_folder(folder, "stream folder").glob("*.csv"))
    if len(files) < 3:
        raise GalleryError(f"{folder}: expected a folder with at least 3 stream files "
                           "(*.csv: one frame per row, numbers then a label)")
    streams = [read_stream_csv(f, labelled=True) for f in files]
    if any(len(frames) == 0 for frames, _ in streams):
        raise GalleryError(f"{folder}: every stream file needs rows of numbers and a label")
    if len({f.shape[1] for f, _ in streams}) != 1:
        raise GalleryError(f"{folder}: the stream files have different channel counts")
    held = max(1, len(files) // 10)
    parts = [streams[:-2 * held], streams[-2 * held:-held], streams[-held:]]
    train_frames = np.concatenate([f for f, _ in parts[0]])
    meta = {"labels": sorted({v for _, y in streams for v in y}),
            "channels": int(train_frames.shape[1]),
            "mean": np.nanmean(train_frames, axis=0).tolist(),
            "std": (np.nanstd(train_frames, axis=0) + 1e-6).tolist(), "source": str(folder)}
    return Splits(*[Streams([f for f, _ in p], [y for _, y in p]) for p in parts], meta)


def load_frame_data(config, source=None):
    kind, value = parse_source(source)
    if kind == "default" or source == "motions":
        return load_motions(config)
    if source == "video":
        return load_video(config)
    if kind == "actrectut":
        return load_actrectut(config, value)
    if kind == "tfds":
        return load_tfds_video(config, value)
    if kind == "path":
        return load_stream_folder(value)
    raise GalleryError(f"frame tagging reads 'motions' (default), 'video', actrectut:PATH, "
                       f"tfds:NAME or a folder of labelled stream files, not {source!r}")
