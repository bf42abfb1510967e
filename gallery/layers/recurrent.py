"""`Recurrent`: runs cells over time, the one time loop of the gallery.

Same constructor and call signature as ``keras.layers.RNN`` (it is a subclass), so
it works everywhere ``RNN`` does, ``keras.layers.Bidirectional`` included, and gives
the same numbers. What differs is how the loop runs for the gallery's own cells:

* a stack is run **layer by layer** (each layer over the whole sequence, then the
  next), which gives exactly what the step-interleaved stack gives, because layer
  ``l`` at step ``t`` depends only on layer ``l-1`` at steps ``≤ t``;
* so each layer's input projections ``x_t W + b`` for all ``T`` steps are one
  ``(B·T, D) × (D, G·H)`` matmul before the loop, and the loop (a symbolic
  ``while_loop`` in graph mode, no Python loop over time) only does ``h_tm1 U``;
* dropout is variational: per layer, one input mask ``(B, D)`` and one
  recurrent mask ``(B, H)`` (on ``h_{t-1}``, before ``U``) for all steps;
* padded (masked) input steps are replaced by zeros before the projection, and
  masked steps are selected, never blended: NaN or inf in the padding changes
  neither the outputs nor the gradients.

Cells that are not gallery cells (e.g. Keras's own) run through ``RNN``'s loop.
Which loop runs a cell is answered by :meth:`Recurrent.loop_for`, the method the
layer itself dispatches on (one of :data:`LOOPS`).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import ops

from gallery import kernels
from gallery.layers import fused
from gallery.layers.cell_base import RecurrentCell
from gallery.layers.loop import generic_loop

#: The time loops :meth:`Recurrent.loop_for` chooses from, fastest first.
LOOPS = ("compiled", "fused", "projected", "generic", "keras")


def _check_mask(sequences, mask):
    """Raise ``ValueError`` unless ``mask`` is ``(batch, time)`` like ``sequences``."""
    if mask is None:
        return
    mask_shape = tuple(mask.shape)
    expected = tuple(sequences.shape[:2])
    ok = len(mask_shape) == 2 and all(
        m is None or e is None or m == e for m, e in zip(mask_shape, expected))
    if not ok:
        raise ValueError(
            f"`mask` must have shape (batch, time) = {expected} to match the inputs "
            f"of shape {tuple(sequences.shape)}; received a mask of shape {mask_shape}.")


@keras.saving.register_keras_serializable(package="gallery")
class Recurrent(keras.layers.RNN):
    """Run one cell, or a stack of cells, over a sequence.

    Args:
        cell: a cell, or a list of cells (a stack: the output sequence of each is the
            input of the next; one initial state per layer).
        return_sequences: return the outputs of all steps ``(B, T, H)`` instead of
            the last one ``(B, H)``.
        return_state: also return the final states (per layer, for a stack).
        go_backwards: process the sequence in reverse; outputs come in processing
            order, as in ``keras.layers.RNN``.
        stateful: keep the final states of a batch as the initial states of the next
            (``reset_state()`` zeroes them), as in ``keras.layers.RNN``.
        unroll: write the time loop out step by step (needs a known length; runs
            the generic loop instead of the fused one, as Keras's unrolled RNN does).
        zero_output_for_mask: masked steps output zeros instead of repeating the
            last valid output (``Bidirectional`` sets it).
        jit_compile: in training, compile the fused TensorFlow loops with XLA when
            the length is fixed (they run when the compiled kernels do not).
        **kwargs: as ``keras.layers.Layer`` (``name``, ``dtype``, ...).

    Call: ``layer(inputs (B, T, D), initial_state=None, mask=None (B, T) bool,
    training=None)``. Padding is on the right; a masked step keeps the states
    unchanged and repeats the last valid output (or zeros with
    ``zero_output_for_mask=True``).
    """

    #: Use the projected, layer-by-layer loop for gallery cells. Set to ``False`` on
    #: an instance to run the generic loop one projection per step (parity tests).
    use_fast_path = True
    #: On the fast path, run cells that declare a fused algebra (LSTM, GRU, Elman) with
    #: the fused loop and its hand-written backward pass (``gallery/layers/fused.py``).
    #: ``False``: autodiff through the projected loop (the benchmark's before/after).
    use_fused = True
    #: In training, run the fused loops in the compiled kernels
    #: (``gallery/kernels``) when they build here. ``False``: the TensorFlow loops
    #: (under XLA for fixed lengths), kept for the benchmark's before/after.
    use_kernels = True

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, jit_compile: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, **kwargs)
        self.jit_compile = bool(jit_compile)

    @property
    def cells(self) -> list:
        """The cells as a list, one per layer."""
        return list(getattr(self.cell, "cells", [self.cell]))

    @property
    def _is_stack(self):
        return hasattr(self.cell, "cells")

    def _gallery_loop_applies(self):
        return all(isinstance(c, RecurrentCell) for c in self.cells)

    def build(self, sequences_shape, initial_state_shape=None):
        if self.unroll and sequences_shape[1] is None:
            raise ValueError("`unroll=True` needs a known number of time steps; received "
                             f"inputs of shape {tuple(sequences_shape)}. Give keras.Input a "
                             "length, or leave unroll=False (the loop is symbolic anyway).")
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        _check_mask(sequences, mask)
        return super().call(sequences, initial_state=initial_state, mask=mask,
                            training=training)

    def reset_state(self) -> None:
        """Zero a stateful layer's states (nested per layer for a stack)."""
        if self.states is not None:
            for state in keras.tree.flatten(self.states):
                state.assign(ops.zeros_like(state))

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if mask is not None:  # padding never reaches a cell (it may hold NaN or inf)
            sequences = ops.where(ops.expand_dims(ops.cast(mask, "bool"), -1), sequences,
                                  ops.zeros_like(sequences))
        if not self._gallery_loop_applies():
            return super().inner_loop(sequences, initial_state, mask, training=training)
        # Work time-major (T, B, ...) throughout: the loop reads one (B, ...) slice per
        # step, and the stack passes whole sequences between layers without transposes.
        x = ops.transpose(sequences, (1, 0, 2))
        mask = None if mask is None else ops.transpose(mask, (1, 0))
        if self.go_backwards:
            x = ops.flip(x, axis=0)
            mask = None if mask is None else ops.flip(mask, axis=0)
        per_layer_states = initial_state if self._is_stack else [initial_state]
        cells = self.cells
        final_states = []
        for depth, (cell, states) in enumerate(zip(cells, per_layer_states)):
            nested = isinstance(states, (list, tuple))
            last_output, x, new_states = self._run_layer(
                cell, x, list(states) if nested else [states], mask, training,
                zero_output_for_mask=self.zero_output_for_mask and depth == len(cells) - 1)
            final_states.append(new_states if nested else new_states[0])
        x = ops.transpose(x, (1, 0, 2))
        return last_output, x, (final_states if self._is_stack else final_states[0])

    def dropout_masks(self, cell, x, training):
        """``(input mask (B, D), recurrent mask (B, H))`` for one layer over
        ``x (T, B, D)``, each ``None`` where that dropout is off: one mask per
        sequence, inverted (kept values scaled by ``1 / (1 - rate)``)."""
        if not training:
            return None, None

        def draw(width, rate):
            if rate <= 0:
                return None
            ones = ops.ones((ops.shape(x)[1], width), dtype=cell.compute_dtype)
            return keras.random.dropout(ones, rate, seed=cell.seed_generator)
        return draw(x.shape[-1], cell.dropout), draw(cell.units, cell.recurrent_dropout)

    def loop_for(self, cell, training=False):
        """Which time loop runs ``cell`` (one of :attr:`cells`) in a call with
        ``training``; :meth:`_run_layer` dispatches on this answer, so it is what runs.

        * ``"compiled"``: the cell's fused algebra in the compiled CPU kernels
          (``gallery/kernels``), hand-written backward pass. In training, when the cell
          computes in float32, its algebra names a ``kernel``, ``use_kernels`` is on,
          the call is not inside an XLA-compiled function and the kernels build here.
        * ``"fused"``: the same algebra as TensorFlow while-loops (XLA-compiled in
          training when the length is fixed and ``jit_compile``): every other call of a
          cell whose :meth:`~gallery.layers.RecurrentCell.fused_algebra` is not
          ``None`` (inference, exports, other dtypes, inside XLA).
        * ``"projected"``: a gallery cell without a fused algebra (or ``use_fused``
          off): the input projections of all steps in one matmul, then the generic
          loop, differentiated by TensorFlow. Slower in training.
        * ``"generic"``: ``unroll=True`` or ``use_fast_path`` off: the generic loop,
          one projection per step.
        * ``"keras"``: a cell that is not a gallery cell (in any layer of the
          stack): ``keras.layers.RNN``'s own loop.
        """
        if not self._gallery_loop_applies():
            return "keras"
        if self.unroll or not self.use_fast_path:
            return "generic"
        algebra = cell.fused_algebra() if self.use_fused else None
        if algebra is None:
            return "projected"
        if (training and self.use_kernels and algebra.kernel is not None
                and cell.compute_dtype == "float32" and not fused.inside_xla()
                and kernels.recurrent_ops() is not None):
            return "compiled"
        return "fused"

    def _run_layer(self, cell, x, states, mask, training, zero_output_for_mask):
        """One layer over the whole time-major sequence ``x (T, B, D)``, in processing
        order, in the cell's compute dtype.

        Returns ``(last_output (B, H), outputs (T, B, H), final states)``.
        """
        x = ops.cast(x, cell.compute_dtype)
        states = [ops.cast(s, cell.compute_dtype) for s in states]
        input_mask, recurrent_mask = self.dropout_masks(cell, x, training)
        if input_mask is not None:
            x = x * input_mask[None]
        loop = self.loop_for(cell, training)
        if loop == "generic":
            def step(x_t, s):
                return cell.step_projected(cell.project_inputs(x_t), s, recurrent_mask)
            return generic_loop(step, x, states, mask=mask,
                                zero_output_for_mask=zero_output_for_mask, unroll=self.unroll)
        xp = cell.project_inputs(x)
        if loop == "projected":
            def step_projected(xp_t, s):
                return cell.step_projected(xp_t, s, recurrent_mask)
            return generic_loop(step_projected, xp, states, mask=mask,
                                zero_output_for_mask=zero_output_for_mask)
        algebra = cell.fused_algebra()
        U = tf.convert_to_tensor(cell._weight(cell.recurrent_kernel))
        if loop == "compiled":
            outputs, new_states = fused.compiled_loop(
                kernels.recurrent_ops(), algebra, xp, states, U, mask, recurrent_mask,
                zero_output_for_mask)
        else:
            outputs, new_states = fused.fused_loop(
                algebra, xp, states, U, mask=mask, recurrent_mask=recurrent_mask,
                zero_output_for_mask=zero_output_for_mask, training=bool(training),
                jit_compile=self.jit_compile)
        return outputs[-1], outputs, new_states

    def get_config(self) -> dict:
        return {**super().get_config(), "jit_compile": self.jit_compile}


class StateCarrier:
    """A trained ``Recurrent`` layer run chunk by chunk, its states carried explicitly.

    The same cells (shared weights) in a non-stateful ``Recurrent`` with
    ``return_state``: ``carrier(x (B, L, D), states) → (outputs (B, L, H), states)``,
    where ``states`` holds one list of state tensors per layer of the stack (e.g.
    ``[[h, c]]`` for one LSTM). Reading a stream in chunks from
    ``carrier.zero_state(B)`` gives what one pass over the whole stream gives
    (forward direction only: a bidirectional layer needs the whole stream).
    """

    def __init__(self, layer):
        self.cells = layer.cells
        self.stacked = layer._is_stack
        self.rnn = Recurrent(layer.cell, return_sequences=True, return_state=True)

    def zero_state(self, batch):
        def sizes(cell):
            size = cell.state_size
            return list(size) if isinstance(size, (list, tuple)) else [size]
        return [[ops.zeros((batch, s)) for s in sizes(cell)] for cell in self.cells]

    def __call__(self, x, states, mask=None):
        outputs = self.rnn(x, initial_state=states if self.stacked else states[0], mask=mask)
        finals = outputs[1:]
        if self.stacked:  # one entry per layer
            return outputs[0], [list(s) if isinstance(s, (list, tuple)) else [s] for s in finals]
        return outputs[0], [list(finals)]
