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
Every problem with a request raises :class:`RequestError` (HTTP 400).
"""

import base64
import binascii
import json

import numpy as np


class RequestError(ValueError):
    """A request the signature cannot take; its message goes to the client (400)."""


def parse_predict(body, signatures):
    """``(signature, inputs, row_format, rows)`` from a predict body (``bytes``).

    ``inputs`` maps every input name of the signature to a NumPy array whose shape and
    dtype fit the signature's spec; ``rows`` is the batch size (row format) or None.
    """
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(f"malformed JSON: {error}") from None
    if not isinstance(request, dict):
        raise RequestError("the request body must be a JSON object with \"instances\" "
                           "or \"inputs\"")
    name = request.get("signature_name", "serving_default")
    if not isinstance(name, str) or name not in signatures:
        raise RequestError(f"serving signature name {name!r} not found; the model has "
                           f"{sorted(signatures)}")
    signature = signatures[name]
    if ("instances" in request) == ("inputs" in request):
        raise RequestError("a request needs exactly one of \"instances\" (row format) and "
                           "\"inputs\" (columnar format)")
    if "instances" in request:
        columns = _columns_of_rows(request["instances"], signature.inputs)
        rows = len(request["instances"])
    else:
        columns, rows = _columns(request["inputs"], signature.inputs), None
    inputs = {}
    for key, value in columns.items():
        dtype, shape = signature.inputs[key]
        inputs[key] = _check_shape(to_array(value, dtype, key), shape, key)
    return signature, inputs, rows is not None, rows


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


def to_array(value, dtype, name):
    """A nested JSON list (or scalar) → NumPy array of ``dtype`` (a ``tf.DType``),
    refusing ragged lists and values of the wrong JSON type."""
    shape, probe = [], value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
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
    want = "[" + ", ".join("-1" if d is None else str(d) for d in spec) + "]"
    shape = array.shape
    if len(shape) != len(spec) or any(d is not None and d != s for d, s in zip(spec, shape)):
        raise RequestError(f"input {name!r} has shape {list(shape)}; the signature takes "
                           f"{want}")
    return array


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
