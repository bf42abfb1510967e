"""Running an end-to-end model over many raw inputs in batches."""

import numpy as np
import tensorflow as tf


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
