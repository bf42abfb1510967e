"""TF Serving's JSON mapping: request bodies → checked NumPy inputs, outputs → JSON.

A predict request (``api_rest.md`` of tensorflow/serving)::

    {"signature_name": "serving_default",          # optional
     "instances": [row, row, ...]}                 # row format, or
     "inputs": value | {"name": value, ...}}       # columnar format

A row is the value of the only input, or ``{"name": value, ...}`` with every input;
rows are stacked along a new axis 0. Strings are UTF-8 JSON strings or
``{"b64": "..."}`` for bytes. The response is ``{"predictions": [...]}`` (row format:
one value per row with one output, one ``{"name": value}`` object per row with
several) or ``{"outputs": ...}`` (columnar: the value, or ``{"name": value}``).
String outputs whose name ends in ``_bytes`` are written as ``{"b64": "..."}``.
Every problem with a request raises :class:`RequestError` (an HTTP 4xx), including
a request past one of the :class:`~gallery.serving.limits.Limits`: nesting is checked
before the JSON is parsed, rows and values before anything is converted, and the
response is built only up to its size limit.
"""

import base64
import binascii
import json
import math

import numpy as np

from gallery.serving.limits import Limits

#: Most dimensions of one input (NumPy's own limit is 64); a deeper list is refused
#: before it is walked.
MAX_RANK = 32


class RequestError(ValueError):
    """A request the server will not run; ``str(error)`` goes to the client with HTTP
    ``status`` (400 unless a limit or the connection says otherwise);
    ``close_connection``: the answer closes the connection (a body that did not arrive
    or cannot be read leaves nothing to read the next request from; default: 408)."""

    def __init__(self, message, status=400, close_connection=None):
        super().__init__(message)
        self.status = status
        self.close_connection = status == 408 if close_connection is None else close_connection


def parse_predict(body, signatures, limits=Limits(), missing=None):
    """``(signature, inputs, row_format, rows)`` from a predict body (``bytes``).

    ``inputs`` maps every input name of the signature to a NumPy array whose shape and
    dtype fit the signature's spec; ``rows`` is the batch size (row format) or None.
    ``missing``: ``{name: why}`` for signatures this model lacks that others of its
    task have (the export records them), said instead of "not found".
    """
    try:
        encoding = json.detect_encoding(body)  # as json.loads does: UTF-8, -16 or -32
        text = body.decode(encoding, "surrogatepass")
    except UnicodeDecodeError as error:
        raise RequestError(f"malformed JSON: {error}") from None
    check_depth(body if encoding == "utf-8" else text.encode("utf-8", "surrogatepass"),
                limits.max_json_depth)
    try:
        request = json.loads(text)
    except ValueError as error:
        raise RequestError(f"malformed JSON: {error}") from None
    if not isinstance(request, dict):
        raise RequestError("the request body must be a JSON object with \"instances\" "
                           "or \"inputs\"")
    name = request.get("signature_name", "serving_default")
    if isinstance(name, str) and name in (missing or {}) and name not in signatures:
        raise RequestError(f"serving signature name {name!r}: {missing[name]}")
    if not isinstance(name, str) or name not in signatures:
        raise RequestError(f"serving signature name {name!r} not found; the model has "
                           f"{sorted(signatures)}")
    signature = signatures[name]
    if ("instances" in request) == ("inputs" in request):
        raise RequestError("a request needs exactly one of \"instances\" (row format) and "
                           "\"inputs\" (columnar format)")
    if "instances" in request:
        rows = len(request["instances"]) if isinstance(request["instances"], list) else 0
        _check_rows(rows, limits)
        columns = _columns_of_rows(request["instances"], signature.inputs)
    else:
        columns, rows = _columns(request["inputs"], signature.inputs), None
    shapes = {key: _nested_shape(value, signature.inputs[key][1], key)
              for key, value in columns.items()}
    for shape in shapes.values():
        if shape:
            _check_rows(shape[0], limits)
    values = sum(math.prod(shape) for shape in shapes.values())  # exact, never wraps
    if values > limits.max_elements:
        raise RequestError(f"the request holds {values} values, over the limit of "
                           f"{limits.max_elements} per request (gallery serve "
                           f"--max-elements)", status=413)
    inputs = {}
    for key, value in columns.items():
        dtype, spec = signature.inputs[key]
        inputs[key] = _check_shape(to_array(value, dtype, key, shapes[key]), spec, key)
    return signature, inputs, rows is not None, rows


def _check_rows(rows, limits):
    if rows > limits.max_rows:
        raise RequestError(f"the request has {rows} rows, over the limit of "
                           f"{limits.max_rows} per request (gallery serve --max-rows); "
                           "send them in several requests", status=413)


_STEP = np.zeros(256, np.int8)
_STEP[list(b"[{")], _STEP[list(b"]}")] = 1, -1


