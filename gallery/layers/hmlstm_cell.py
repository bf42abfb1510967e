"""The hierarchical multiscale LSTM (Chung, Ahn & Bengio, ICLR 2017): one step of all layers.

Each layer ``ℓ = 1..L`` of the hierarchy has a cell state ``c^ℓ``, a hidden state
``h^ℓ`` (both ``(B, H_ℓ)``) and a binary boundary state ``z^ℓ`` ``(B, 1)``. The input
``x_t`` plays the part of ``h_t^0`` with ``z_t^0 = 1`` at every step. One step, for
``ℓ = 1..L`` in order (layer ``ℓ`` reads the *new* ``h_t^{ℓ-1}, z_t^{ℓ-1}`` from below
and the *previous* ``h_{t-1}^{ℓ+1}`` from above)::

    s_t = h_{t-1}^ℓ U_ℓ^ℓ                                  recurrent
        + z_{t-1}^ℓ · h_{t-1}^{ℓ+1} U_{ℓ+1}^ℓ              top-down (not in the top layer)
        + z_t^{ℓ-1} · h_t^{ℓ-1} W_{ℓ-1}^ℓ + b^ℓ            bottom-up
    f, i, o = σ(s_t[f]), σ(s_t[i]), σ(s_t[o]);  g = tanh(s_t[g])
    z̃_t = hard_sigm(a · s_t[z]) = max(0, min(1, (a · s_t[z] + 1) / 2))
    z_t^ℓ = 1[z̃_t > 1/2]      forward;   ∂z_t/∂z̃_t := 1 (straight-through) backward

    c_t^ℓ = i ⊙ g                  FLUSH   if z_{t-1}^ℓ = 1
          = f ⊙ c_{t-1}^ℓ + i ⊙ g   UPDATE  if z_{t-1}^ℓ = 0 and z_t^{ℓ-1} = 1
          = c_{t-1}^ℓ              COPY    if z_{t-1}^ℓ = 0 and z_t^{ℓ-1} = 0
    h_t^ℓ = h_{t-1}^ℓ on COPY, o ⊙ tanh(c_t^ℓ) otherwise

With ``boundary_input="hidden"`` (a deviation), the boundary reads the layer's new
hidden state instead of the pre-activation, ``z̃_t = hard_sigm(a · (h_t^ℓ v^ℓ + b^ℓ[z]))``
(``σ`` for the sigmoid estimator): ``s_t`` then has the ``4H_ℓ`` gate columns only, and
``v^ℓ (H_ℓ, 1)`` is the weight ``boundary_kernel_l``. ``h_t^ℓ`` is what the output
module reads to predict the next character, so "a word ends here" (the next character
is likely a space) is one linear read-out of it, while it is not linear in
``[h_{t-1}^ℓ, x_t]``. On COPY, ``h_t = h_{t-1}`` and so ``z_t = z_{t-1} = 0``.

The three cases are written as one sum weighted by the binary ``z`` s (exact in the
forward pass), so the straight-through gradient reaches ``z`` through every place it is
used, as in the paper. The boundary's backward pass is the hard sigmoid's derivative,
``∂z_t/∂s_t[z] = a/2`` where ``|a · s_t[z]| < 1`` and 0 elsewhere.

Weights of layer ``ℓ`` (index ``k = ℓ - 1`` in the names), gate blocks in the paper's
order ``f i o g z`` (``4H_ℓ + 1`` columns): ``kernel_l = W_{ℓ-1}^ℓ (H_{ℓ-1}, 4H_ℓ+1)``
(``H_0 = D``), ``recurrent_kernel_l = U_ℓ^ℓ (H_ℓ, 4H_ℓ+1)``, ``top_down_kernel_l =
U_{ℓ+1}^ℓ (H_{ℓ+1}, 4H_ℓ+1)`` (all but the top layer), ``bias_l = b^ℓ (4H_ℓ+1,)``;
with ``boundary_input="hidden"`` the three kernels have ``4H_ℓ`` columns and
``boundary_kernel_l = v^ℓ (H_ℓ, 1)`` is added.
The slope ``a`` is one non-trainable scalar weight ``slope`` shared by all layers, set
by :class:`gallery.layers.hmlstm.SlopeAnnealing` during training.

With ``layer_norm=True`` the gate pre-activations are layer-normalised (Ba et al., 2016;
the paper uses layer normalisation without saying where), per layer and step::

    s_t[fiog] = γ^ℓ ⊙ LN(s_t[fiog] - b^ℓ[fiog]) + b^ℓ[fiog],
    LN(v) = (v - mean(v)) / sqrt(var(v) + 1e-5)       over the 4H_ℓ gate columns

(``γ^ℓ`` the weight ``layer_norm_gain_l (4H_ℓ,)``, starting at 1); the boundary column
``s_t[z]`` is left as it is, so its scale stays the slope's business.

Choices the paper leaves open (or where this differs from it): kernels start
Glorot-uniform, recurrent and top-down kernels orthogonal, biases zero except the
forget gate's (1, as in Keras's ``unit_forget_bias``); the initial states are zeros
(so the first step of layer 1 is an UPDATE from ``c = 0``); the top layer has a
boundary detector too (it decides when the top layer FLUSHes), the paper's Figure 3
shows only the lower ones.
"""

