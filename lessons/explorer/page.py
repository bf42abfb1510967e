"""The explorer page: one self-contained HTML file (data, style and script inline).

The activations ``q (T, H)`` int8 go in unit-major order (each cell's trace is
contiguous, which compresses better), deflated (zlib) and base64-encoded; the page
inflates them with the browser's ``DecompressionStream``. The template and script
(``page.html``, ``page.js``) are package data. The page loads nothing from the
network (its Content-Security-Policy forbids it).
"""

import base64
import html
import json
import re
import zlib
from importlib import resources

import numpy as np


def pack(q):
    """``q (T, H)`` int8 → base64 of the deflated unit-major bytes."""
    raw = np.ascontiguousarray(np.asarray(q, np.int8).T).tobytes()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def unpack(text, steps):
    """Inverse of :func:`pack`: ``q (T, H)`` int8 from the page's ``"q"`` string."""
    flat = np.frombuffer(zlib.decompress(base64.b64decode(text)), np.int8)
    return flat.reshape(-1, steps).T


def page_data(html_text):
    """The JSON object a page carries (for tests and tools)."""
    begin = html_text.index('<script id="data" type="application/json">')
    start = html_text.index(">", begin) + 1
    return json.loads(html_text[start:html_text.index("</script>", start)])


def explorer_html(trace, q, scale, hypotheses_, title, about):
    """The page as a string. ``q (T, H)`` int8 with ``a ≈ q · scale / 127``."""
    data = {"title": title, "about": about, "tokens": trace.tokens, "ends": trace.ends,
            "kind": trace.kind, "units": int(q.shape[1]), "scale": scale,
            "hypotheses": hypotheses_, "q": pack(q)}
    # "<" escaped: nothing in the data can close the script element.
    encoded = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    folder = resources.files(__package__)
    script = folder.joinpath("page.js").read_text(encoding="utf-8")
    template = folder.joinpath("page.html").read_text(encoding="utf-8")
    if "</script" in script.lower():
        raise ValueError("page.js must not contain '</script'")
    parts = {"TITLE": html.escape(title), "DATA": encoded, "SCRIPT": script}
    # One pass: a marker inside the data is never expanded.
    return re.sub(r"\{\{(TITLE|DATA|SCRIPT)\}\}", lambda m: parts[m.group(1)], template)
