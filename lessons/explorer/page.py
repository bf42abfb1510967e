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

from .properties import LEVELS
from .rules import find_matches, select_cells


def runs_of(on):
    """``[(start, end)]`` of the maximal runs of ``True`` in ``on (T,)``."""
    edges = np.diff(np.r_[0, np.asarray(on, np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def example_span(q, on, unit, sign, longest=40):
    """``(start, end, threshold)``: the first run of ``on`` (2 to ``longest`` steps) that
    selects ``unit`` at the threshold halfway between the cell's mean where ``on`` holds
    and where it does not (signed, quantised); ``None`` if no run does."""
    values = sign * np.asarray(q[:, unit], np.int32)
    on = np.asarray(on, bool)
    if on.all() or not on.any():
        return None
    threshold = int(np.rint((values[on].mean() + values[~on].mean()) / 2))
    for start, end in runs_of(on):
        if 2 <= end - start <= longest and unit in select_cells(sign * np.asarray(q, np.int32),
                                                                start, end, threshold):
            return start, end, threshold
    return None


def hypotheses(q, properties, found):
    """The lesson's findings as the page's hypotheses: per property, its best cell, the
    sign that makes the cell "on" where the property holds, and an example span."""
    out = []
    for name, (unit, r) in found.items():
        sign = 1 if r >= 0 else -1
        level = LEVELS.get(name)
        span = None if level is None else example_span(q, properties[name] >= level, unit, sign)
        note = (f"Example: a span where {name} ≥ {level} starts." if span else
                f"{name} does not vary in this text." if np.ptp(properties[name]) == 0 else
                "No short span where it turns on selects it; colour the text by it.")
        out.append({"name": name, "unit": unit, "r": round(r, 4), "sign": sign, "note": note,
                    "start": span and span[0], "end": span and span[1],
                    "threshold": span and span[2]})
    return out


def match_quality(q, hypothesis, on, after=False):
    """For a hypothesis with a span: its selected cells, its matches, and how many of
    the matches lie where the property ``on (T,)`` holds at every step."""
    v = hypothesis["sign"] * np.asarray(q, np.int32)
    start, end, threshold = hypothesis["start"], hypothesis["end"], hypothesis["threshold"]
    cells = select_cells(v, start, end, threshold, after)
    matches = find_matches(v, cells, start, end, threshold, after)
    inside = [bool(np.asarray(on)[s:s + n].all()) for s, n, _ in matches]
    return {"cells": cells, "matches": [list(m) for m in matches], "inside": sum(inside),
            "base_rate": float(np.mean(on))}


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