import keras
from keras import ops

GATES = 4  # f i o g, then one boundary column z


def hard_sigmoid(x, slope):
    """``max(0, min(1, (slope · x + 1) / 2))``, the paper's ``hard_sigm`` with slope ``a``."""
    return ops.clip((slope * x + 1.0) * 0.5, 0.0, 1.0)


BOUNDARY_GRADIENTS = ("hard_sigmoid", "sigmoid")
BOUNDARY_INPUTS = ("gates", "hidden")
RATE_GRADIENTS = ("estimator", "linear")


def boundary(u, slope, gradient="hard_sigmoid"):
    """``z = 1[a·u > 0]`` forward; backward ``∂z/∂u`` is the derivative of ``z̃``.

    ``gradient="hard_sigmoid"`` (the paper): ``z̃ = hard_sigm(a·u)``, so ``∂z/∂u = a/2``
    where ``|a·u| < 1`` and exactly 0 elsewhere. ``gradient="sigmoid"`` (a deviation
    from the paper): ``z̃ = σ(a·u)``, ``∂z/∂u = a·σ(a·u)(1 - σ(a·u))``, never exactly 0
    (in float32, until ``σ`` rounds to 1 beyond ``a·u ≈ 17``),
    so a boundary unit pushed far from 0 still gets a gradient back. The forward value
    is the same step either way (both ``z̃`` cross 1/2 at ``u = 0``).

    ``z̃ + stop_gradient(step(z̃) - z̃)`` is exactly 0 or 1 in floating point (for
    ``z̃ ≥ 1/2``, ``1 - z̃`` is exact), and its gradient is ``z̃``'s.
    """
    if gradient not in BOUNDARY_GRADIENTS:
        raise ValueError(f"`boundary_gradient` must be one of {BOUNDARY_GRADIENTS}; "
                         f"received {gradient!r}.")
    z_tilde = hard_sigmoid(u, slope) if gradient == "hard_sigmoid" else ops.sigmoid(slope * u)
    z_hard = ops.cast(z_tilde > 0.5, z_tilde.dtype)
    return z_tilde + ops.stop_gradient(z_hard - z_tilde)


def _check_units_per_layer(units_per_layer):
    units = list(units_per_layer) if isinstance(units_per_layer, (list, tuple)) else None
    if not units or any(isinstance(u, bool) or not isinstance(u, int) or u <= 0
                        for u in units):
        raise ValueError("`units_per_layer` must be a non-empty list of positive integers; "
                         f"received units_per_layer={units_per_layer!r}.")
    return units


