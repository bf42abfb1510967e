"""``gallery export --format tflite``: a task's recurrent model as a ``.tflite`` file
with TFLite's built-in ops only (no ``SELECT_TF_OPS``, no Flex delegate), and the
``.json`` side file :mod:`gallery.export.tflite_runtime` reads (each model file's
SHA-256, the range of every integer input, the task's decoder).

TFLite cannot legalise the ``TensorList`` ops of a ``tf.while_loop`` over a time axis
of unknown length (``'tf.TensorListReserve' op requires element_shape to be 1D
tensor``); each task's ``tflite_models`` therefore gives a Keras model with fixed
input shapes, whose loop has a static trip count and converts to the built-in
``WHILE`` op. A task gives one or more such models (e.g. an ``encoder`` and a
one-token decoder ``step`` with its states as inputs and outputs, :func:`step_model`);
the first is written to ``OUT.tflite``, the others to ``OUT.PART.tflite``, and
``OUT.json`` says which is which. Preprocessing TFLite has no ops for (string
vectorisation, image decoding) moves to the side file and to the task's
``tflite_decoder`` (NumPy).
"""

import contextlib
import io
import pathlib

import keras

from gallery.errors import GalleryError
from gallery.export.tflite_runtime import TFLiteDecoder, sha256
from gallery.registry import task_class_path
from gallery.runs import atomic_write, write_json


def builtin_op_names():
    """Every operator name of TFLite's built-in op set (its flatbuffer schema)."""
    from tensorflow.lite.python import schema_py_generated as schema

    return {name for name in vars(schema.BuiltinOperator) if name.isupper()}


def model_ops(tflite_bytes):
    """The operator names a ``.tflite`` model uses, in every subgraph (a ``WHILE``'s
    body and condition, an ``IF``'s branches): its FlatBuffer's operator-code table. A
    custom op is named ``CUSTOM:name``, which no built-in op is."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {code: name for name, code in vars(schema.BuiltinOperator).items()
             if name.isupper()}
    model = schema.Model.GetRootAsModel(tflite_bytes, 0)
    ops = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        # codes above 127 live in BuiltinCode only; older ones in the deprecated byte too
        number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if number == schema.BuiltinOperator.CUSTOM:
            ops.add(f"CUSTOM:{code.CustomCode().decode()}")
        else:
            ops.add(names[number])
    return ops


def convert(keras_model):
    """``(tflite bytes, op names)`` of ``keras_model`` (fixed input shapes) with
    built-in ops only; a model that needs any other op raises ``GalleryError``."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras lists the captures
            data = converter.convert()
    except Exception as error:  # ConverterError: the ops that did not legalise
        lines = [line.strip() for line in str(error).splitlines() if "error:" in line]
        raise GalleryError("TFLite conversion with built-in ops only failed: "
                           f"{(lines or [str(error)])[0][:300]}") from None
    ops = model_ops(data)
    foreign = sorted(op for op in ops - builtin_op_names())
    if foreign:
        raise GalleryError(f"the TFLite model uses ops that are not built in: {foreign}")
    return data, ops


def text_facts(to_ids):
    """What the side file holds of a ``TextToIds`` layer, for
    :class:`gallery.export.tflite_decoding.TextIds`: its id → token table, padding and
    unknown ids (the layer owns them), token mode and length."""
    return {"id_to_token": to_ids.id_to_token(), "padding_id": to_ids.padding_id,
            "unknown_id": to_ids.unknown_id, "tokens": to_ids.tokens,
            "max_length": to_ids.max_length}


def part_path(out, part, first):
    """Where part ``part`` goes: ``out`` for the first, ``OUT.PART.tflite`` else."""
    return out if first else out.with_name(f"{out.stem}.{part}.tflite")


