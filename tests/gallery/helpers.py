"""Shared helpers for the layer tests: twin gallery/Keras layers with equal weights."""

import keras
import numpy as np

from gallery.layers import ElmanCell, GRUCell, LSTMCell, Recurrent

KERAS_TWINS = {
    "elman": (lambda h: ElmanCell(h), lambda h: keras.layers.SimpleRNNCell(h)),
    "lstm": (lambda h: LSTMCell(h), lambda h: keras.layers.LSTMCell(h)),
    "gru": (lambda h: GRUCell(h), lambda h: keras.layers.GRUCell(h)),
    "gru_v1": (lambda h: GRUCell(h, reset_after=False),
               lambda h: keras.layers.GRUCell(h, reset_after=False)),
}


def twin_layers(kind, units=5, num_layers=1, bidirectional=False, **rnn_kwargs):
    """A gallery ``Recurrent`` and a ``keras.layers.RNN`` with the same cells' weights."""
    ours_cell, keras_cell = KERAS_TWINS[kind]
    ours_cells = [ours_cell(units) for _ in range(num_layers)]
    keras_cells = [keras_cell(units) for _ in range(num_layers)]
    ours = Recurrent(ours_cells if num_layers > 1 else ours_cells[0], **rnn_kwargs)
    theirs = keras.layers.RNN(keras_cells if num_layers > 1 else keras_cells[0], **rnn_kwargs)
    if bidirectional:
        ours, theirs = keras.layers.Bidirectional(ours), keras.layers.Bidirectional(theirs)
    return ours, theirs


def copy_weights(ours, theirs, x):
    """Build both layers on ``x`` and give ``ours`` the weights of ``theirs``."""
    ours(x)
    theirs(x)
    weights = theirs.get_weights()
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]
    ours.set_weights(weights)


def right_padded_mask(lengths, maxlen):
    return np.arange(maxlen)[None, :] < np.asarray(lengths)[:, None]


def as_list(result):
    """Flatten a layer's result (tensor, or tuple with nested states) to NumPy arrays."""
    return [np.asarray(t) for t in keras.tree.flatten(result)]