def check_depth(body, limit, window=2**20):
    """Refuse a JSON text (UTF-8 ``bytes``) whose arrays and objects nest deeper than
    ``limit``, before parsing it (Python's parser recurses once per level).

    Vectorised over the bytes: a quote preceded by an odd run of backslashes is
    escaped; the others open and close strings, so a byte is inside a string where the
    count of quotes before it is odd, and brackets there are text. The depth after each
    remaining bracket is the running sum of +1 (``[ {``) and -1 (``] }``), summed
    ``window`` brackets at a time.
    """
    if body.count(b"[") + body.count(b"{") <= limit:  # cannot be deeper (most requests)
        return
    data = np.frombuffer(body, np.uint8)
    quotes = data == ord('"')
    if b"\\" in body:
        edges = np.diff((data == ord("\\")).view(np.int8), prepend=0, append=0)
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        escaped = ends[(ends - starts) % 2 == 1]  # the byte after an odd run of backslashes
        quotes[escaped[escaped < len(data)]] = False
    outside = (np.cumsum(quotes, dtype=np.uint8) & 1) == 0  # parity survives overflow
    steps = _STEP[data]
    steps = steps[(steps != 0) & outside]
    depth = 0
    for start in range(0, len(steps), window):
        levels = depth + np.cumsum(steps[start:start + window], dtype=np.int64)
        if levels.max() > limit:
            raise RequestError(f"the request nests arrays or objects deeper than "
                               f"{limit} levels (gallery serve --max-json-depth)")
        depth = int(levels[-1])


def _is_bytes(value):
    return isinstance(value, dict) and list(value) == ["b64"]


def _columns_of_rows(instances, specs):
    if not isinstance(instances, list) or not instances:
        raise RequestError("\"instances\" must be a non-empty list of rows")
    names = list(specs)
    scalars = [key for key in names if specs[key][1] is not None and not specs[key][1]]
    if scalars:
        raise RequestError(f"input {scalars[0]!r} is a scalar (no batch dimension); send "
                           "this signature's inputs in the columnar form, \"inputs\"")
    if len(names) == 1 and not all(isinstance(r, dict) and not _is_bytes(r)
                                   for r in instances):
        return {names[0]: instances}
    for index, row in enumerate(instances):
        if not isinstance(row, dict) or _is_bytes(row):
            raise RequestError(f"instance {index} must be an object with the inputs "
                               f"{names}")
        _check_names(row, specs, f"instance {index}")
    return {key: [row[key] for row in instances] for key in names}


def _columns(inputs, specs):
    names = list(specs)
    if isinstance(inputs, dict) and not _is_bytes(inputs):
        _check_names(inputs, specs, "\"inputs\"")
        return inputs
    if len(names) != 1:
        raise RequestError(f"\"inputs\" must be an object with the inputs {names}")
    return {names[0]: inputs}


def _check_names(given, specs, where):
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise RequestError(f"{where}: unknown input {unknown[0]!r}; the signature's inputs "
                           f"are {list(specs)}")
    missing = [key for key in specs if key not in given]
    if missing:
        raise RequestError(f"{where}: missing input {missing[0]!r}; the signature's inputs "
                           f"are {list(specs)}")


def _nested_shape(value, spec, name):
    """The shape of a nested JSON list as its first items give it (a ragged list is
    refused later), checked against the rank of ``spec`` when that is known; walked
    at most :data:`MAX_RANK` levels deep."""
    shape, probe = [], value
    while isinstance(probe, list):
        if len(shape) == MAX_RANK:
            raise RequestError(f"input {name!r} has more than {MAX_RANK} dimensions (the "
                               "most the server takes)")
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    if spec is not None and len(shape) != len(spec):
        raise RequestError(_shape_message(name, shape, spec))
    return shape


def to_array(value, dtype, name, shape=None):
    """A nested JSON list (or scalar) → NumPy array of ``dtype`` (a ``tf.DType``),
    refusing ragged lists and values of the wrong JSON type. ``shape``: the one
    :func:`_nested_shape` found, if known."""
    shape = _nested_shape(value, None, name) if shape is None else shape
    leaves = []
    _flatten(value, shape, 0, leaves, name)
    convert = _LEAF.get(dtype.name) or _number(dtype)
    try:
        flat = [convert(leaf) for leaf in leaves]
        array = np.array(flat, dtype=object if dtype.name == "string" else dtype.as_numpy_dtype)
    except (TypeError, ValueError, OverflowError, binascii.Error) as error:
        raise RequestError(f"input {name!r} ({_TF_NAME.get(dtype.name, dtype.name)}): "
                           f"{error}") from None
    return array.reshape(shape)