@keras.saving.register_keras_serializable(package="gallery")
class HMLSTMCell(keras.layers.Layer):
    """One time step of the whole hierarchy (all ``L`` layers), for ``Recurrent``.

    Args:
        units_per_layer: ``[H_1, ..., H_L]``.
        slope: the initial slope ``a`` of the boundary's hard sigmoid.
        kernel_initializer, recurrent_initializer, bias_initializer: as in Keras cells
            (the recurrent one also starts the top-down kernels).
        unit_forget_bias: start the forget gate's bias at 1.
        boundary_bias: the boundary unit's initial bias (every layer); > 0 starts
            with boundaries everywhere (``z = 1`` wherever the rest of ``s_z`` is
            above ``-boundary_bias``).
        boundary_gradient: the straight-through backward pass of ``z`` (see
            :func:`boundary`): ``"hard_sigmoid"`` (the paper) or ``"sigmoid"`` (a
            deviation: never exactly 0, so a boundary cannot get stuck on or off).
        layer_norm: layer-normalise the gate pre-activations (see above).
        boundary_input: what the boundary detector reads: ``"gates"`` (the paper: a
            column of the pre-activation ``s_t``) or ``"hidden"`` (a deviation: the
            new ``h_t``; see above).
        rate_gradient: the backward pass of the ``z`` s in the cell's *output* (what a
            loss on the returned boundaries, such as ``HMLSTM``'s boundary-rate
            penalty, differentiates): ``"estimator"`` (default: the boundary's own
            straight-through gradient, which fades where ``σ'(a·u)`` does) or
            ``"linear"`` (a deviation: ``∂z/∂u := a/4``, or ``a/2`` with the hard
            sigmoid, the estimator's largest value, at every step, so a loss on the
            rate pulls a layer that never fires back; see :meth:`output_boundary`).
            The ``z`` s in the states (the ones the next step reads) keep the
            estimator's gradient either way.
        top_down_gradient: let the straight-through gradient of ``z_{t-1}^ℓ`` flow
            through its gating of the top-down input ``z_{t-1}^ℓ · h_{t-1}^{ℓ+1}
            U_{ℓ+1}^ℓ`` (the paper; default). ``False`` (a deviation) passes none
            there: see :meth:`layer_step` for why.

    ``call(x_t (B, D), states)``; ``states`` is ``[h^1, c^1, z^1, ..., h^L, c^L, z^L]``
    (``(B, H_ℓ)``, ``(B, H_ℓ)``, ``(B, 1)``). The output is
    ``[h_t^1, ..., h_t^L, z_t^1, ..., z_t^L]`` concatenated, ``(B, ΣH_ℓ + L)``.
    """

    def __init__(self, units_per_layer, slope=1.0, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, boundary_bias=0.0, boundary_gradient="hard_sigmoid",
                 layer_norm=False, top_down_gradient=True, boundary_input="gates",
                 rate_gradient="estimator", **kwargs):
        super().__init__(**kwargs)
        self.units_per_layer = _check_units_per_layer(units_per_layer)
        self.initial_slope = float(slope)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.boundary_bias = float(boundary_bias)
        boundary(ops.zeros((1,)), 1.0, boundary_gradient)  # rejects a bad name here
        self.boundary_gradient = boundary_gradient
        self.layer_norm = bool(layer_norm)
        self.top_down_gradient = bool(top_down_gradient)
        if boundary_input not in BOUNDARY_INPUTS:
            raise ValueError(f"`boundary_input` must be one of {BOUNDARY_INPUTS}; "
                             f"received {boundary_input!r}.")
        self.boundary_input = boundary_input
        if rate_gradient not in RATE_GRADIENTS:
            raise ValueError(f"`rate_gradient` must be one of {RATE_GRADIENTS}; "
                             f"received {rate_gradient!r}.")
        self.rate_gradient = rate_gradient

    @property
    def num_layers(self):
        return len(self.units_per_layer)

    @property
    def state_size(self):
        return [s for h in self.units_per_layer for s in (h, h, 1)]

    @property
    def output_size(self):
        return sum(self.units_per_layer) + self.num_layers

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, s), dtype=self.compute_dtype) for s in self.state_size]

    def _bias_initializer(self, units):
        def initializer(shape, dtype=None):
            bias = self.bias_initializer(shape, dtype=dtype)
            f = ops.ones((units,), dtype=bias.dtype) if self.unit_forget_bias else bias[:units]
            z = ops.full((1,), self.boundary_bias, dtype=bias.dtype)
            return ops.concatenate([f, bias[units:GATES * units], z])
        return initializer

    def build(self, input_shape):
        below = [input_shape[-1], *self.units_per_layer[:-1]]
        above = [*self.units_per_layer[1:], None]
        self.kernels, self.recurrent_kernels, self.top_down_kernels, self.biases = [], [], [], []
        self.layer_norm_gains, self.boundary_kernels = [], []
        for k, (units, d_below, d_above) in enumerate(zip(self.units_per_layer, below, above)):
            width = GATES * units + (self.boundary_input == "gates")  # the z column or not
            self.kernels.append(self.add_weight(
                shape=(d_below, width), name=f"kernel_{k}", initializer=self.kernel_initializer))
            self.recurrent_kernels.append(self.add_weight(
                shape=(units, width), name=f"recurrent_kernel_{k}",
                initializer=self.recurrent_initializer))
            self.top_down_kernels.append(None if d_above is None else self.add_weight(
                shape=(d_above, width), name=f"top_down_kernel_{k}",
                initializer=self.recurrent_initializer))
            self.biases.append(self.add_weight(
                shape=(GATES * units + 1,), name=f"bias_{k}",
                initializer=self._bias_initializer(units)))
            if self.boundary_input == "hidden":
                self.boundary_kernels.append(self.add_weight(
                    shape=(units, 1), name=f"boundary_kernel_{k}",
                    initializer=self.kernel_initializer))
            if self.layer_norm:
                self.layer_norm_gains.append(self.add_weight(
                    shape=(GATES * units,), name=f"layer_norm_gain_{k}", initializer="ones"))
        self.slope = self.add_weight(
            shape=(), name="slope", trainable=False,
            initializer=keras.initializers.Constant(self.initial_slope))
        self.built = True

    def layer_step(self, k, h_below, z_below, h_tm1, c_tm1, z_tm1, h_above_tm1):
        """Layer ``k`` (0-based) at one step; returns ``(h_t, c_t, z_t, u_t)``, ``u_t``
        the boundary unit's input (``z_t = 1[a·u_t > 0]``).

        ``h_below (B, H_{ℓ-1})`` and ``z_below (B, 1)`` are this step's (``x_t`` and 1
        for the first layer); ``h_above_tm1`` the previous step's layer above (``None``
        for the top layer).

        Why ``top_down_gradient=False`` exists: through the top-down gate, the
        straight-through backward pass chains each boundary to the next one of the same
        layer, ``∂z_t/∂z_{t-1} = ∂z_t/∂u_t · (h_{t-1}^{ℓ+1} U_{ℓ+1}^ℓ)[z]``, with
        ``∂z_t/∂u_t`` up to ``a/4`` (sigmoid) or ``a/2`` (hard sigmoid). Nothing in
        this chain saturates (the forward ``z`` is a step, no gate scales it), so once
        the slope ``a`` is annealed up and the top-down weights into the boundary unit
        have grown, each link can exceed 1, and over a 100-step window the gradient
        overflows float32 (the hmlstm lesson's HM-LSTM went NaN so, at ``a = 5``).
        ``False`` stops that gradient at the gate; ``z_{t-1}`` still gets its gradient
        from choosing FLUSH / UPDATE / COPY.
        """
        units = self.units_per_layer[k]
        gates, bias = GATES * units, self.biases[k]
        s = (ops.matmul(h_tm1, self.recurrent_kernels[k])
             + z_below * ops.matmul(h_below, self.kernels[k]))
        if h_above_tm1 is not None:
            gate = z_tm1 if self.top_down_gradient else ops.stop_gradient(z_tm1)
            s = s + gate * ops.matmul(h_above_tm1, self.top_down_kernels[k])
        if self.layer_norm:
            s = ops.concatenate([self.normalise(s[:, :gates], k), s[:, gates:]], axis=-1)
        s = s + (bias if self.boundary_input == "gates" else bias[:gates])
        f = ops.sigmoid(s[:, :units])
        i = ops.sigmoid(s[:, units:2 * units])
        o = ops.sigmoid(s[:, 2 * units:3 * units])
        g = ops.tanh(s[:, 3 * units:4 * units])
        flush, update = z_tm1, (1.0 - z_tm1) * z_below
        copy = 1.0 - flush - update  # = (1 - z_tm1)(1 - z_below)
        c = flush * (i * g) + update * (f * c_tm1 + i * g) + copy * c_tm1
        h = (1.0 - copy) * (o * ops.tanh(c)) + copy * h_tm1
        u = (s[:, gates:] if self.boundary_input == "gates"
             else ops.matmul(h, self.boundary_kernels[k]) + bias[gates:])
        z = boundary(u, ops.cast(self.slope, s.dtype), self.boundary_gradient)
        return h, c, z, u

    def output_boundary(self, z, u):
        """The ``z`` the cell outputs: ``z`` itself, or with ``rate_gradient="linear"``
        ``stop_gradient(z) + (a/4)·(u - stop_gradient(u))`` (``a/2`` for the hard
        sigmoid): the same value (``u - u`` is exactly 0), with ``∂z/∂u = a/4``
        wherever ``u`` is. With the estimator, once every ``u`` of a layer sits far
        below 0 (the layer never fires), ``∂z/∂u = a·σ'(a·u) ≈ 0`` and a penalty on
        the rate cannot bring the layer back; the linear pull does not fade.
        """
        if self.rate_gradient == "estimator":
            return z
        slope = ops.cast(self.slope, u.dtype)
        scale = slope * (0.25 if self.boundary_gradient == "sigmoid" else 0.5)
        return ops.stop_gradient(z) + scale * (u - ops.stop_gradient(u))

    def normalise(self, gates, k):
        """``γ^k ⊙ LN(gates)`` over the last axis of ``gates (B, 4H_k)``."""
        mean = ops.mean(gates, axis=-1, keepdims=True)
        variance = ops.mean(ops.square(gates - mean), axis=-1, keepdims=True)
        return (gates - mean) * ops.rsqrt(variance + 1e-5) * self.layer_norm_gains[k]

    def call(self, inputs, states, training=None):
        states = list(states)
        hs, zs, new_states = [], [], []
        h_below, z_below = inputs, ops.ones_like(inputs[:, :1])
        for k in range(self.num_layers):
            h_tm1, c_tm1, z_tm1 = states[3 * k:3 * k + 3]
            h_above_tm1 = states[3 * k + 3] if k + 1 < self.num_layers else None
            h, c, z, u = self.layer_step(k, h_below, z_below, h_tm1, c_tm1, z_tm1,
                                         h_above_tm1)
            new_states += [h, c, z]
            hs.append(h)
            zs.append(self.output_boundary(z, u))
            h_below, z_below = h, z
        return ops.concatenate(hs + zs, axis=-1), new_states

    def get_config(self):
        config = {
            "units_per_layer": list(self.units_per_layer),
            "slope": self.initial_slope,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "boundary_bias": self.boundary_bias,
            "boundary_gradient": self.boundary_gradient,
            "layer_norm": self.layer_norm,
            "top_down_gradient": self.top_down_gradient,
            "boundary_input": self.boundary_input,
            "rate_gradient": self.rate_gradient,
        }
        return {**super().get_config(), **config}
