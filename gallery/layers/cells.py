"""Recurrent cells written from their equations: one time step each.

A cell computes one step and nothing else. Its weights use the layout and gate order
of Keras's built-in cells, so ``cell.set_weights(keras_cell.get_weights())`` works
both ways, and its constructor takes every argument of Keras 3's ``SimpleRNNCell``,
``LSTMCell`` and ``GRUCell`` with the same meaning:

==========  ==================  ======================  ==========================
cell        ``kernel``          ``recurrent_kernel``    ``bias``
==========  ==================  ======================  ==========================
Elman       ``(D, H)``          ``(H, H)``              ``(H,)``
LSTM        ``(D, 4H)`` i f g o ``(H, 4H)``             ``(4H,)``
GRU         ``(D, 3H)`` z r h   ``(H, 3H)``             ``(2, 3H)`` (reset_after)
                                                        or ``(3H,)``
==========  ==================  ======================  ==========================

``D`` is the input size, ``H`` the number of units. Every step is split in two:

* ``project_inputs(x)``: the part that does not depend on the previous state,
  ``x W + b``. It accepts ``(B, D)`` or a whole sequence ``(B, T, D)``, so
  :class:`gallery.layers.Recurrent` computes it for all steps in one matmul.
* ``step_projected(x_proj, states, recurrent_mask=None)``: the rest of the step.

``call(inputs, states)`` is the two chained: the plain one-step interface of
``keras.layers.RNN``. Dropout (``dropout`` on the inputs, ``recurrent_dropout`` on
``h_{t-1}``) is variational: one mask per sequence, drawn by ``Recurrent``, which
sees the whole sequence; a cell's own ``call`` is the deterministic step.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from gallery.layers import fused
from gallery.layers.cell_base import RecurrentCell

__all__ = ["CELLS", "ElmanCell", "GRUCell", "LSTMCell", "RecurrentCell", "make_cell"]


@keras.saving.register_keras_serializable(package="gallery")
class ElmanCell(RecurrentCell):
    """Elman (simple) recurrent cell, ``keras.layers.SimpleRNNCell``'s equations.

    For ``x_t (B, D)``, ``h_tm1 (B, H)`` and the recurrent-dropout mask ``m (B, H)``
    (ones outside training)::

        h_t = φ(x_t W + b + (m ⊙ h_tm1) U)        output y_t = h_t

    ``φ`` is ``activation`` (default ``"tanh"``; any Keras activation). Weights
    ``kernel W (D, H)``, ``recurrent_kernel U (H, H)``, ``bias b (H,)``.
    """

    def __init__(self, units: int, activation: Any = "tanh", **kwargs: Any) -> None:
        super().__init__(units, activation=activation, **kwargs)

    def step_projected(self, projected, states, recurrent_mask=None):
        h_tm1 = states[0]
        h = self.activation(projected + ops.matmul(self._dropped(h_tm1, recurrent_mask),
                                                   self._weight(self.recurrent_kernel)))
        return h, [h]

    def fused_algebra(self):
        """Fused (and compiled) for tanh, ReLU and linear; other activations: ``None``."""
        if any(self.activation is f for f in fused.ELMAN_ACTIVATIONS.values()):
            return fused.ElmanAlgebra(self)
        return None


@keras.saving.register_keras_serializable(package="gallery")
class LSTMCell(RecurrentCell):
    """Long short-term memory cell (Hochreiter & Schmidhuber, with forget gate).

    For ``x_t (B, D)``, states ``h_tm1, c_tm1 (B, H)``, the recurrent-dropout mask
    ``m (B, H)`` (ones outside training), ``σ = recurrent_activation`` (sigmoid) and
    ``φ = activation`` (tanh); gate blocks of ``W (D, 4H)``, ``U (H, 4H)``,
    ``b (4H,)`` in the order ``i f g o``::

        [z_i z_f z_g z_o] = x_t W + b + (m ⊙ h_tm1) U
        i, f, o = σ(z_i), σ(z_f), σ(z_o);   g = φ(z_g)
        c_t = f ⊙ c_tm1 + i ⊙ g
        h_t = o ⊙ φ(c_t)                    output y_t = h_t; states [h_t, c_t]

    ``unit_forget_bias=True`` starts ``b_f`` at 1, as Keras does.
    """

    num_gates = 4
    num_states = 2

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", unit_forget_bias: bool = True,
                 **kwargs: Any) -> None:
        kwargs.pop("implementation", None)  # Keras's choice of matmul split: no meaning here
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def initializer(shape, dtype=None):
            return ops.concatenate([
                base((units,), dtype=dtype),
                ops.ones((units,), dtype=dtype),
                base((units * 2,), dtype=dtype),
            ])
        return initializer

    def step_projected(self, projected, states, recurrent_mask=None):
        h_tm1, c_tm1 = states[0], states[1]
        z = projected + ops.matmul(self._dropped(h_tm1, recurrent_mask),
                                   self._weight(self.recurrent_kernel))
        z_i, z_f, z_g, z_o = ops.split(z, 4, axis=-1)
        sigma, phi = self.recurrent_activation, self.activation
        i, f, g, o = sigma(z_i), sigma(z_f), phi(z_g), sigma(z_o)
        c = f * c_tm1 + i * g
        h = o * phi(c)
        return h, [h, c]

    def fused_algebra(self):
        """Fused (and compiled) with the default tanh and sigmoid; otherwise ``None``."""
        return fused.LSTMAlgebra(self) if _default_gates(self) else None

    def get_config(self) -> dict:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@keras.saving.register_keras_serializable(package="gallery")
class GRUCell(RecurrentCell):
    """Gated recurrent unit (Cho et al., 2014), in both of its forms.

    Gate blocks of ``W (D, 3H)`` and ``U (H, 3H)`` are in the order ``z r h``;
    ``σ = recurrent_activation`` (sigmoid), ``φ = activation`` (tanh),
    ``h̃ = m ⊙ h_tm1`` with the recurrent-dropout mask ``m (B, H)`` (ones outside
    training).

    ``reset_after=True`` (default; PyTorch's and cuDNN's form), ``b (2, 3H)`` holding
    the input bias ``b_i`` and the recurrent bias ``b_h``::

        z = σ(x_t W_z + b_iz + h̃ U_z + b_hz)       update gate
        r = σ(x_t W_r + b_ir + h̃ U_r + b_hr)       reset gate
        n = φ(x_t W_h + b_ih + r ⊙ (h̃ U_h + b_hh))
        h_t = z ⊙ h_tm1 + (1 − z) ⊙ n

    ``reset_after=False`` (the original form), ``b (3H,)``::

        z, r as above with a single bias
        n = φ(x_t W_h + (r ⊙ h̃) U_h + b_h)
        h_t = z ⊙ h_tm1 + (1 − z) ⊙ n

    Output ``y_t = h_t``; state ``[h_t]`` of shape ``(B, H)``.
    """

    num_gates = 3

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", reset_after: bool = True,
                 **kwargs: Any) -> None:
        kwargs.pop("implementation", None)  # Keras's choice of matmul split: no meaning here
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        width = 3 * self.units
        return (2, width) if self.reset_after else (width,)

    def _input_bias(self):
        if self.bias is None or not self.reset_after:
            return self.bias
        return self.bias[0]

    def step_projected(self, projected, states, recurrent_mask=None):
        h_tm1 = states[0]
        h_in = self._dropped(h_tm1, recurrent_mask)
        units = self.units
        kernel = self._weight(self.recurrent_kernel)
        sigma, phi = self.recurrent_activation, self.activation
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)
        if self.reset_after:
            recurrent = ops.matmul(h_in, kernel)
            if self.bias is not None:
                recurrent = recurrent + self._weight(self.bias[1])
            r_z, r_r, r_h = ops.split(recurrent, 3, axis=-1)
            z = sigma(x_z + r_z)
            r = sigma(x_r + r_r)
            n = phi(x_h + r * r_h)
        else:
            r_z, r_r = ops.split(ops.matmul(h_in, kernel[:, : 2 * units]), 2, axis=-1)
            z = sigma(x_z + r_z)
            r = sigma(x_r + r_r)
            n = phi(x_h + ops.matmul(r * h_in, kernel[:, 2 * units:]))
        h = z * h_tm1 + (1.0 - z) * n
        return h, [h]

    def fused_algebra(self):
        """Fused (and compiled) in the ``reset_after`` form with the default tanh and
        sigmoid; the original form (``reset_after=False``) and other activations: ``None``."""
        return fused.GRUAlgebra(self) if self.reset_after and _default_gates(self) else None

    def get_config(self) -> dict:
        return {**super().get_config(), "reset_after": self.reset_after}


def _default_gates(cell):
    """Whether a gated cell uses tanh and sigmoid, the activations its fused algebra has."""
    return (cell.activation is keras.activations.tanh
            and cell.recurrent_activation is keras.activations.sigmoid)


#: The cells a config's ``cell`` setting names: the one table of them
#: (``gallery.config.TrainConfig`` validates against it, ``make_cell`` builds from it).
CELLS = {"lstm": LSTMCell, "gru": GRUCell, "elman": ElmanCell}


def make_cell(kind: str, units: int, **kwargs: Any) -> RecurrentCell:
    """Build a cell by name: ``"elman"``, ``"lstm"`` or ``"gru"``."""
    if kind not in CELLS:
        raise ValueError(f"`cell` must be one of {sorted(CELLS)}; received cell={kind!r}.")
    return CELLS[kind](units, **kwargs)
