"""``gallery predict TASK --model RUN_OR_EXPORT --input FILE|-``: a file of inputs,
streamed in batches, one JSON line per input in input order.

Inputs (``read_items``): ``.txt`` or ``-`` (stdin): one input per line; ``.jsonl``:
one JSON string, or object with the ``--column`` key, per line; ``.csv``/``.tsv``: the
``--column`` column (``.tsv``: split at tabs, no quoting; ``.csv``: RFC 4180 quoting,
delimiter from the header); files follow :mod:`gallery.data.files` (UTF-8 or UTF-16
with a byte-order mark, ``.gz``, lines end at ``\\n``); a folder: its files in name order
(images for captioning, stream files for frame tagging). At most ``batch_size``
inputs are held at a time, so memory stays flat whatever the file's length.

``--model`` is a run folder (``task.predict`` gives the readable rows of
``gallery predict``) or an export folder (the ``serving_default`` outputs, as
``gallery serve`` returns them, each line with its ``"input"``).
"""

import contextlib
import io
import itertools
import json
import os
import pathlib
import sys

from gallery.data.files import require_file, text_lines
from gallery.data.text import csv_rows, tsv_rows
from gallery.errors import GalleryError
from gallery.json_output import strict_json


def read_items(source, column="text"):
    """The inputs in ``source`` (a path, or ``-`` for stdin) one at a time, read by the
    rules of :mod:`gallery.data.files` (encodings, line ends, one-line errors)."""
    if source == "-":  # bytes that are not UTF-8 become U+FFFD, as in files
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="replace",
                                 newline="")
        yield from (line.removesuffix("\r") for line in _split_lines(stdin))
        return
    path = pathlib.Path(source)
    if path.is_dir():
        yield from (str(p) for p in sorted(path.iterdir())
                    if p.is_file() and not p.name.startswith("."))
        return
    path = require_file(path, "input file")
    suffix = path.suffix.lower()
    if suffix == ".gz":  # reviews.txt.gz: decompressed on the fly (gallery.data.files)
        suffix = pathlib.Path(path.stem).suffix.lower()
    if suffix == ".txt":
        yield from text_lines(path)
    elif suffix == ".jsonl":
        yield from _json_lines(path, column)
    elif suffix == ".tsv":  # tabs and nothing else, no quoting
        yield from _column(path, column, tsv_rows(path))
    elif suffix == ".csv":
        yield from _column(path, column, csv_rows(path, columns=(column,)))
    else:
        raise GalleryError(f"--input must be a .txt, .jsonl, .csv or .tsv file, a folder or "
                           f"-, got {path.name}")


def _split_lines(handle, chunk=1 << 16):
    """Lines of a text handle, split at ``"\\n"`` only (as ``text_lines`` does)."""
    rest = ""
    while text := handle.read(chunk):
        *complete, rest = (rest + text).split("\n")
        yield from complete
    if rest:
        yield rest


def _json_lines(path, column):
    for number, line in enumerate(text_lines(path), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as error:
            raise GalleryError(f"{path}:{number}: not JSON ({error})") from None
        if isinstance(value, dict):
            value = value.get(column)
        if not isinstance(value, str):
            raise GalleryError(f"{path}:{number}: expected a JSON string or an object with "
                               f"a string {column!r}")
        yield value


def _column(path, column, rows):
    header = next(rows, (1, []))[1]
    names = [name.strip().lower() for name in header]
    if column.lower() not in names:
        raise GalleryError(f"{path.name} has no column {column!r} in its header (found: "
                           f"{', '.join(names) or 'nothing'}); choose one with --column")
    index = names.index(column.lower())
    for number, row in rows:
        if not row or row == [""]:
            continue
        if len(row) <= index:
            raise GalleryError(f"{path}:{number}: the row has no {column!r} field")
        yield row[index]


def batches(items, size):
    """Lists of up to ``size`` items, in order, holding one list at a time."""
    items = iter(items)
    while batch := list(itertools.islice(items, size)):
        yield batch


@contextlib.contextmanager
def output_stream(path, overwrite=False):
    """stdout, or ``path`` written under a temporary name and renamed into place when
    every line is written (an interrupted run leaves no half file); an existing file
    is kept unless ``overwrite``."""
    if path is None or path == "-":
        yield sys.stdout
        return
    path = pathlib.Path(path)
    if path.exists() and not overwrite:
        raise GalleryError(f"{path} exists; choose another --output or pass --overwrite")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        handle = open(tmp, "w", encoding="utf-8")
    except OSError as error:
        raise GalleryError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with handle:
            yield handle
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def progress_bar():
    """A tqdm bar on stderr when stderr is a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm
    return tqdm(unit=" inputs", file=sys.stderr, dynamic_ncols=True)


def predict_file(predict_batch, items, out, batch_size=256):
    """Write ``predict_batch(batch)`` (one dict per input) as JSON lines to ``out``,
    batch by batch; returns the number of inputs."""
    bar, count = progress_bar(), 0
    try:
        for batch in batches(items, batch_size):
            rows = predict_batch(batch)
            for row in rows:
                text = json.dumps(strict_json(row), ensure_ascii=False, allow_nan=False)
                out.write(text.encode("utf-8", "replace").decode("utf-8") + "\n")
            count += len(batch)
            if bar is not None:
                bar.update(len(batch))
        out.flush()
    finally:
        if bar is not None:
            bar.close()
    return count
