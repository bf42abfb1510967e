"""One served SavedModel: loaded with plain ``tf.saved_model.load``; status, metadata, run.

An export folder is either a SavedModel (``saved_model.pb`` inside, as ``gallery export
--out saved_models/sentiment/1`` writes) or, as TF Serving's ``--model_base_path``,
a folder of numbered versions (``saved_models/sentiment``), of which the highest is
served.
"""

import json
import pathlib

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2

from gallery.errors import GalleryError

#: Where an export says which signatures it lacks, and why (``{name: why}``).
MISSING_SIGNATURES = pathlib.Path("assets.extra") / "missing_signatures.json"


def find_version(path):
    """``(version, folder)`` of the SavedModel to serve from ``path``: ``path`` itself
    (version = its name if numeric, else 1) or its highest numbered version folder."""
    path = pathlib.Path(path)
    if (path / "saved_model.pb").is_file():
        return (int(path.name) if path.name.isdigit() else 1), path
    versions = sorted((int(p.name), p) for p in path.iterdir()
                      if p.name.isdigit() and (p / "saved_model.pb").is_file()
                      ) if path.is_dir() else []
    if not versions:
        raise GalleryError(f"no SavedModel at {path} (expected saved_model.pb there or in "
                           "a numbered version folder, as `gallery export` writes)")
    return versions[-1]


class Signature:
    """A signature's tensors: ``inputs``/``outputs`` map a name to ``(dtype, shape)``,
    ``dtype`` a ``tf.DType``, ``shape`` a tuple with ``None`` for a free dimension
    (``None`` for an unknown rank)."""

    def __init__(self, name, function):
        self.name, self.function = name, function
        _, kwargs = function.structured_input_signature
        self.inputs = {key: (spec.dtype, _shape(spec.shape)) for key, spec in kwargs.items()}
        self.outputs = {key: (tensor.dtype, _shape(tensor.shape))
                        for key, tensor in function.structured_outputs.items()}

    @property
    def batchable(self):
        """Whether requests can be joined along axis 0: every input and output has a
        free leading (batch) dimension."""
        return all(shape and shape[0] is None
                   for _, shape in [*self.inputs.values(), *self.outputs.values()])

    def __call__(self, inputs):
        """``{name: array}`` → ``{name: array}`` through the signature function."""
        tensors = {key: tf.constant(value, dtype=self.inputs[key][0])
                   for key, value in inputs.items()}
        return {key: np.asarray(value) for key, value in self.function(**tensors).items()}


def read_missing_signatures(path):
    """``{name: why}`` from the export's ``assets.extra/missing_signatures.json`` (which
    ``gallery export`` writes; TensorFlow and TF Serving ignore ``assets.extra``), or
    ``{}``."""
    file = pathlib.Path(path) / MISSING_SIGNATURES
    if not file.is_file():
        return {}
    try:
        notes = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise GalleryError(f"{file} is damaged ({error})") from None
    if not (isinstance(notes, dict) and all(isinstance(v, str) for v in notes.values())):
        raise GalleryError(f"{file} is damaged (not an object of strings)")
    return notes


def _shape(shape):
    return None if shape.rank is None else tuple(shape.as_list())


class ServedModel:
    """The SavedModel ``name`` serves, from export folder ``path``."""

    def __init__(self, name, path):
        self.name = name
        self.version, self.path = find_version(path)
        try:
            loaded = tf.saved_model.load(str(self.path))
        except Exception as error:  # a corrupt or foreign folder: one line
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise GalleryError(f"cannot load the SavedModel at {self.path}: "
                               f"{first or type(error).__name__}") from None
        self._loaded = loaded  # keeps the functions' variables alive
        self.signatures = {key: Signature(key, function)
                           for key, function in loaded.signatures.items()}
        self._signature_defs = _signature_defs(self.path / "saved_model.pb")
        #: ``{name: why}``: signatures this model lacks that others of its task have
        self.missing = read_missing_signatures(self.path)

    def status(self):
        """``GetModelStatusResponse`` as TF Serving writes it in JSON."""
        return {"model_version_status": [{
            "version": str(self.version), "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""}}]}

    def metadata(self):
        """``GetModelMetadataResponse`` as TF Serving writes it in JSON: every
        ``SignatureDef`` of the SavedModel (proto3 JSON, default fields included)."""
        return {"model_spec": {"name": self.name, "signature_name": "",
                               "version": str(self.version)},
                "metadata": {"signature_def": {"signature_def": self._signature_defs}}}


def read_signature_defs(saved_model_pb):
    """``{name: SignatureDef}`` of the first meta graph of a SavedModel, read from its
    ``saved_model.pb`` (TensorFlow 2 writes one meta graph)."""
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(pathlib.Path(saved_model_pb).read_bytes())
    return proto.meta_graphs[0].signature_def


def _signature_defs(saved_model_pb):
    definitions = read_signature_defs(saved_model_pb)
    return {key: json_format.MessageToDict(definitions[key], preserving_proto_field_name=True,
                                           always_print_fields_with_no_presence=True)
            for key in sorted(definitions)}
