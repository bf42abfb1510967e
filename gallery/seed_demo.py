"""The worked examples of ``docs/worked_examples.md`` computed by the gallery's layers.

``gallery demo`` prints these first: a quick, checkable look at what the recurrent
layers compute (tiny Elman RNNs with hand-set weights and their exact answers).
"""

import numpy as np
import tensorflow as tf

from gallery.layers import ElmanCell, Recurrent
from gallery.masking import lengths_to_mask


def _elman(w_ih, w_hh, activation="relu"):
    cell = ElmanCell(1, activation=activation, use_bias=False)
    cell.build((None, 1))
    cell.set_weights([np.array([[w_ih]], "float32"), np.array([[w_hh]], "float32")])
    return cell


def _column(rows):
    return tf.constant(np.asarray(rows, "float32")[..., None])


def seed_examples():
    """Yield ``(title, computed, expected)`` for each worked example."""
    cell = _elman(1.0, -1.0, activation=None)
    x = _column([[1, 1]])
    with tf.GradientTape() as tape:
        z = Recurrent(cell, return_sequences=True)(x, initial_state=[tf.constant([[1.0]])])
        loss = (z[0, -1, 0] - 2.0) ** 2
    d1, d2 = tape.gradient(loss, [cell.kernel, cell.recurrent_kernel])
    yield ("1. BPTT by hand: z, L, dL/dθ1, dL/dθ2",
           [*np.asarray(z[0, :, 0]).tolist(), float(loss), float(d1[0, 0]), float(d2[0, 0])],
           [0.0, 1.0, 1.0, 0.0, 2.0])

    layer = Recurrent(_elman(1.0, 1.0), return_sequences=True)
    out = layer(_column([[1, 2, 3], [10, 20, 30]]), initial_state=[tf.constant([[0.5], [5.0]])])
    yield ("2. one-layer ReLU RNN, batch of two", np.asarray(out[..., 0]).tolist(),
           [[1.5, 3.5, 6.5], [15, 35, 65]])

    stack = Recurrent([_elman(2.0, 1.0), _elman(1.0, 0.5)], return_sequences=True)
    out = stack(_column([[1, 2, 3], [10, 20, 30]]),
                initial_state=[tf.constant([[0.5], [5.0]]), tf.constant([[0.2], [2.0]])])
    yield ("3. two-layer ReLU RNN", np.round(np.asarray(out[..., 0]), 4).tolist(),
           [[2.6, 7.8, 16.4], [26, 78, 164]])

    out = layer(_column([[1, 2, 3], [10, 20, 0]]), initial_state=[tf.constant([[0.5], [5.0]])],
                mask=lengths_to_mask([3, 2], 3))
    yield ("4. variable-length batch (second row padded)",
           [np.asarray(out[0, :, 0]).tolist(), np.asarray(out[1, :2, 0]).tolist()],
           [[1.5, 3.5, 6.5], [15, 35]])


def print_seed_examples():
    """Print each example with ``ok`` when the layers give the exact answer."""
    print("Worked examples (docs/worked_examples.md) computed by gallery.layers:")
    all_ok = True
    for title, computed, expected in seed_examples():
        ok = np.allclose(_flat(computed), _flat(expected), atol=1e-5)
        all_ok &= ok
        print(f"  [{'ok' if ok else 'MISMATCH'}] {title}: {computed}")
    return all_ok


def _flat(values):
    return np.concatenate([np.ravel(np.asarray(v, "float64")) for v in values])
