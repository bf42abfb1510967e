"""Reading users' files: read them as written, or refuse in one line.

The rules every reader of a user's file follows (sentiment ``.csv``/``.tsv``,
parallel text, stream ``.csv``/``.npy``, ``captions.tsv`` and images, charlm text):

* the path is a regular file; a folder says it is a folder (:func:`require_file`);
* text is UTF-8 with or without a byte-order mark, or UTF-16 (Excel's "Unicode
  text") or UTF-32 with one; bytes that are not valid in the encoding become U+FFFD
  (:func:`open_text`, :func:`decoded_chunks` for stdin);
* ``.gz`` files are decompressed on the fly; a corrupt archive is a one-line error;
* a line ends at ``"\\n"`` (``"\\r\\n"`` too) and nowhere else: ``str.splitlines``
  would also end lines at ``\\r``, ``\\x0b``, ``\\x1c``, U+2028 ..., which can sit
  inside a text (:func:`text_lines`);
* a line is at most :class:`LineLimit` ``max_bytes`` long (UTF-8 bytes, its line end
  excluded), checked while it is read: a longer one is refused in one line naming the
  file and line number, before more of it is read (:func:`split_lines`);
* files are streamed: memory grows with what is kept, not with the file.
"""

import codecs
import dataclasses
import gzip
import io
import pathlib
import zlib

import numpy as np

from gallery.errors import GalleryError

#: Byte-order marks and the codec that reads a text starting with one (and drops it).
#: UTF-32-LE's mark begins with UTF-16-LE's, so the UTF-32 marks are tried first.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_BOM_BYTES = 4  # the longest mark
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


@dataclasses.dataclass(frozen=True)
class LineLimit:
    """The longest line a reader accepts, in bytes of UTF-8 (its line end excluded),
    and what sets it, named when a line is refused.

    The default, 1 MiB, is many times a long review and more than any caption, stream
    row or path needs; a longer "line" is a file that is not one text per line (a
    minified dump, a binary, one huge record), and reading it would hold it whole.
    """

    max_bytes: int = 1 << 20
    name: str = "the longest line a data file may hold"

    def refuse(self, where, number, what="line"):
        return GalleryError(f"{where}:{number}: {what} longer than {self.max_bytes:,d} "
                            f"bytes ({self.name})")


DATA_LINES = LineLimit()  # what every reader of training data accepts


def _encoding(head):
    """The codec for a text whose first bytes are ``head``: by its byte-order mark,
    UTF-8 (a UTF-8 mark dropped) without one."""
    return next((name for bom, name in _BOMS if head.startswith(bom)), "utf-8-sig")


def open_text(path):
    """A text handle on ``path`` (``.gz`` decompressed): the encoding from its
    byte-order mark (UTF-8 without one), invalid bytes as U+FFFD, line ends untouched
    (``newline=""``, as the ``csv`` module wants)."""
    path = pathlib.Path(path)
    try:
        raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")
        head = raw.read(_BOM_BYTES)
        raw.seek(0)
    except READ_ERRORS as error:
        raise read_error(path, error) from None
    return io.TextIOWrapper(raw, encoding=_encoding(head), errors="replace", newline="")


def decoded_chunks(stream, chunk=1 << 16):
    """The text of a binary stream that cannot seek (stdin), ``chunk`` bytes at a time,
    decoded as :func:`open_text` decodes a file (byte-order mark, U+FFFD)."""
    head = b""
    while len(head) < _BOM_BYTES and (more := stream.read1(_BOM_BYTES - len(head))):
        head += more
    decoder = codecs.getincrementaldecoder(_encoding(head))(errors="replace")
    data = head
    while data:
        if text := decoder.decode(data):
            yield text
        data = stream.read1(chunk)
    if text := decoder.decode(b"", final=True):
        yield text


def utf8_size(text):
    """How many bytes ``text`` takes in UTF-8 (without encoding it when it is ASCII)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def split_lines(chunks, where, limit=DATA_LINES):
    """The lines of a text given in pieces (``chunks``), split at ``"\\n"`` only, each
    with its line end (the last one may have none); ``where`` names the text in errors.

    A line longer than ``limit`` is refused once its first ``limit.max_bytes + 2`` bytes
    are read: memory holds at most one line and one chunk, and work is linear in the
    text (the pieces of a long line are joined once).
    """
    parts, size, number = [], 0, 1
    for text in chunks:
        *complete, rest = text.split("\n")
        for piece in complete:
            parts.append(piece)
            size += utf8_size(piece)
            if size - _ends_in_return(parts) > limit.max_bytes:
                raise limit.refuse(where, number)
            yield "".join(parts) + "\n"
            parts, size, number = [], 0, number + 1
        if rest:
            parts.append(rest)
            size += utf8_size(rest)
            if size - 1 > limit.max_bytes:  # - 1: it may end in the "\r" of a "\r\n"
                raise limit.refuse(where, number)
    if parts:
        if size - _ends_in_return(parts) > limit.max_bytes:
            raise limit.refuse(where, number)
        yield "".join(parts)


def _ends_in_return(parts):
    """1 if the text ``parts`` join into ends in ``"\\r"`` (only a line's last piece may
    be empty), else 0."""
    last = parts[-1] or (parts[-2] if len(parts) > 1 else "")
    return int(last.endswith("\r"))


def without_line_end(line):
    """``line`` without its ``"\\n"`` or ``"\\r\\n"``."""
    return line.removesuffix("\n").removesuffix("\r")


def file_chunks(handle, chunk=1 << 16):
    """``handle.read(chunk)`` until the end: the pieces :func:`split_lines` takes."""
    while text := handle.read(chunk):
        yield text


def text_lines(path, chunk=1 << 16, limit=DATA_LINES):
    """Yield the lines of a text file (see :func:`open_text`), split at ``"\\n"`` only,
    without the line end (``"\\r\\n"`` or ``"\\n"``), each at most ``limit`` long
    (:func:`split_lines`). Streams ``chunk`` characters at a time."""
    try:
        with open_text(path) as handle:
            yield from map(without_line_end, split_lines(file_chunks(handle, chunk), path, limit))
    except READ_ERRORS as error:
        raise read_error(path, error) from None


def stream_lines(stream, where="stdin", limit=DATA_LINES):
    """The lines of a binary stream (stdin) as :func:`text_lines` gives a file's."""
    yield from map(without_line_end, split_lines(decoded_chunks(stream), where, limit))


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
