"""Running an end-to-end model over many raw inputs in batches."""

import pathlib

import numpy as np
import tensorflow as tf

from gallery.errors import GalleryError


def utf8_bytes(texts):
    """Python strings → UTF-8 ``bytes`` for a ``tf.string`` tensor. A command-line
    argument holding bytes that are not UTF-8 arrives as lone surrogates, which
    ``tf.constant`` refuses; ``surrogateescape`` turns them back into the original
    bytes, and the model's own decoding (invalid UTF-8 → U+FFFD) takes it from there."""
    return [t.encode("utf-8", "surrogateescape") if isinstance(t, str) else t for t in texts]


def shown_text(text):
    """What to print for a user's input: undecodable bytes as U+FFFD."""
    return utf8_bytes([text])[0].decode("utf-8", "replace")


def predict_batches(model, inputs, batch_size=256):
    """``model(inputs)`` in batches of ``batch_size``; NumPy result, first axis = inputs
    (strings may hold undecodable command-line bytes, see :func:`utf8_bytes`)."""
    inputs = utf8_bytes(inputs)
    outputs = []
    for start in range(0, len(inputs), batch_size):
        batch = tf.constant(inputs[start:start + batch_size])
        outputs.append(np.asarray(model(batch, training=False)))
    return np.concatenate(outputs, axis=0)


def is_export_folder(path):
    """Whether ``path`` is a SavedModel export (or a folder of numbered versions)
    rather than a run folder."""
    path = pathlib.Path(path)
    return path.is_dir() and not (path / "model.keras").exists() and (
        (path / "saved_model.pb").is_file()
        or any((p / "saved_model.pb").is_file() for p in path.iterdir() if p.name.isdigit()))


class ExportPredictor:
    """Rows of an export's ``serving_default`` outputs for batches of CLI/file items
    (``task.serving_request`` turns items into the signature's inputs). Outputs with a
    time axis are cut to each input's ``lengths`` where the request has them."""

    def __init__(self, task, path):
        from gallery.serving.model import ServedModel

        self.task, model = task, ServedModel(task.name, path)
        if "serving_default" not in model.signatures:
            raise GalleryError(f"{path} has no serving_default signature")
        self.signature = model.signatures["serving_default"]

    def __call__(self, items):
        from gallery.serving.codec import json_value

        inputs = self.task.serving_request(items, self.signature.inputs)
        outputs = self.signature(inputs)
        lengths = inputs.get("lengths")
        padded = None if lengths is None else inputs["frames"].shape[1]
        rows = []
        for i, item in enumerate(items):
            row = {"input": shown_text(item)}
            for key in sorted(outputs):
                value = outputs[key][i]
                if padded is not None and value.ndim and value.shape[0] == padded:
                    value = value[:lengths[i]]
                row[key] = json_value(value, key)
            rows.append(row)
        return rows
