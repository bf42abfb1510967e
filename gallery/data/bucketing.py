"""Batching variable-length examples by length buckets for ``tf.data``.

Padding every batch to the longest sequence of the data set wastes most of the
compute of a recurrent layer on padding. Grouping examples of similar length and
padding each batch only to its own longest member (on the right) keeps the padding
small.
"""

import numpy as np
import tensorflow as tf


def bucket_by_length(dataset, boundaries, batch_size, length_fn=None,
                     padding_values=None, drop_remainder=False):
    """Batch ``dataset`` so each batch holds sequences of similar length.

    Args:
        dataset: a ``tf.data.Dataset`` of examples; by default the first component
            (or the example itself) is the sequence whose length counts.
        boundaries: increasing lengths that split the buckets, e.g. ``[16, 32, 64]``
            gives buckets ``<16, 16–31, 32–63, ≥64``.
        batch_size: examples per batch (the same in every bucket).
        length_fn: ``example -> int32 scalar``; default: ``tf.shape(first)[0]``.
        padding_values: as ``tf.data.Dataset.padded_batch``; default zeros.
        drop_remainder: drop each bucket's last, smaller batch.

    Returns: a dataset of right-padded batches, each padded to its own longest member.

    Example::

        ds = tf.data.Dataset.from_generator(...)  # (tokens (None,), label ())
        batches = bucket_by_length(ds, boundaries=[10, 20, 40], batch_size=32)
    """
    if batch_size <= 0:
        raise ValueError(f"`batch_size` must be positive; received {batch_size}.")
    boundaries = [int(b) for b in boundaries]
    if any(b <= 0 for b in boundaries) or boundaries != sorted(set(boundaries)):
        raise ValueError(
            f"`boundaries` must be strictly increasing positive lengths; received {boundaries}.")
    if length_fn is None:
        def length_fn(*example):
            first = example[0]
            while isinstance(first, (tuple, list)):
                first = first[0]
            if isinstance(first, dict):
                first = next(iter(first.values()))
            return tf.shape(first)[0]
    return dataset.bucket_by_sequence_length(
        element_length_func=length_fn,
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=padding_values,
        drop_remainder=drop_remainder,
        pad_to_bucket_boundary=False,
    )


def length_sorted_batches(lengths, batch_size, rng, chunk=32):
    """Index arrays of batches of similar length, for NumPy-side batching.

    The examples are shuffled with ``rng``; every ``chunk`` batches' worth of them is
    sorted by length and cut into batches; the batches are shuffled again. Each batch
    then pads to a length close to its shortest member, and the order still changes
    every epoch.
    """
    order = rng.permutation(len(lengths))
    lengths = np.asarray(lengths)
    batches = []
    for start in range(0, len(order), batch_size * chunk):
        part = order[start:start + batch_size * chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
