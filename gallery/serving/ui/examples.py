"""Held-out examples for the web page, kept beside an export.

``gallery demo`` writes the request it served (held-out test inputs) to
``EXPORT/assets.extra/gallery_examples.json`` (TF Serving ignores that folder apart
from its warm-up file), one entry per row, each a row of a TF-Serving request::

    {"examples": [{"title": "held-out example 1", "inputs": {"text": "..."},
                   "labels": [...]}, ...]}

Text that is valid UTF-8 is written as a string, other bytes (images) as
``{"b64": "..."}``; ``labels`` (the model's label names, if it has them) lets the page
colour labels the same way for every stream.
"""

import base64
import json
import pathlib

import numpy as np

EXAMPLES_FILE = pathlib.Path("assets.extra") / "gallery_examples.json"


def _json_value(value):
    """A NumPy value → JSON: strings as text or ``{"b64"}``, arrays as nested lists."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value] if value.dtype == object else value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def request_rows(request):
    """Columnar request tensors ``{name: (B, ...)}`` → ``B`` rows ``{name: value}``."""
    columns = {key: np.asarray(value) for key, value in request.items()}
    count = len(next(iter(columns.values())))
    return [{key: _json_value(column[row]) for key, column in columns.items()}
            for row in range(count)]


def write_examples(export_dir, request, labels=None):
    """Write the rows of ``request`` (skipping empty texts) beside the export."""
    examples = []
    for row in request_rows(request):
        if any(value == "" for value in row.values()):
            continue  # an empty input is no example to show
        entry = {"title": f"held-out example {len(examples) + 1}", "inputs": row}
        if labels:
            entry["labels"] = list(labels)
        examples.append(entry)
    path = pathlib.Path(export_dir) / EXAMPLES_FILE
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"examples": examples}), encoding="utf-8")
    return path


def read_examples(export_dir):
    """The examples written beside ``export_dir``; ``[]`` if there are none or the file
    cannot be read (it is a convenience, never a reason to refuse serving)."""
    try:
        data = json.loads((pathlib.Path(export_dir) / EXAMPLES_FILE).read_text("utf-8"))
        examples = data["examples"]
        return examples if isinstance(examples, list) else []
    except (OSError, ValueError, KeyError, TypeError):
        return []
