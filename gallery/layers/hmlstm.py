"""`HMLSTM`: the hierarchical multiscale LSTM over a sequence, with the paper's output module.

Chung, Ahn & Bengio, "Hierarchical Multiscale Recurrent Neural Networks", ICLR 2017.
The step equations (UPDATE / COPY / FLUSH, the boundary detector and its
straight-through gradient) are in :mod:`gallery.layers.hmlstm_cell`; this layer runs
that cell in :class:`gallery.layers.Recurrent` (the gallery's one time loop, so a
masked step keeps every ``h``, ``c`` and ``z`` unchanged and repeats the last valid
output) and then applies the output module (the paper's eq. 11) to all steps at once::

    g_t^ℓ = σ(w^ℓ · [h_t^1; ...; h_t^L])               one scalar gate per layer
    h_t^e = ReLU(Σ_ℓ g_t^ℓ · h_t^ℓ W_ℓ^e)               (B, E)

Optionally (not in the paper), a boundary-rate penalty added with ``add_loss`` while
training, ``λ · Σ_ℓ (mean_{b,t} z_t^ℓ - r_ℓ)²`` (valid steps only): its gradient
reaches the boundary units through the straight-through estimator (or, with
``rate_gradient="linear"``, through a slope that does not fade, see
:meth:`HMLSTMCell.output_boundary`) and pulls each layer's rate toward ``r_ℓ``, so a
layer cannot settle on "never" or "always".

Weights: ``gate_kernel (ΣH_ℓ, L)`` (column ``ℓ`` is ``w^ℓ``) and ``output_kernel_l =
W_ℓ^e (H_ℓ, E)``; no biases, as in the paper.

The slope ``a`` of the boundary's hard sigmoid is annealed upward during training by
:class:`SlopeAnnealing`, ``a = min(maximum, start + rate · step)`` per training step
(the paper: ``min(5, 1 + 0.04 · epoch)`` per epoch over Penn Treebank or text8; short
runs need the per-step form). The schedule's settings belong in the run's config.
"""

import keras
from keras import ops

from gallery.layers.hmlstm_cell import HMLSTMCell, _check_units_per_layer
from gallery.layers.recurrent import Recurrent


