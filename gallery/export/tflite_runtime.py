"""The generic TFLite runtime: load a ``gallery export --format tflite`` export, check
it, and run its models with plain Python and NumPy; the task's decoder does the rest.

``MODEL.tflite`` holds a task's recurrent network with a batch of one and TFLite's
built-in ops only (a time axis exported as ``None`` takes the input's real length; more
parts, e.g. a one-token ``step``, in ``MODEL.PART.tflite``);
``MODEL.json`` beside it holds what TFLite cannot do (vocabularies, labels) and:

- ``models``: each part's file name and SHA-256. :class:`TFLiteModel` runs the file it
  is given and nothing else, and hands the interpreter only bytes whose hash matches
  (a truncated, changed or swapped file is a :class:`GalleryError`, never a crash
  inside TFLite);
- ``input_limits``: the range ``[0, limit)`` of every integer input (token ids below
  the embedding's size); :meth:`TFLiteModel.run` refuses a value outside it before the
  interpreter sees it;
- ``decoder``: ``module:Class`` of the task's :class:`TFLiteDecoder` (its
  ``Task.tflite_decoder``), which turns one input into the models' inputs and their
  outputs into one answer: text → ids, greedy decoding, labels (helpers in
  :mod:`gallery.export.tflite_decoding`). Nothing here names a task.

Nothing here imports TensorFlow unless the LiteRT runtime (``ai_edge_litert``) is
missing, in which case ``tf.lite.Interpreter`` runs the model; a decoder's module
imports no TensorFlow either::

    from gallery.export.tflite_runtime import TFLiteModel
    model = TFLiteModel("sentiment.tflite")
    model.predict(["a gorgeous, witty film"])  # [{"label": "positive", "probability": ...}]
"""

import collections.abc
import hashlib
import json
import os
import pathlib

import numpy as np

from gallery.errors import GalleryError
from gallery.registry import import_object, import_reason, is_object_path

#: The largest ``.json`` side file read (a vocabulary of a million words is ~10 MB).
MAX_SIDE_FILE_BYTES = 64 * 2**20
#: The largest model file read: 2 GiB, the limit of TFLite's FlatBuffer format itself.
MAX_MODEL_BYTES = 2 * 2**30
#: What to do about an export from before the side file held hashes.
RE_EXPORT = "re-export it with `gallery export TASK --model RUN --format tflite`"


def interpreter(content, name="the model", num_threads=None):
    """A TFLite interpreter for the model bytes ``content`` (``name``: the file, for the
    error line; ``num_threads``: the interpreter's threads, ``None`` its default), its
    tensors allocated, without the runtime's notice on stderr."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import warnings

        from gallery.quiet import import_tensorflow

        import_tensorflow()  # without TensorFlow's start-up lines on stderr
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
    from gallery.quiet import TFLITE_NOTICE, native_stderr_without

    try:
        with native_stderr_without(TFLITE_NOTICE):
            model = Interpreter(model_content=content, num_threads=num_threads)
            model.allocate_tensors()
    except (ValueError, RuntimeError) as error:  # not a FlatBuffer, or ops it cannot run
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise GalleryError(f"{name} is not a TFLite model this runtime can run: "
                           f"{reason}") from None
    return model


def sha256(data):
    """The SHA-256 of ``data`` (bytes) as 64 hex digits: what the side file records."""
    return hashlib.sha256(data).hexdigest()


def _read_bounded(path, limit, what):
    """The bytes of ``path``, or a one-line error if it is missing or over ``limit``."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(limit + 1) if size <= limit else b""
    except FileNotFoundError:
        raise GalleryError(f"{path.name} not found") from None
    except IsADirectoryError:
        raise GalleryError(f"{path.name} is a folder, not a {what}") from None
    except OSError as error:
        raise GalleryError(f"cannot read {path.name}: {error.strerror or error}") from None
    if max(size, len(data)) > limit:
        raise GalleryError(f"{path.name} is larger than a {what} can be ({limit:,} bytes)")
    return data


