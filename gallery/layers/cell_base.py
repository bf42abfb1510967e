"""`RecurrentCell`: the weights, arguments and config every gallery cell shares."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def _check_units(units):
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise ValueError(f"`units` must be a positive integer; received units={units!r}.")
    return units


def _check_rate(name, rate):
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        raise ValueError(f"`{name}` must be a float in [0, 1); received {name}={rate!r}.")
    return float(rate)


class RecurrentCell(keras.layers.Layer):
    """Base class: weights, projection and config shared by all cells.

    Subclasses set ``num_gates`` (how many ``H``-wide blocks the kernels hold) and
    ``num_states`` and implement :meth:`step_projected`.

    Arguments as Keras's cells: ``units``; ``activation`` (and, for the gated cells,
    ``recurrent_activation``), any Keras activation; ``use_bias``; the
    ``kernel_*``, ``recurrent_*`` and ``bias_*`` initializers, regularizers (their
    penalties appear in ``layer.losses`` / ``model.losses``) and constraints
    (applied by the optimizer after each step); ``dropout``, the fraction of the
    inputs dropped, and ``recurrent_dropout``, the fraction of ``h_{t-1}`` dropped
    before the recurrent matmul, each with one mask for all the steps of a sequence
    (variational dropout, drawn by :class:`gallery.layers.Recurrent`); ``seed`` for
    those masks.
    """

    num_gates = 1
    num_states = 1

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = _check_units(units)
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = (None if recurrent_activation is None and self.num_gates == 1
                                     else keras.activations.get(recurrent_activation))
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = _check_rate("dropout", dropout)
        self.recurrent_dropout = _check_rate("recurrent_dropout", recurrent_dropout)
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
            shape=(input_dim, width), name="kernel", initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width), name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(), name="bias", initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def _input_bias(self):
        return self.bias

    def _weight(self, variable):
        """A weight in the compute dtype. Inside ``__call__`` Keras casts variables
        itself; ``Recurrent``'s fast path reads them outside, so it casts here."""
        return ops.cast(variable, self.compute_dtype)

    @staticmethod
    def _dropped(h_tm1, recurrent_mask):
        return h_tm1 if recurrent_mask is None else h_tm1 * recurrent_mask

    # -- the step ------------------------------------------------------------
    def project_inputs(self, inputs):
        """``x W + b``: ``(..., D) -> (..., num_gates * H)``, any leading shape, in the
        cell's compute dtype."""
        inputs = ops.cast(inputs, self.compute_dtype)
        kernel = self._weight(self.kernel)
        bias = self._input_bias()
        flat = ops.reshape(inputs, (-1, inputs.shape[-1])) if len(inputs.shape) > 2 else inputs
        projected = ops.matmul(flat, kernel)  # one 2-D matmul for all leading dimensions
        if bias is not None:  # on the 2-D product: TFLite fuses it into FULLY_CONNECTED
            projected = projected + self._weight(bias)
        if len(inputs.shape) <= 2:
            return projected
        rest = inputs.shape[1:-1]
        if all(n is not None for n in rest):  # only the first axis unknown (a TFLite
            # export's batch of one): no shape arithmetic, three ops in TFLite
            return ops.reshape(projected, (-1, *rest, kernel.shape[-1]))
        return ops.reshape(projected, (*ops.shape(inputs)[:-1], kernel.shape[-1]))

    def step_projected(self, projected, states, recurrent_mask=None):
        """One step from ``x_t W + b`` ``(B, G*H)`` and the previous states; the
        recurrent-dropout mask ``(B, H)`` multiplies ``h_{t-1}`` before ``U``."""
        raise NotImplementedError

    def fused_algebra(self):
        """This cell's step algebra for the fused loop (an object of
        :mod:`gallery.layers.fused`: ``forward``/``backward`` per step, and the name of
        its compiled ``kernel`` or ``None``), or ``None``: the cell then runs in the
        generic loop over projected inputs, differentiated by TensorFlow (the same
        numbers, slower). :meth:`gallery.layers.Recurrent.loop_for` says which loop a
        cell gets; ``docs/extending.md`` says how a new cell gets a fast one."""
        return None

    def call(self, inputs, states, training=None):
        """One step: ``inputs (B, D)``, ``states`` list of ``(B, H)`` → ``(output, states)``."""
        if not isinstance(states, (list, tuple)):
            states = [states]
        states = [ops.cast(s, self.compute_dtype) for s in states]
        return self.step_projected(self.project_inputs(inputs), states)

    def get_config(self) -> dict:
        serialize = keras.saving.serialize_keras_object
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "recurrent_regularizer": serialize(self.recurrent_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "kernel_constraint": serialize(self.kernel_constraint),
            "recurrent_constraint": serialize(self.recurrent_constraint),
            "bias_constraint": serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        if self.recurrent_activation is not None:
            config["recurrent_activation"] = keras.activations.serialize(
                self.recurrent_activation)
        return {**super().get_config(), **config}
