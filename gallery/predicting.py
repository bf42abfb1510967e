"""Running an end-to-end model over many raw inputs in batches."""

import numpy as np
import tensorflow as tf


def predict_batches(model, inputs, batch_size=256):
    """``model(inputs)`` in batches of ``batch_size``; NumPy result, first axis = inputs."""
    outputs = []
    for start in range(0, len(inputs), batch_size):
        batch = tf.constant(inputs[start:start + batch_size])
        outputs.append(np.asarray(model(batch, training=False)))
    return np.concatenate(outputs, axis=0)
