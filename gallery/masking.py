"""Masking utilities for padded variable-length batches.

Conventions used everywhere in the gallery:

* sequences are padded **on the right**: ``x[b, t]`` is valid for ``t < length[b]``;
* a mask is a boolean tensor ``(B, T)``, ``True`` on valid steps;
* per-step tensors are ``(B, T, ...)``.

All functions are written with ``keras.ops`` so they work on eager tensors and
inside functional models alike.
"""

import numpy as np
from keras import ops


def lengths_to_mask(lengths, maxlen=None):
    """Lengths ``(B,)`` → boolean mask ``(B, maxlen)``.

    >>> lengths_to_mask([3, 1], maxlen=4)      # [[T, T, T, F], [T, F, F, F]]

    ``maxlen`` defaults to ``max(lengths)``.
    """
    lengths = ops.convert_to_tensor(lengths)
    if maxlen is None:
        maxlen = ops.max(lengths)
    steps = ops.arange(maxlen, dtype=lengths.dtype)
    return ops.expand_dims(steps, 0) < ops.expand_dims(lengths, 1)


def mask_to_lengths(mask):
    """Boolean mask ``(B, T)`` → lengths ``(B,)`` int32 (the number of valid steps)."""
    return ops.sum(ops.cast(mask, "int32"), axis=1)


def last_valid(outputs, mask):
    """The output at each sequence's last valid step.

    ``outputs (B, T, ...)``, ``mask (B, T)`` → ``(B, ...)``. A sequence with no valid
    step gives zeros.

    >>> last_valid([[[1.], [2.], [0.]]], [[True, True, False]])   # [[2.]]
    """
    outputs = ops.convert_to_tensor(outputs)
    lengths = mask_to_lengths(mask)
    index = ops.maximum(lengths - 1, 0)
    index = ops.reshape(index, (-1,) + (1,) * (len(outputs.shape) - 1))
    picked = ops.take_along_axis(outputs, index, axis=1)
    picked = ops.squeeze(picked, axis=1)
    has_any = ops.reshape(lengths > 0, (-1,) + (1,) * (len(picked.shape) - 1))
    return ops.where(has_any, picked, ops.zeros_like(picked))


def reverse_padded(x, lengths):
    """Reverse each sequence's valid part; the padding stays on the right.

    ``x (B, T, ...)``, ``lengths (B,)`` → same shape.

    >>> reverse_padded([[1, 2, 3, 0]], [3])     # [[3, 2, 1, 0]]

    This is what a backward RNN must see: ``ops.flip`` would move the padding to
    the front.
    """
    x = ops.convert_to_tensor(x)
    lengths = ops.cast(ops.convert_to_tensor(lengths), "int32")
    steps = ops.expand_dims(ops.arange(ops.shape(x)[1], dtype="int32"), 0)
    lengths = ops.expand_dims(lengths, 1)
    index = ops.where(steps < lengths, lengths - 1 - steps, steps)
    index = ops.reshape(index, tuple(ops.shape(index)) + (1,) * (len(x.shape) - 2))
    index = ops.broadcast_to(index, ops.shape(x)) if len(x.shape) > 2 else index
    return ops.take_along_axis(x, index, axis=1)


def strip_padding(outputs, lengths):
    """A padded batch ``(B, T, ...)`` → a list of ``B`` NumPy arrays ``(length_b, ...)``."""
    outputs = np.asarray(ops.convert_to_numpy(outputs))
    lengths = np.asarray(ops.convert_to_numpy(lengths)).astype(int)
    return [outputs[b, : lengths[b]] for b in range(outputs.shape[0])]


def masked_mean(x, mask, axis=1):
    """Mean of ``x (B, T, ...)`` over the valid steps of ``mask (B, T)``.

    Rows with no valid step give zeros (not NaN).
    """
    x = ops.convert_to_tensor(x)
    weights = ops.cast(mask, x.dtype)
    weights = ops.reshape(weights, tuple(ops.shape(weights)) + (1,) * (len(x.shape) - 2))
    total = ops.sum(x * weights, axis=axis)
    count = ops.sum(weights, axis=axis)
    return total / ops.maximum(count, 1.0)


def masked_max(x, mask, axis=1):
    """Max of ``x (B, T, F)`` over the valid steps; rows with none give zeros."""
    x = ops.convert_to_tensor(x)
    valid = ops.expand_dims(ops.cast(mask, "bool"), -1)
    lowest = ops.full_like(x, -1e9)
    best = ops.max(ops.where(valid, x, lowest), axis=axis)
    has_any = ops.any(valid, axis=axis)
    return ops.where(has_any, best, ops.zeros_like(best))


def masked_sparse_categorical_crossentropy(y_true, y_pred, mask, from_logits=True):
    """Mean cross-entropy over the valid steps only.

    ``y_true (B, T)`` int class ids, ``y_pred (B, T, C)`` logits (or probabilities
    with ``from_logits=False``), ``mask (B, T)`` → scalar. Padding steps contribute
    nothing, whatever their labels and predictions hold.
    """
    per_step = ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits)
    weights = ops.cast(mask, per_step.dtype)
    safe = ops.where(ops.cast(mask, "bool"), per_step, ops.zeros_like(per_step))
    return ops.sum(safe * weights) / ops.maximum(ops.sum(weights), 1.0)


def masked_accuracy(y_true, y_pred, mask):
    """Fraction of valid steps where ``argmax(y_pred) == y_true``; scalar.

    ``y_true (B, T)`` ints, ``y_pred (B, T, C)`` scores, ``mask (B, T)``.
    """
    predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
    hits = ops.cast(predicted == ops.cast(y_true, "int32"), "float32")
    weights = ops.cast(mask, "float32")
    return ops.sum(hits * weights) / ops.maximum(ops.sum(weights), 1.0)
