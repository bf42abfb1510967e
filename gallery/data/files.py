"""Reading users' files: read them as written, or refuse in one line.

The rules every reader of a user's file follows (sentiment ``.csv``/``.tsv``,
parallel text, stream ``.csv``/``.npy``, ``captions.tsv`` and images, charlm text):

* the path is a regular file; a folder says it is a folder (:func:`require_file`);
* text is UTF-8 with or without a byte-order mark, or UTF-16 with one (Excel's
  "Unicode text");
  bytes that are not valid in the encoding become U+FFFD (:func:`open_text`);
* ``.gz`` files are decompressed on the fly; a corrupt archive is a one-line error;
* a line ends at ``"\\n"`` (``"\\r\\n"`` too) and nowhere else: ``str.splitlines``
  would also end lines at ``\\r``, ``\\x0b``, ``\\x1c``, U+2028 ..., which can sit
  inside a text (:func:`text_lines`);
* files are streamed: memory grows with what is kept, not with the file.
"""

import codecs
import gzip
import io
import pathlib
import zlib

import numpy as np

from gallery.errors import GalleryError

_BOMS = ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
#: What can go wrong reading a file: the OS, a truncated or corrupt ``.gz``.
READ_ERRORS = (OSError, EOFError, zlib.error)


def require_file(path, what="data file"):
    """``path`` as a ``Path`` if it is a regular file; else a one-line ``GalleryError``
    saying what it is instead (missing, a folder, a device...)."""
    path = pathlib.Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        raise GalleryError(f"{what} {path} is a folder; expected a file")
    if path.exists():
        raise GalleryError(f"{what} {path} is not a regular file")
    raise GalleryError(f"{what} not found: {path}")


def require_folder(path, what="data folder"):
    """``path`` as a ``Path`` if it is a folder; else a one-line ``GalleryError``."""
    path = pathlib.Path(path)
    if path.is_dir():
        return path
    if path.exists():
        raise GalleryError(f"{what} {path} is a file; expected a folder")
    raise GalleryError(f"{what} not found: {path}")


def read_error(path, error):
    """The ``GalleryError`` for an ``OSError``/``EOFError``/``zlib.error`` reading ``path``."""
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return GalleryError(f"cannot read {path}: {reason}")


def open_text(path):
    """A text handle on ``path`` (``.gz`` decompressed): the encoding from its
    byte-order mark (UTF-8 without one), invalid bytes as U+FFFD, line ends untouched
    (``newline=""``, as the ``csv`` module wants)."""
    path = pathlib.Path(path)
    try:
        raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
        head = raw.read(2)
        raw.seek(0)
    except READ_ERRORS as error:
        raise read_error(path, error) from None
    encoding = next((name for bom, name in _BOMS if head.startswith(bom)), "utf-8-sig")
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")


def text_lines(path, chunk=1 << 16):
    """Yield the lines of a text file (see :func:`open_text`), split at ``"\\n"`` only,
    without the line end (``"\\r\\n"`` or ``"\\n"``). Streams ``chunk`` characters at a
    time."""
    try:
        with open_text(path) as handle:
            parts = []
            while text := handle.read(chunk):
                *complete, rest = text.split("\n")
                for line in complete:
                    parts.append(line)
                    yield "".join(parts).removesuffix("\r")
                    parts = []
                parts.append(rest)
            if any(parts):
                yield "".join(parts).removesuffix("\r")
    except READ_ERRORS as error:
        raise read_error(path, error) from None


def read_text(path, max_chars):
    """The first ``max_chars`` characters of a text file; reads no further."""
    try:
        with open_text(path) as handle:
            return handle.read(max_chars)
    except READ_ERRORS as error:
        raise read_error(path, error) from None


def load_npy(path):
    """A ``.npy`` array of numbers, checked before anything is allocated.

    Refused in one line: not a ``.npy`` file, pickled objects, an array the file is too
    short to hold (a header may claim any shape), non-numeric data.
    """
    path = require_file(path, "array file")
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            reader = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, _, dtype = reader(handle, max_header_size=10_000)
            stored = path.stat().st_size - handle.tell()
    except READ_ERRORS as error:
        raise read_error(path, error) from None
    except (ValueError, SyntaxError, TypeError) as error:  # bad magic or header
        raise GalleryError(f"{path} is not a .npy array file: {_first_line(error)}") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise GalleryError(f"{path}: expected an array of real numbers, got {dtype}")
    needed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if needed > stored:
        raise GalleryError(f"{path} is truncated: its header says {shape} {dtype} "
                           f"({needed} bytes), the file holds {stored}")
    try:
        return np.load(path, allow_pickle=False)
    except READ_ERRORS as error:
        raise read_error(path, error) from None
    except ValueError as error:
        raise GalleryError(f"cannot read {path}: {_first_line(error)}") from None


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
