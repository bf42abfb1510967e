"""User-facing errors: one line, no traceback, CLI exit code 2."""

import unicodedata

#: Unicode categories a terminal must not receive raw: controls (NUL, ESC, DEL, C1),
#: format characters (bidi overrides), lone surrogates, line and paragraph separators.
_UNSAFE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


class GalleryError(Exception):
    """A problem with the user's input (data, settings, paths), stated in one line."""


def printable(text):
    """``text`` with every character a terminal must not receive raw written as an
    escape (``\\x00``, ``\\x1b``, ``\\n``, ``\\u202e``): one safe line, whatever a
    file name or a file's bytes held."""
    out = []
    for char in str(text):
        if unicodedata.category(char) in _UNSAFE:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)
