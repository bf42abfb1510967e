"""Right-padding a list of variable-length arrays into one batch array."""

import numpy as np


def pad_right(rows, dtype=np.float32, item_shape=None, min_length=1):
    """``[(T_i, *S) arrays]`` → ``(batch (B, T, *S), lengths (B,) int32)``.

    ``T = max(max T_i, min_length)``; every row is copied to the left of its line and
    the rest is zeros (the gallery's padding convention: on the right). ``item_shape``
    (``S``) is taken from the first row unless given, and is needed for an empty list.
    """
    rows = [np.asarray(row) for row in rows]
    if item_shape is None:
        item_shape = rows[0].shape[1:] if rows else ()
    lengths = np.array([len(row) for row in rows], np.int32)
    out = np.zeros((len(rows), max(int(lengths.max(initial=0)), min_length), *item_shape),
                   dtype)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out, lengths
