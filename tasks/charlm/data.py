"""Text for the character model: the Python standard library's own source, or a file.

Embedded default: the ``.py`` files at the top of the running Python's standard
library (always installed, so offline), in sorted order, joined until
``max_chars``. The split is by position: the first 90 % trains, the next 5 %
validates, the last 5 % tests (consecutive text, as a language model reads it).
The exact text depends on the Python version (3.11 here).
"""

import dataclasses
import pathlib
import sysconfig

from gallery.data.files import read_text, require_file
from gallery.data.sources import parse_source
from gallery.errors import GalleryError
from gallery.task import Splits

MIN_CHARS = 2_000  # below this a split cannot hold even one chunk per stream


@dataclasses.dataclass
class Text:
    text: str

    def __len__(self):
        return len(self.text)


def stdlib_text(max_chars):
    """The standard library's top-level modules, sorted by name, up to ``max_chars``."""
    folder = pathlib.Path(sysconfig.get_paths()["stdlib"])
    parts, total = [], 0
    for path in sorted(folder.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(f"# ---- {path.name}\n{text}\n")
        total += len(parts[-1])
        if total >= max_chars:
            break
    if not parts:
        raise GalleryError(f"no Python source found in {folder}")
    return "".join(parts)[:max_chars]


def read_text_file(path, max_chars):
    """The first ``max_chars`` characters of a text file; nothing after them is read
    (memory stays bounded by ``max_chars`` however large the file)."""
    path = require_file(path, "text file")
    text = read_text(path, max_chars)
    if len(text) < MIN_CHARS:
        raise GalleryError(f"{path} has {len(text)} characters; the character model needs "
                           f"at least {MIN_CHARS}")
    return text


def split_text(text, source):
    """90/5/5 by position; the vocabulary is every character of the training part."""
    n = len(text)
    a, b = int(n * 0.9), int(n * 0.95)
    vocabulary = sorted(set(text[:a]))
    return Splits(Text(text[:a]), Text(text[a:b]), Text(text[b:]),
                  {"vocabulary": vocabulary, "source": source})


def load_charlm_data(source, max_chars):
    kind, value = parse_source(source)
    if kind == "default":
        return split_text(stdlib_text(max_chars), "Python standard library source (embedded)")
    if kind == "path":
        return split_text(read_text_file(value, max_chars), str(value))
    raise GalleryError("the character model reads the embedded text or a text file "
                       f"(--data path/to/file.txt), not {source!r}")
