"""The same model on Keras's built-in recurrent cells: the reference a Keras user
would otherwise ship, for benchmarks and parity tests.

The gallery's cells keep Keras's weight layout (``kernel (D, G·H)``,
``recurrent_kernel (H, G·H)``, ``bias``; gates ``i f g o`` / ``z r h``), so each has
a built-in twin that computes the same function with the same weights:

==========================================  =====================================
gallery cell                                Keras built-in
==========================================  =====================================
``LSTMCell``                                ``keras.layers.LSTMCell``
``GRUCell(reset_after=True/False)``         ``keras.layers.GRUCell(reset_after=…)``
``ElmanCell``                               ``keras.layers.SimpleRNNCell``
==========================================  =====================================

:func:`use_keras_cells` puts the twin in place of every gallery cell of a model's
:class:`~gallery.layers.Recurrent` layers (inside ``Bidirectional`` and stacks too).
A ``Recurrent`` whose cells are Keras's runs ``keras.layers.RNN``'s own time loop
(:meth:`Recurrent.loop_for` answers ``"keras"``), which is the loop of
``keras.layers.LSTM``/``GRU``/``SimpleRNN`` on a CPU, and anything that calls the
cell directly for one step (a decoder's step, a TFLite step model) calls Keras's
cell: the model is then, in its recurrent parts, what ``keras.layers`` would build.

A stack of one cell (``Recurrent([cell])``, e.g. a one-layer character model) becomes
``keras.layers.RNN`` over the one twin, as ``keras.layers.LSTM`` is, not over a
one-cell ``StackedRNNCells``: that one returns its cell's states unnested (``[h, c]``
where the stack's initial state is ``[[h, c]]``: ``if len(new_states) == 1:
new_states = new_states[0]`` in ``StackedRNNCells.call``, Keras 3.15), and
``keras.layers.RNN``'s TensorFlow loop then refuses the body's states ("The two
structures don't have the same nested structure"). The layer is then no longer a
stack (``Recurrent._is_stack``), so swap the cells before anything reads the layer's
structure (e.g. a :class:`~gallery.layers.recurrent.StateCarrier`).
"""

import keras

from gallery.layers.cell_base import RecurrentCell
from gallery.layers.cells import ElmanCell, GRUCell, LSTMCell
from gallery.layers.recurrent import Recurrent


def keras_cell(cell):
    """The built-in twin of the built gallery ``cell``, built, holding copies of its
    weights; ``TypeError`` for a cell that has none."""
    common = dict(units=cell.units, activation=cell.activation, use_bias=cell.use_bias,
                  dtype=cell.dtype_policy, name=f"keras_{cell.name}")
    if isinstance(cell, LSTMCell):
        twin = keras.layers.LSTMCell(recurrent_activation=cell.recurrent_activation,
                                     unit_forget_bias=cell.unit_forget_bias, **common)
    elif isinstance(cell, GRUCell):
        twin = keras.layers.GRUCell(recurrent_activation=cell.recurrent_activation,
                                    reset_after=cell.reset_after, **common)
    elif isinstance(cell, ElmanCell):
        twin = keras.layers.SimpleRNNCell(**common)
    else:
        raise TypeError(f"{type(cell).__name__} has no Keras built-in twin")
    twin.build((None, cell.kernel.shape[0]))
    twin.set_weights(cell.get_weights())
    return twin


def _sublayers(model):
    """The layers of ``model`` and of the models nested in it (Keras's public ``layers``)."""
    for layer in getattr(model, "layers", ()):
        yield layer
        yield from _sublayers(layer)


def _recurrent_layers(model):
    """Every ``Recurrent`` of ``model``, ``Bidirectional``'s two copies included."""
    found = []
    for layer in _sublayers(model):
        if isinstance(layer, keras.layers.Bidirectional):
            found += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, Recurrent):
            found.append(layer)
    return list({id(layer): layer for layer in found}.values())


def use_keras_cells(model):
    """Replace, in place, each gallery cell of ``model``'s ``Recurrent`` layers by its
    built-in twin (:func:`keras_cell`); return the number replaced. Load a second copy
    of a model to compare the two."""
    replaced = 0
    for layer in _recurrent_layers(model):
        # A built layer refuses new tracked sub-layers; the twins are used, not trained
        # or saved, so they are set without Keras's tracking (object.__setattr__).
        if hasattr(layer.cell, "cells"):  # a stack: keras.layers.StackedRNNCells
            cells = [keras_cell(c) if isinstance(c, RecurrentCell) else c
                     for c in layer.cell.cells]
            replaced += sum(a is not b for a, b in zip(cells, layer.cell.cells))
            if len(cells) == 1:  # a one-layer stack is its layer (module docstring)
                object.__setattr__(layer, "cell", cells[0])
                if layer.states is not None:  # stateful: the state variables, unnested
                    object.__setattr__(layer, "states", layer.states[0])
            else:
                object.__setattr__(layer.cell, "cells", cells)
        elif isinstance(layer.cell, RecurrentCell):
            object.__setattr__(layer, "cell", keras_cell(layer.cell))
            replaced += 1
    return replaced
