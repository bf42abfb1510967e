"""``gallery predict TASK --model RUN_OR_EXPORT --input FILE|-``: a file of inputs,
streamed in batches, one JSON line per input in input order.

Inputs (``read_items``): ``.txt`` or ``-`` (stdin): one input per line; ``.jsonl``:
one JSON string, or object with the ``--column`` key, per line; ``.csv``/``.tsv``: the
``--column`` column (``.tsv``: split at tabs, no quoting; ``.csv``: RFC 4180 quoting,
delimiter from the header); files and stdin follow :mod:`gallery.data.files` (UTF-8, or
UTF-16 or UTF-32 with a byte-order mark, ``.gz``, lines end at ``\\n``, a line or CSV
record longer than ``--max-line-bytes`` refused while it is read); a folder: its files
in name order (images for captioning, stream files for frame tagging). At most
``batch_size`` inputs are held at a time, so memory stays flat whatever the file's
length.

``--model`` is a run folder (``task.predict`` gives the readable rows of
``gallery predict``) or an export folder (the ``serving_default`` outputs, as
``gallery serve`` returns them, each line with its ``"input"``).
"""

import contextlib
import dataclasses
import itertools
import json
import os
import pathlib
import secrets
import stat
import sys

from gallery.data.files import LineLimit, require_file, stream_lines, text_lines
from gallery.data.text import csv_rows, tsv_rows
from gallery.errors import GalleryError
from gallery.json_output import strict_json

#: The longest input line ``gallery predict --input`` reads, and the flag that sets it.
INPUT_LINES = LineLimit(name="--max-line-bytes")


def read_items(source, column="text", max_line_bytes=INPUT_LINES.max_bytes):
    """The inputs in ``source`` (a path, or ``-`` for stdin) one at a time, read by the
    rules of :mod:`gallery.data.files` (encodings, line ends, a line or CSV record at
    most ``max_line_bytes`` long, one-line errors)."""
    limit = dataclasses.replace(INPUT_LINES, max_bytes=max_line_bytes)
    if source == "-":
        yield from stream_lines(sys.stdin.buffer, "stdin", limit)
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
        yield from text_lines(path, limit=limit)
    elif suffix == ".jsonl":
        yield from _json_lines(path, column, limit)
    elif suffix == ".tsv":  # tabs and nothing else, no quoting
        yield from _column(path, column, tsv_rows(path, limit))
    elif suffix == ".csv":
        yield from _column(path, column, csv_rows(path, columns=(column,), limit=limit))
    else:
        raise GalleryError(f"--input must be a .txt, .jsonl, .csv or .tsv file, a folder or "
                           f"-, got {path.name}")


def _json_lines(path, column, limit):
    for number, line in enumerate(text_lines(path, limit=limit), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as error:
            raise GalleryError(f"{path}:{number}: not JSON ({error})") from None
        except RecursionError:  # [[[[... deeper than the parser's recursion limit
            raise GalleryError(f"{path}:{number}: JSON nested too deeply to read") from None
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
    """stdout (``None`` or ``-``), or ``path`` written under a new temporary name beside
    it and renamed into place when every line is written (an interrupted run leaves no
    half file). What is at ``path`` already is replaced only if it is a regular file and
    ``overwrite`` is set (its permissions kept); a folder, symbolic link, device or FIFO
    is refused before anything is written, and checked again before the rename."""
    if path is None or path == "-":
        yield sys.stdout
        return
    path = pathlib.Path(path)
    before = _replaceable(path, overwrite)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:  # O_EXCL: the temporary name is new, never a file of the user's
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise GalleryError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        if before is not None:
            os.fchmod(fd, stat.S_IMODE(before.st_mode))
        with open(fd, "w", encoding="utf-8") as handle:
            yield handle
        _replaceable(path, overwrite)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _replaceable(path, overwrite):
    """``os.lstat(path)`` of a regular file ``overwrite`` lets us replace, ``None`` if
    nothing is there; anything else a one-line ``GalleryError``."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise GalleryError(f"cannot write {path}: {error.strerror or error}") from None
    kind = ("a symbolic link" if stat.S_ISLNK(info.st_mode) else
            "a folder" if stat.S_ISDIR(info.st_mode) else
            None if stat.S_ISREG(info.st_mode) else
            "not a regular file (a device, FIFO or socket)")
    if kind is not None:
        raise GalleryError(f"--output {path} is {kind}; --output writes a new file, or "
                           f"with --overwrite replaces a regular file")
    if not overwrite:
        raise GalleryError(f"{path} exists; choose another --output or pass --overwrite")
    return info


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
