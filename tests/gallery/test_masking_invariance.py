"""Padding never changes what a sequence computes, nor the gradients of a masked loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gallery.layers import Recurrent, make_cell
from gallery.masking import lengths_to_mask, masked_sparse_categorical_crossentropy

LENGTHS = [6, 2, 4]
T, D, H = 6, 3, 4


def _padded(rng, pad_value=0.0):
    x = rng.normal(size=(len(LENGTHS), T, D)).astype("float32")
    for row, n in enumerate(LENGTHS):
        x[row, n:] = pad_value
    return x


@pytest.mark.parametrize("kind", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_batch_equals_each_sequence_alone(kind, bidirectional):
    layer = Recurrent([make_cell(kind, H), make_cell(kind, H)], return_sequences=True)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    x = _padded(np.random.default_rng(0), pad_value=9.0)
    batch = np.asarray(layer(x, mask=lengths_to_mask(LENGTHS, T)))
    for row, n in enumerate(LENGTHS):
        alone = np.asarray(layer(x[row:row + 1, :n]))
        np.testing.assert_allclose(batch[row, :n], alone[0], atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_masked_loss_gradients_ignore_padding_values(kind):
    layer = Recurrent(make_cell(kind, H), return_sequences=True)
    head = keras.layers.Dense(5)
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, size=(len(LENGTHS), T))
    mask = lengths_to_mask(LENGTHS, T)

    def grads(x, y):
        with tf.GradientTape() as tape:
            logits = head(layer(x, mask=mask))
            loss = masked_sparse_categorical_crossentropy(y, logits, mask)
        return loss, tape.gradient(loss, layer.trainable_variables + head.trainable_variables)

    x_clean = _padded(np.random.default_rng(2), 0.0)
    x_noisy = _padded(np.random.default_rng(2), 0.0)
    x_noisy[np.asarray(~mask)] = rng.normal(size=(int((~mask).numpy().sum()), D)) * 100
    y_noisy = labels.copy()
    y_noisy[np.asarray(~mask)] = 4 - y_noisy[np.asarray(~mask)]
    loss_a, grads_a = grads(x_clean, labels)
    loss_b, grads_b = grads(x_noisy, y_noisy)
    np.testing.assert_allclose(loss_a, loss_b, rtol=1e-6)
    for a, b in zip(grads_a, grads_b):
        np.testing.assert_allclose(a, b, atol=1e-6)