@keras.saving.register_keras_serializable(package="gallery")
class HMLSTM(keras.layers.Layer):
    """A hierarchical multiscale LSTM of ``L = len(units_per_layer)`` layers.

    Args:
        units_per_layer: ``[H_1, ..., H_L]``, e.g. ``[256, 256, 256]``.
        output_units: ``E``, the width of the output module's ``h^e``
            (default ``H_1``).
        return_sequences: return ``h^e`` for all steps ``(B, T, E)`` (default) or the
            last valid one ``(B, E)``.
        return_boundaries: also return the boundary states ``z (B, T, L)`` (column
            ``ℓ - 1`` is layer ``ℓ``'s ``z_t^ℓ``; 0 or 1).
        slope: initial slope ``a`` of the boundary detector (see :class:`SlopeAnnealing`).
        boundary_rate_weight: ``λ`` of the boundary-rate penalty (0, the default,
            is the paper's model: no penalty).
        boundary_rate_target: ``[r_1, ..., r_L]`` (or one ``r`` for all layers).
        Other keyword arguments go to :class:`HMLSTMCell` (initialisers,
        ``unit_forget_bias``, ``boundary_bias``, ``boundary_gradient``, ``layer_norm``,
            ``top_down_gradient``, ``boundary_input``, ``rate_gradient``) or to
        ``keras.layers.Layer``.

    Call: ``layer(x (B, T, D), mask=None (B, T) bool)``; padding on the right.
    """

    _CELL_ARGS = ("kernel_initializer", "recurrent_initializer", "bias_initializer",
                  "unit_forget_bias", "boundary_bias", "boundary_gradient", "layer_norm",
                  "top_down_gradient", "boundary_input", "rate_gradient")

    def __init__(self, units_per_layer, output_units=None, return_sequences=True,
                 return_boundaries=False, slope=1.0, boundary_rate_weight=0.0,
                 boundary_rate_target=0.5, **kwargs):
        cell_kwargs = {k: kwargs.pop(k) for k in self._CELL_ARGS if k in kwargs}
        super().__init__(**kwargs)
        self.units_per_layer = _check_units_per_layer(units_per_layer)
        self.output_units = int(output_units or self.units_per_layer[0])
        self.return_sequences = bool(return_sequences)
        self.return_boundaries = bool(return_boundaries)
        self.supports_masking = True
        self.boundary_rate_weight = float(boundary_rate_weight)
        targets = boundary_rate_target
        if not isinstance(targets, (list, tuple)):
            targets = [targets] * len(self.units_per_layer)
        if len(targets) != len(self.units_per_layer):
            raise ValueError("`boundary_rate_target` needs one rate per layer; received "
                             f"boundary_rate_target={boundary_rate_target!r}.")
        self.boundary_rate_target = [float(r) for r in targets]
        self.cell = HMLSTMCell(self.units_per_layer, slope=slope, name="cell", **cell_kwargs)
        self.rnn = Recurrent(self.cell, return_sequences=True, name="rnn")

    @property
    def slope(self):
        """The boundary detector's slope ``a`` (a non-trainable scalar variable)."""
        return self.cell.slope

    def build(self, input_shape):
        self.cell.build((input_shape[0], input_shape[-1]))
        self.rnn.build(input_shape)
        self.gate_kernel = self.add_weight(
            shape=(sum(self.units_per_layer), len(self.units_per_layer)), name="gate_kernel",
            initializer="glorot_uniform")
        self.output_kernels = [
            self.add_weight(shape=(units, self.output_units), name=f"output_kernel_{k}",
                            initializer="glorot_uniform")
            for k, units in enumerate(self.units_per_layer)]
        self.built = True

    def output_module(self, hs):
        """Eq. 11: ``hs`` is ``[h^1 (..., H_1), ..., h^L]`` → ``h^e (..., E)``."""
        gates = ops.sigmoid(ops.matmul(ops.concatenate(hs, axis=-1), self.gate_kernel))
        mixed = sum(gates[..., k:k + 1] * ops.matmul(h, kernel)
                    for k, (h, kernel) in enumerate(zip(hs, self.output_kernels)))
        return ops.relu(mixed)

    def split(self, outputs):
        """The cell's outputs ``(..., ΣH_ℓ + L)`` → ``([h^1, ..., h^L], z (..., L))``."""
        hs, start = [], 0
        for units in self.units_per_layer:
            hs.append(outputs[..., start:start + units])
            start += units
        return hs, outputs[..., start:]

    def boundary_rate_penalty(self, z, mask=None):
        """``λ · Σ_ℓ (mean z^ℓ - r_ℓ)²`` over the valid steps of ``z (B, [T,] L)``."""
        if mask is not None and len(z.shape) == 3:
            weights = ops.cast(mask, z.dtype)[..., None]
            rate = ops.sum(z * weights, axis=(0, 1)) / ops.maximum(ops.sum(weights), 1.0)
        else:
            rate = ops.mean(ops.reshape(z, (-1, z.shape[-1])), axis=0)
        target = ops.convert_to_tensor(self.boundary_rate_target, dtype=z.dtype)
        return self.boundary_rate_weight * ops.sum(ops.square(rate - target))

    def call(self, inputs, mask=None, training=None):
        outputs = self.rnn(inputs, mask=mask, training=training)  # (B, T, ΣH + L)
        if not self.return_sequences:
            outputs = outputs[:, -1]  # a masked step repeats the last valid output
        hs, z = self.split(outputs)
        if training and self.boundary_rate_weight:
            self.add_loss(self.boundary_rate_penalty(z, mask))
        h_e = self.output_module(hs)
        return (h_e, z) if self.return_boundaries else h_e

    def compute_mask(self, inputs, mask=None):
        if mask is None or not self.return_sequences:
            return None
        return (mask, mask) if self.return_boundaries else mask

    def compute_output_shape(self, input_shape):
        steps = (input_shape[1],) if self.return_sequences else ()
        h_e = (input_shape[0], *steps, self.output_units)
        z = (input_shape[0], *steps, len(self.units_per_layer))
        return (h_e, z) if self.return_boundaries else h_e

    def get_config(self):
        config = {
            "units_per_layer": list(self.units_per_layer),
            "output_units": self.output_units,
            "return_sequences": self.return_sequences,
            "return_boundaries": self.return_boundaries,
            "slope": self.cell.initial_slope,
            "boundary_rate_weight": self.boundary_rate_weight,
            "boundary_rate_target": list(self.boundary_rate_target),
        }
        cell_config = self.cell.get_config()
        config.update({k: cell_config[k] for k in self._CELL_ARGS})
        return {**super().get_config(), **config}


def slope_at(step, start=1.0, rate=0.0, maximum=5.0):
    """The annealed slope after ``step`` training steps: ``min(maximum, start + rate·step)``."""
    return min(float(maximum), float(start) + float(rate) * int(step))


class SlopeAnnealing(keras.callbacks.Callback):
    """Set every ``HMLSTM`` layer's slope to :func:`slope_at` before each training batch.

    Args:
        layers: the ``HMLSTM`` layers (or their cells) to anneal.
        start, rate, maximum: the schedule ``a = min(maximum, start + rate · step)``;
            :meth:`get_config` returns them for the run's config.
    """

    def __init__(self, layers, start=1.0, rate=0.0, maximum=5.0):
        super().__init__()
        self.layers = list(layers)
        self.start, self.rate, self.maximum = float(start), float(rate), float(maximum)
        self.step = 0

    def on_train_batch_begin(self, batch, logs=None):
        value = slope_at(self.step, self.start, self.rate, self.maximum)
        for layer in self.layers:
            layer.slope.assign(value)
        self.step += 1

    def get_config(self):
        return {"start": self.start, "rate": self.rate, "maximum": self.maximum}
