"""Recurrent cells written from their equations: one time step each.

A cell computes one step and nothing else. Its weights use the layout and gate order
of Keras's built-in cells, so ``cell.set_weights(keras_cell.get_weights())`` works
both ways:

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
* ``step_projected(x_proj, states)``: the rest of the step, given ``x W + b``.

``call(inputs, states)`` is the two chained: the plain one-step interface of
``keras.layers.RNN``.
"""

import keras
from keras import ops

_ACTIVATIONS = {"tanh": ops.tanh, "relu": ops.relu, None: lambda x: x, "linear": lambda x: x}


def _check_units(units):
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise ValueError(f"`units` must be a positive integer; received units={units!r}.")
    return units


def _check_rate(name, rate):
    if not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        raise ValueError(f"`{name}` must be a float in [0, 1); received {name}={rate!r}.")
    return float(rate)


class RecurrentCell(keras.layers.Layer):
    """Base class: weights, projection and config shared by all cells.

    Subclasses set ``num_gates`` (how many ``H``-wide blocks the kernels hold) and
    ``num_states`` and implement :meth:`step_projected`.

    ``dropout`` is the fraction of the cell's *inputs* dropped during training, with
    one mask for all time steps of a sequence (as in Keras's cells); it is applied by
    :class:`gallery.layers.Recurrent`, which sees the whole sequence.
    """

    num_gates = 1
    num_states = 1

    def __init__(
        self,
        units,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _check_units(units)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.dropout = _check_rate("dropout", dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    # -- sizes ---------------------------------------------------------------
    @property
    def state_size(self):
        return self.units if self.num_states == 1 else [self.units] * self.num_states

    @property
    def output_size(self):
        return self.units

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)
                for _ in range(self.num_states)]

    # -- weights -------------------------------------------------------------
    def _bias_shape(self):
        return (self.num_gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        input_dim = input_shape[-1]
        width = self.num_gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width), name="kernel", initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width), name="recurrent_kernel",
            initializer=self.recurrent_initializer)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(), name="bias", initializer=self._bias_initializer())
        self.built = True

    def _input_bias(self):
        return self.bias

    # -- the step ------------------------------------------------------------
    def project_inputs(self, inputs):
        """``x W + b``: ``(..., D) -> (..., num_gates * H)``, any leading shape."""
        if len(inputs.shape) > 2:  # one 2-D matmul for all leading dimensions
            leading = ops.shape(inputs)[:-1]
            flat = ops.reshape(inputs, (-1, inputs.shape[-1]))
            projected = ops.reshape(ops.matmul(flat, self.kernel),
                                    (*leading, self.kernel.shape[-1]))
        else:
            projected = ops.matmul(inputs, self.kernel)
        bias = self._input_bias()
        return projected if bias is None else projected + bias

    def step_projected(self, projected, states):
        """One step from ``x_t W + b`` ``(B, G*H)`` and the previous states."""
        raise NotImplementedError

    def call(self, inputs, states, training=None):
        """One step: ``inputs (B, D)``, ``states`` list of ``(B, H)`` → ``(output, states)``."""
        if not isinstance(states, (list, tuple)):
            states = [states]
        return self.step_projected(self.project_inputs(inputs), list(states))

    def get_config(self):
        config = {
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "dropout": self.dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="gallery")
class ElmanCell(RecurrentCell):
    """Elman (simple) recurrent cell.

    Equations, for ``x_t (B, D)`` and ``h_tm1 (B, H)``::

        h_t = φ(x_t W + b + h_tm1 U)        output y_t = h_t

    with ``φ`` one of ``"tanh"`` (default), ``"relu"`` or ``None`` (linear).
    Same weights as ``keras.layers.SimpleRNNCell``: ``kernel W (D, H)``,
    ``recurrent_kernel U (H, H)``, ``bias b (H,)`` (absent with ``use_bias=False``).
    """

    def __init__(self, units, activation="tanh", **kwargs):
        if activation not in _ACTIVATIONS:
            raise ValueError(
                "`activation` must be one of 'tanh', 'relu', 'linear' or None; "
                f"received activation={activation!r}.")
        super().__init__(units, **kwargs)
        self.activation = activation
        self._phi = _ACTIVATIONS[activation]

    def step_projected(self, projected, states):
        h_tm1 = states[0]
        h = self._phi(projected + ops.matmul(h_tm1, self.recurrent_kernel))
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