def read_export(path):
    """``(info, {part: model bytes})`` of the export whose main file is ``path``:
    its side file ``path.with_suffix(".json")`` parsed, and each model file it lists
    read and checked against its recorded SHA-256. ``path`` must be the file the side
    file names first-hand (``gallery export --out``); anything else is refused."""
    path = pathlib.Path(path)
    if path.suffix != ".tflite":
        raise GalleryError(f"{path.name} is not a .tflite file (give the file "
                           "`gallery export --format tflite --out` wrote)")
    side = path.with_suffix(".json")
    if not side.exists():
        raise GalleryError(f"no {side.name} beside {path.name} (the side file `gallery "
                           "export --format tflite` writes with it)")
    try:
        info = json.loads(_read_bounded(side, MAX_SIDE_FILE_BYTES, "TFLite side file"))
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise GalleryError(f"{side.name} is not valid JSON ({error})") from None
    models = info.get("models") if isinstance(info, dict) else None
    if not isinstance(models, dict) or not models:
        raise GalleryError(f"{side.name} is not a gallery TFLite side file (no \"models\")")
    if not all(isinstance(entry, dict) and isinstance(entry.get("file"), str)
               and isinstance(entry.get("sha256"), str) for entry in models.values()):
        raise GalleryError(f"{side.name} records no SHA-256 of its model files (written by "
                           f"an older gallery); {RE_EXPORT}")
    if path.name not in [entry["file"] for entry in models.values()]:
        raise GalleryError(f"{side.name} describes {_files(models)}, not {path.name}; give "
                           f"the file it describes, or {RE_EXPORT}")
    contents = {}
    for part, entry in models.items():
        name = entry["file"]
        if pathlib.PurePath(name).name != name or name in (".", "..") or "\\" in name:
            raise GalleryError(f"{side.name} names {name!r} as a model file; only a file "
                               "beside it is read")
        data = _read_bounded(path.with_name(name), MAX_MODEL_BYTES, "TFLite model")
        if sha256(data) != entry["sha256"]:
            raise GalleryError(f"{name} ({len(data):,} bytes) is not the file {side.name} "
                               f"describes (its SHA-256 differs: a truncated, changed or "
                               f"swapped file); {RE_EXPORT}")
        contents[part] = data
    return info, contents


def _files(models):
    return ", ".join(entry["file"] for entry in models.values())


def one_step_parts(info, contents, side):
    """The parts the side file's ``one_step_parts`` names: the models a decoder calls
    once per token or frame (:func:`gallery.export.tflite.step_model`), which run on
    one thread whatever ``num_threads`` says: a step is a few small ops, and handing
    them to a second thread costs more than it saves (docs/performance.md, the
    decoders' rows). Absent (an export from before it was written): none."""
    names = info.get("one_step_parts", [])
    if not (isinstance(names, list)
            and all(isinstance(name, str) and name in contents for name in names)):
        raise GalleryError(f"{side}: one_step_parts must be a list (maybe empty) of names "
                           f"in \"models\" ({', '.join(contents)}), got {names!r:.60}; "
                           f"{RE_EXPORT}")
    return set(names)


class TFLiteDecoder:
    """A task's part of running its TFLite export: one input → the inputs of the
    exported models (``self.model.run(part, **arrays)``) → one answer, a dict as
    ``gallery predict`` prints. ``self.info`` is the side file (what the task's
    ``tflite_models`` wrote there). A task names its subclass in
    ``Task.tflite_decoder``; it must live in a module that imports no TensorFlow."""

    def __init__(self, model):
        self.model, self.info = model, model.info

    def predict_one(self, item):
        """The answer for one input (a text, image bytes, an array...)."""
        raise NotImplementedError


def decoder_class(path, side):
    """The :class:`TFLiteDecoder` subclass a side file names as ``module:Class``."""
    if not is_object_path(path):
        raise GalleryError(f"{side} names no decoder (module:Class); {RE_EXPORT}")
    try:
        found = import_object(path)
    except Exception as error:  # whatever the module raised: one line, kept as the cause
        raise GalleryError(f"{side} names the decoder {path!r}, which cannot be imported: "
                           f"{import_reason(error)}") from error
    if not (isinstance(found, type) and issubclass(found, TFLiteDecoder)):
        raise GalleryError(f"{side} names {path!r} as its decoder, which is not a "
                           "gallery.export.tflite_runtime.TFLiteDecoder")
    return found


