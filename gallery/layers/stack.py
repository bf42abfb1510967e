"""Building a recurrent encoder from settings: cell kind, size, depth, direction."""

import keras

from gallery.layers.cells import make_cell
from gallery.layers.recurrent import Recurrent


def encoder_layers(cell="lstm", units=64, num_layers=1, bidirectional=False, dropout=0.0,
                   return_sequences=True, name="encoder", seed=None, recurrent_dropout=0.0):
    """The ``num_layers`` layers of :func:`recurrent_encoder`, bottom first, for a model
    that keeps them as attributes and applies them in order itself."""
    if num_layers <= 0:
        raise ValueError(f"`num_layers` must be positive; received {num_layers}.")
    layers = []
    for depth in range(num_layers):
        is_top = depth == num_layers - 1
        layer = Recurrent(
            make_cell(cell, units, dropout=dropout if depth else 0.0,
                      recurrent_dropout=recurrent_dropout,
                      seed=None if seed is None else seed + depth),
            return_sequences=return_sequences or not is_top, name=f"{name}_{depth}")
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"{name}_bi_{depth}")
        layers.append(layer)
    return layers


def recurrent_encoder(x, cell="lstm", units=64, num_layers=1, bidirectional=False,
                      dropout=0.0, return_sequences=True, name="encoder", seed=None,
                      recurrent_dropout=0.0):
    """Apply ``num_layers`` recurrent layers to ``x (B, T, D)`` (mask carried along).

    Each layer is a :class:`Recurrent` over one cell; with ``bidirectional`` each is
    wrapped in ``keras.layers.Bidirectional`` (outputs concatenated, ``2·units``), so
    every layer above the first sees both directions. ``dropout`` drops inputs of
    every layer above the first (one mask per sequence); ``recurrent_dropout`` drops
    ``h_{t-1}`` before the recurrent matmul in every layer (one mask per sequence,
    variational). The top layer returns all
    steps ``(B, T, H)`` or, with ``return_sequences=False``, its final output
    ``(B, H)`` (for a bidirectional layer: both directions' final states).
    """
    for layer in encoder_layers(cell, units, num_layers, bidirectional, dropout,
                                return_sequences, name, seed, recurrent_dropout):
        x = layer(x)
    return x