@keras.saving.register_keras_serializable(package="gallery")
class LSTMCell(RecurrentCell):
    """Long short-term memory cell (Hochreiter & Schmidhuber, with forget gate).

    Equations, for ``x_t (B, D)``, states ``h_tm1, c_tm1 (B, H)``; the gate blocks
    of ``W (D, 4H)``, ``U (H, 4H)`` and ``b (4H,)`` are in the order ``i f g o``::

        i = σ(x_t W_i + h_tm1 U_i + b_i)       input gate
        f = σ(x_t W_f + h_tm1 U_f + b_f)       forget gate
        g = tanh(x_t W_g + h_tm1 U_g + b_g)    candidate cell
        o = σ(x_t W_o + h_tm1 U_o + b_o)       output gate
        c_t = f ⊙ c_tm1 + i ⊙ g
        h_t = o ⊙ tanh(c_t)                    output y_t = h_t; states [h_t, c_t]

    ``unit_forget_bias=True`` starts ``b_f`` at 1, as Keras does.
    """

    num_gates = 4
    num_states = 2

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
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

    def step_projected(self, projected, states):
        h_tm1, c_tm1 = states[0], states[1]
        z = projected + ops.matmul(h_tm1, self.recurrent_kernel)
        z_i, z_f, z_g, z_o = ops.split(z, 4, axis=-1)
        i = ops.sigmoid(z_i)
        f = ops.sigmoid(z_f)
        g = ops.tanh(z_g)
        o = ops.sigmoid(z_o)
        c = f * c_tm1 + i * g
        h = o * ops.tanh(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@keras.saving.register_keras_serializable(package="gallery")
class GRUCell(RecurrentCell):
    """Gated recurrent unit (Cho et al., 2014), in both of its forms.

    Gate blocks of ``W (D, 3H)`` and ``U (H, 3H)`` are in the order ``z r h``.

    ``reset_after=True`` (default; PyTorch's and cuDNN's form), ``b (2, 3H)`` holding
    the input bias ``b_i`` and the recurrent bias ``b_h``::

        z = σ(x_t W_z + b_iz + h_tm1 U_z + b_hz)       update gate
        r = σ(x_t W_r + b_ir + h_tm1 U_r + b_hr)       reset gate
        n = tanh(x_t W_h + b_ih + r ⊙ (h_tm1 U_h + b_hh))
        h_t = z ⊙ h_tm1 + (1 − z) ⊙ n

    ``reset_after=False`` (the original form), ``b (3H,)``::

        z, r as above with a single bias
        n = tanh(x_t W_h + (r ⊙ h_tm1) U_h + b_h)
        h_t = z ⊙ h_tm1 + (1 − z) ⊙ n

    Output ``y_t = h_t``; state ``[h_t]`` of shape ``(B, H)``.
    """

    num_gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        width = 3 * self.units
        return (2, width) if self.reset_after else (width,)

    def _input_bias(self):
        if self.bias is None or not self.reset_after:
            return self.bias
        return self.bias[0]

    def step_projected(self, projected, states):
        h_tm1 = states[0]
        units = self.units
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)
        if self.reset_after:
            recurrent = ops.matmul(h_tm1, self.recurrent_kernel)
            if self.bias is not None:
                recurrent = recurrent + self.bias[1]
            r_z, r_r, r_h = ops.split(recurrent, 3, axis=-1)
            z = ops.sigmoid(x_z + r_z)
            r = ops.sigmoid(x_r + r_r)
            n = ops.tanh(x_h + r * r_h)
        else:
            recurrent_zr = ops.matmul(h_tm1, self.recurrent_kernel[:, : 2 * units])
            r_z, r_r = ops.split(recurrent_zr, 2, axis=-1)
            z = ops.sigmoid(x_z + r_z)
            r = ops.sigmoid(x_r + r_r)
            n = ops.tanh(x_h + ops.matmul(r * h_tm1, self.recurrent_kernel[:, 2 * units:]))
        h = z * h_tm1 + (1.0 - z) * n
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


CELLS = {"elman": ElmanCell, "lstm": LSTMCell, "gru": GRUCell}


def make_cell(kind, units, **kwargs):
    """Build a cell by name: ``"elman"``, ``"lstm"`` or ``"gru"``."""
    if kind not in CELLS:
        raise ValueError(f"`cell` must be one of {sorted(CELLS)}; received cell={kind!r}.")
    return CELLS[kind](units, **kwargs)