class TFLiteModel:
    """A ``.tflite`` file and its ``.json`` side file; ``predict(inputs)`` gives one
    dict per input, as ``gallery predict`` does (through the task's decoder,
    ``self.decoder``). ``path`` is the file ``gallery export --format tflite --out``
    wrote; it runs only if its side file describes it (name and SHA-256,
    :func:`read_export`)."""

    def __init__(self, path, num_threads=None):
        side = pathlib.Path(path).with_suffix(".json").name
        self.info, contents = read_export(path)
        decoder = decoder_class(self.info.get("decoder"), side)
        one_step = one_step_parts(self.info, contents, side)
        self.parts = {part: interpreter(data, f"the {part!r} model of {pathlib.Path(path).name}",
                                        1 if part in one_step else num_threads)
                      for part, data in contents.items()}
        self.runners = {part: model.get_signature_runner() for part, model in self.parts.items()}
        self.inputs = {part: runner.get_input_details() for part, runner in self.runners.items()}
        self.limits = self._input_limits(side)
        # What run() checks and feeds, worked out once: (name, shape signature with -1
        # for a free axis, dtype, limit or None) per input, and the outputs' order.
        self._feeds = {part: [(name, tuple(int(n) for n in detail["shape_signature"]),
                               detail["dtype"], self.limits[part].get(name))
                              for name, detail in details.items()]
                       for part, details in self.inputs.items()}
        self._outputs = {part: sorted(runner.get_output_details(),
                                      key=lambda name: int(name.rsplit("_", 1)[-1]))
                         for part, runner in self.runners.items()}  # output_0, output_1, ...
        self.decoder = decoder(self)

    def _input_limits(self, side):
        """``{part: {input: limit}}`` for every integer input, from the side file; an
        integer input without a limit there is refused (no guessing its range)."""
        declared = self.info.get("input_limits", {})
        limits = {}
        for part, details in self.inputs.items():
            limits[part] = {}
            for name, detail in details.items():
                if not np.issubdtype(detail["dtype"], np.integer):
                    continue
                limit = declared.get(part, {}).get(name) if isinstance(declared, dict) else None
                if not isinstance(limit, int) or limit < 1:
                    raise GalleryError(f"{side} gives no range for the integer input {name!r} "
                                       f"of {part!r} (input_limits); {RE_EXPORT}")
                limits[part][name] = limit
        return limits

    def run(self, part, **inputs):
        """One invocation of model ``part``: ``name=array`` for each input (by its
        Keras input name) → its outputs, a list in the Keras model's order. Each array
        must have the input's shape (any size on an axis exported as ``None``, such as
        the time axis of a model whose loop runs over the real length: TFLite resizes
        it), and an integer input's values must lie in ``[0, limit)``
        (``input_limits``: e.g. ids below the embedding's size), or
        ``GalleryError``: the interpreter never sees them."""
        feed = {}
        for name, shape, dtype, limit in self._feeds[part]:
            value = np.asarray(inputs[name])
            if value.ndim != len(shape) or any(
                    want not in (-1, got) for want, got in zip(shape, value.shape)) or (
                    0 in value.shape):
                shown = ", ".join("None" if n == -1 else str(n) for n in shape)
                raise ValueError(f"{part} input {name!r} takes shape ({shown}) (no empty "
                                 f"axis), got {value.shape}")
            if limit is not None and (value.min() < 0 or value.max() >= limit):
                bad = value.max() if value.max() >= limit else value.min()
                raise GalleryError(f"{part} input {name!r}: {bad} is outside 0..{limit - 1} "
                                   "(the range the model was exported with)")
            feed[name] = value.astype(dtype, copy=False)
        result = self.runners[part](**feed)
        return [result[name] for name in self._outputs[part]]

    def predict(self, inputs):
        """One dict per item of ``inputs``: a list (tuple, or array whose first axis
        runs over inputs), never a bare string, bytes or scalar."""
        if isinstance(inputs, (str, bytes, bytearray, np.generic)) or not isinstance(
                inputs, (collections.abc.Sequence, np.ndarray)) or np.ndim(inputs) == 0:
            raise TypeError(f"TFLiteModel.predict takes a list of inputs, got a "
                            f"{type(inputs).__name__}; pass [item] for one input")
        return [self.decoder.predict_one(item) for item in inputs]

