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
* input dropout is applied once per layer with one mask for all steps.

Cells that are not gallery cells (e.g. Keras's own) run through ``RNN``'s loop.
"""

import keras
import tensorflow as tf
from keras import ops
from keras.src import (
    backend,  # backend.rnn: the symbolic time loop keras.layers.RNN uses
    tree,
)

from gallery.layers import fused
from gallery.layers.cells import RecurrentCell


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
        Other arguments as ``keras.layers.RNN``.

    Call: ``layer(inputs (B, T, D), initial_state=None, mask=None (B, T) bool,
    training=None)``. Padding is on the right; a masked step keeps the states
    unchanged and repeats the last valid output (or zeros with
    ``zero_output_for_mask=True``, which ``Bidirectional`` sets).
    """

    #: Use the projected, layer-by-layer loop for gallery cells. Set to ``False`` on
    #: an instance to force the generic per-step loop (used by the parity tests).
    use_fast_path = True
    #: On the fast path, run LSTM/GRU/Elman cells with the fused loop and its
    #: hand-written backward pass (``gallery/layers/fused.py``). ``False``: autodiff
    #: through the projected loop (kept for the benchmark's before/after).
    use_fused = True
    #: In training, run the fused loops in the compiled kernels
    #: (``gallery/kernels``) when they build here. ``False``: the TensorFlow loops
    #: (under XLA for fixed lengths), kept for the benchmark's before/after.
    use_kernels = True
    #: In training, compile the TensorFlow loops (when the kernels are not used) with
    #: XLA for fixed-length batches. ``False``: plain loops (the benchmark's before/after).
    use_xla = True

    @property
    def cells(self):
        """The cells as a list, one per layer."""
        return list(getattr(self.cell, "cells", [self.cell]))

    @property
    def _is_stack(self):
        return hasattr(self.cell, "cells")

    def _gallery_loop_applies(self):
        return all(isinstance(c, RecurrentCell) for c in self.cells)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        _check_mask(sequences, mask)
        return super().call(sequences, initial_state=initial_state, mask=mask,
                            training=training)

    def reset_state(self):
        """Zero a stateful layer's states (nested per layer for a stack)."""
        if self.states is not None:
            for state in tree.flatten(self.states):
                state.assign(ops.zeros_like(state))

    def _maybe_config_dropout_masks(self, cell, input_sequence, input_state):
        # RNN runs one step of every stacked cell here to prepare dropout masks;
        # gallery cells need no such preparation.
        if not self._gallery_loop_applies():
            super()._maybe_config_dropout_masks(cell, input_sequence, input_state)

    def inner_loop(self, sequences, initial_state, mask, training=False):
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
            is_top = depth == len(cells) - 1
            last_output, x, new_states = self._run_layer(
                cell, x, list(states) if nested else [states], mask, training,
                zero_output_for_mask=self.zero_output_for_mask and is_top,
                return_all_outputs=self.return_sequences or not is_top)
            final_states.append(new_states if nested else new_states[0])
        x = ops.transpose(x, (1, 0, 2))
        return last_output, x, (final_states if self._is_stack else final_states[0])

    def _run_layer(self, cell, x, states, mask, training, zero_output_for_mask,
                   return_all_outputs):
        """One layer over the whole time-major sequence ``x (T, B, D)``, in processing order.

        Returns ``(last_output (B, H), outputs (T, B, H), final states)``.
        """
        if training and cell.dropout > 0:
            shape = ops.shape(x)
            x = keras.random.dropout(x, cell.dropout, noise_shape=(1, shape[1], shape[2]),
                                     seed=cell.seed_generator)
        algebra = fused.algebra_for(cell) if self.use_fast_path and self.use_fused else None
        if algebra is not None:
            outputs, new_states = fused.fused_loop(
                algebra, cell.project_inputs(x), list(states),
                tf.convert_to_tensor(cell.recurrent_kernel), mask=mask,
                zero_output_for_mask=zero_output_for_mask, training=bool(training),
                use_kernels=self.use_kernels, jit=self.use_xla)
            return outputs[-1], outputs, new_states
        if self.use_fast_path:
            inputs, step = cell.project_inputs(x), cell.step_projected
        else:
            inputs, step = x, cell.call
        return backend.rnn(
            step, inputs, states, mask=mask, unroll=self.unroll,
            input_length=x.shape[0], time_major=True, zero_output_for_mask=zero_output_for_mask,
            return_all_outputs=return_all_outputs)



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