def _flatten(value, shape, depth, leaves, name):
    if depth == len(shape):
        if isinstance(value, list):
            raise RequestError(f"input {name!r} is a ragged list (rows of different lengths)")
        leaves.append(value)
        return
    if not isinstance(value, list) or len(value) != shape[depth]:
        raise RequestError(f"input {name!r} is a ragged list (rows of different lengths)")
    for item in value:
        _flatten(item, shape, depth + 1, leaves, name)


def _string(leaf):
    if isinstance(leaf, str):
        return leaf.encode("utf-8", "surrogatepass")
    if _is_bytes(leaf) and isinstance(leaf["b64"], str):
        return base64.b64decode(leaf["b64"], validate=True)
    raise TypeError(f"expected a string or {{\"b64\": ...}}, got {json.dumps(leaf)[:40]}")


def _bool(leaf):
    if isinstance(leaf, bool):
        return leaf
    raise TypeError(f"expected true or false, got {json.dumps(leaf)[:40]}")


def _number(dtype):
    integer = dtype.is_integer

    def convert(leaf):
        if isinstance(leaf, bool) or not isinstance(leaf, (int, float)):
            raise TypeError(f"expected a number, got {json.dumps(leaf)[:40]}")
        if integer:
            if isinstance(leaf, float) and not leaf.is_integer():
                raise TypeError(f"expected a whole number, got {leaf}")
            if not dtype.min <= leaf <= dtype.max:
                raise ValueError(f"{leaf} is out of range")
            return int(leaf)
        return leaf
    return convert


_LEAF = {"string": _string, "bool": _bool}
_TF_NAME = {"string": "DT_STRING", "bool": "DT_BOOL", "float32": "DT_FLOAT",
            "float64": "DT_DOUBLE", "int32": "DT_INT32", "int64": "DT_INT64"}


def _check_shape(array, spec, name):
    if spec is None:
        return array
    shape = array.shape
    if len(shape) != len(spec) or any(d is not None and d != s for d, s in zip(spec, shape)):
        raise RequestError(_shape_message(name, shape, spec))
    return array


def _shape_message(name, shape, spec):
    want = "[" + ", ".join("-1" if d is None else str(d) for d in spec) + "]"
    return f"input {name!r} has shape {list(shape)}; the signature takes {want}"


def format_predict(outputs, row_format, rows):
    """The response object for ``outputs`` (``{name: array}``)."""
    names = sorted(outputs)
    values = {key: json_value(outputs[key], key) for key in names}
    if not row_format:
        return {"outputs": values[names[0]] if len(names) == 1 else values}
    for key in names:
        if outputs[key].ndim == 0 or outputs[key].shape[0] != rows:
            raise RequestError(f"output {key!r} has no row per instance; use the columnar "
                               "form, \"inputs\"")
    if len(names) == 1:
        return {"predictions": values[names[0]]}
    return {"predictions": [{key: values[key][i] for key in names} for i in range(rows)]}


def json_value(array, name):
    """``array`` as nested JSON lists; strings decoded as UTF-8 (undecodable bytes as
    U+FFFD), or as ``{"b64": ...}`` where ``name`` ends in ``_bytes``."""
    array = np.asarray(array)
    if array.dtype != object and array.dtype.kind != "S":
        return array.tolist()
    if name.endswith("_bytes"):
        leaf = lambda b: {"b64": base64.b64encode(b).decode("ascii")}  # noqa: E731
    else:
        leaf = lambda b: b.decode("utf-8", "replace")  # noqa: E731
    return _map_nested(array.tolist(), leaf)


def _map_nested(value, leaf):
    if isinstance(value, list):
        return [_map_nested(item, leaf) for item in value]
    return leaf(value)


def encode_response(value, max_bytes):
    """``value`` (what :func:`format_predict` gives) as UTF-8 JSON, the same bytes as
    ``json.dumps(value, ensure_ascii=False)``, or a :class:`RequestError` once they
    would pass ``max_bytes``: objects are written key by key and a list of rows row by
    row, so at most one row past the limit is ever encoded."""
    parts, size = [], 0

    def emit(text):
        nonlocal size
        data = text.encode("utf-8")
        size += len(data)
        if size > max_bytes:
            raise RequestError(f"the response would be over the limit of {max_bytes} bytes "
                               "(gallery serve --max-response-mb); send fewer rows")
        parts.append(data)

    def write(item):
        if isinstance(item, dict):
            emit("{")
            for index, (key, inner) in enumerate(item.items()):
                emit((", " if index else "") + json.dumps(key, ensure_ascii=False) + ": ")
                write(inner)
            emit("}")
        elif isinstance(item, list):
            emit("[")
            for index, row in enumerate(item):
                emit((", " if index else "") + json.dumps(row, ensure_ascii=False))
            emit("]")
        else:
            emit(json.dumps(item, ensure_ascii=False))
    write(value)
    return b"".join(parts)
