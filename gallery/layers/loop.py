"""The generic time loop: any step function, differentiated by TensorFlow.

``Recurrent`` runs its cells here when the fused loop does not apply (a cell
without a fused algebra, such as ``GRUCell(reset_after=False)`` or an LSTM with a
hard-sigmoid gate; ``unroll=True``; ``use_fast_path=False``). It is what Keras's
``backend.rnn`` does for ``keras.layers.RNN``, written with public TensorFlow only
(Keras has no public ``rnn`` function).

Time-major: ``inputs (T, B, ...)``, ``states`` a list of ``(B, H)``,
``mask (T, B)`` bool. A masked step keeps the states and repeats the previous
output (zeros with ``zero_output_for_mask``); it is *selected* (``tf.where``), so
padding holding NaN or inf never reaches the results.
"""

import tensorflow as tf


def generic_loop(step, inputs, states, mask=None, zero_output_for_mask=False, unroll=False):
    """Run ``step(x_t, states) -> (output (B, H), new_states)`` over ``inputs``.

    Returns ``(last_output (B, H), outputs (T, B, H), final_states)``. The outputs
    have the shape of the first state (every gallery cell outputs its ``h``).
    ``unroll=True`` writes the loop out step by step (the length must be known).
    """
    states = list(states)
    keep = None if mask is None else tf.cast(mask, tf.bool)[:, :, None]
    out0 = tf.zeros_like(states[0])

    def one_step(t, x_t, states, out_prev):
        out, new_states = step(x_t, states)
        new_states = list(new_states)
        if keep is not None:
            m = keep[t]
            new_states = [tf.where(m, n, s) for n, s in zip(new_states, states)]
            out = tf.where(m, out, tf.zeros_like(out) if zero_output_for_mask else out_prev)
        return out, new_states

    if unroll:
        if inputs.shape[0] is None:
            raise ValueError("`unroll=True` needs a known number of time steps; the inputs "
                             f"have shape {tuple(inputs.shape)} (time first here).")
        outputs, out = [], out0
        for t in range(inputs.shape[0]):
            out, states = one_step(t, inputs[t], states, out)
            outputs.append(out)
        stacked = tf.stack(outputs) if outputs else tf.zeros_like(out0)[None][:0]
        return out, stacked, states

    steps = tf.shape(inputs)[0]
    # Read steps from a TensorArray: the gradient of inputs[t] inside the loop would be
    # a full (T, B, ...) tensor per step (quadratic in T); a TensorArray's is one slice.
    steps_in = tf.TensorArray(inputs.dtype, size=steps).unstack(inputs)

    def body(t, states, out_prev, outputs):
        out, new_states = one_step(t, steps_in.read(t), states, out_prev)
        return t + 1, new_states, out, outputs.write(t, out)

    _, states, last, outputs = tf.while_loop(
        lambda t, *_: t < steps, body,
        (0, states, out0, tf.TensorArray(out0.dtype, size=steps)))
    outputs = outputs.stack()
    outputs.set_shape([inputs.shape[0], *out0.shape])
    return last, outputs, states