def check_input_limits(models, info):
    """Every integer input of every part has a range in ``info["input_limits"]``
    (``{part: {input name: limit}}``, values ``0 <= v < limit``; for token ids the
    embedding's size), so the runtime can refuse an id before TFLite reads past a
    table; a task that leaves one out cannot export."""
    declared = info.get("input_limits", {})
    for part, model in models.items():
        for tensor in model.inputs:
            name = tensor.name.split(":")[0]
            if "int" in str(tensor.dtype) and not (
                    isinstance(declared.get(part, {}).get(name), int)
                    and declared[part][name] >= 1):
                raise GalleryError(f"the task's tflite_models gives no input_limits for the "
                                   f"integer input {name!r} of {part!r}")


def export_tflite(task, config, model, meta, out, overwrite=False):
    """Write ``out`` (``.tflite``) and ``out`` with ``.json``; return both paths. The
    side file records each model file's name and SHA-256, which the runtime checks,
    and the task's class and ``tflite_decoder`` (``module:Class``), which the runtime
    imports to decode."""
    out = pathlib.Path(out)
    if out.suffix != ".tflite":
        raise GalleryError(f"--out must name a .tflite file, got {out}")
    side = out.with_suffix(".json")
    decoder = task.tflite_decoder
    if not (isinstance(decoder, type) and issubclass(decoder, TFLiteDecoder)):
        raise GalleryError(f"the {task.name} task's tflite_decoder is not a TFLiteDecoder "
                           "subclass (gallery.export.tflite_runtime)")
    models, info = task.tflite_models(config, model, meta)
    check_input_limits(models, info)
    paths = {part: part_path(out, part, i == 0) for i, part in enumerate(models)}
    for path in (*paths.values(), side):
        if path.exists() and not overwrite:
            raise GalleryError(f"{path} exists; choose another --out or pass --overwrite")
    converted = {part: convert(models[part]) for part in models}
    files = {part: {"file": paths[part].name, "sha256": sha256(data)}
             for part, (data, _) in converted.items()}
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for part, (data, _) in converted.items():
            atomic_write(paths[part], lambda handle, data=data: handle.write(data))
        write_json(side, {**info, "task": task.name, "task_class": task_class_path(task),
                          "decoder": f"{decoder.__module__}:{decoder.__qualname__}",
                          "models": files,
                          "one_step_parts": [part for part, m in models.items()
                                             if any(isinstance(layer, _Step)
                                                    for layer in m.layers)],
                          "ops": sorted(set().union(*(ops for _, ops in converted.values())))})
    except OSError as error:
        raise GalleryError(f"cannot write {out}: {error.strerror or error}") from None
    return [*paths.values(), side]


def step_model(step, token_dtype, state_shapes, name="step", token_shape=(),
               token_name="token"):
    """A one-token decoder as a Keras model TFLite can convert: inputs ``token``
    ``(1, *token_shape)`` and ``state0 … stateN`` (batch 1; ``state_shapes``: each
    state's shape without it, or ``(shape, dtype)``), outputs
    ``[logits (1, V), new state0, …]``. ``step(tokens (B, *token_shape), states list) →
    (logits, states list)`` is the task's own step (the trained layers), so Python can
    run greedy decoding (or a stream, one frame per call) around the ``.tflite`` file.
    ``token_name`` names the first input (e.g. ``frames``)."""
    token = keras.Input(tuple(token_shape), batch_size=1, dtype=token_dtype, name=token_name)
    specs = [spec if len(spec) == 2 and isinstance(spec[1], str) else (spec, "float32")
             for spec in state_shapes]
    states = [keras.Input(shape, batch_size=1, dtype=dtype, name=f"state{i}")
              for i, (shape, dtype) in enumerate(specs)]
    return keras.Model([token, *states], _Step(step)(token, states), name=name)


class _Step(keras.layers.Layer):
    """Wraps a decoding step function for :func:`step_model` (used only to convert)."""

    def __init__(self, step, **kwargs):
        super().__init__(**kwargs)
        self.step = step

    def call(self, token, states):
        logits, new_states = self.step(token, list(states))
        return [logits, *new_states]
