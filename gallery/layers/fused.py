"""Fused recurrences with a hand-written backward pass (``tf.custom_gradient``).

``Recurrent`` computes the input projections of all steps in one matmul
(``x W + b``, autodiff handles it) and hands the time loop to :func:`fused_loop`.
Its forward pass is a ``tf.while_loop`` that keeps, per step, only what the
backward pass needs (gate activations, the previous state). The backward pass is a
second loop that carries only the state gradients ``∂L/∂h`` (and ``∂L/∂c``) from
step to step: at each step it forms the gate-input gradients ``dZ_t`` and sends
``dZ_t Uᵀ`` back. The recurrent weight gradient is then **one** large matmul over
all steps, ``dU = [h_0 … h_{T-1}]ᵀ · [dZ_0 … dZ_{T-1}]`` (``(H, T·B) @ (T·B, kH)``),
instead of ``T`` small products summed inside the loop, and the gradient of the
projected inputs is ``dZ`` itself, so ``dW = Xᵀ dZ`` is one large matmul too.

Masks follow the Keras convention (masked step: states unchanged; output repeats
the previous output, or is zero with ``zero_output_for_mask``). Shapes, time-major:
``xp (T, B, kH)``, states ``(B, H)``, mask ``(T, B)`` bool.

Cells: ``LSTMCell``, ``GRUCell(reset_after=True)`` and ``ElmanCell``; anything else
(e.g. ``GRUCell(reset_after=False)``) uses the generic loop.

Three implementations of the same algebra: in training, both loops run in the
compiled CPU kernels (``gallery/kernels/recurrent_loop.cc``, :func:`compiled_loop`),
which split the batch rows across threads for the whole sequence; where those do
not build, or with ``Recurrent.use_kernels = False``, the TensorFlow while-loops
below, XLA-compiled when the length is fixed. Inference and exports always use the
TensorFlow loops, so a SavedModel needs nothing from this package.
"""

import tensorflow as tf


# -- the step algebra of each cell: forward (keeping what backward needs) and backward --
class _LSTM:
    """``z = xp + h U``; ``i f g o``; ``c' = f c + i g``; ``h' = o tanh(c')``."""

    num_states = 2
    kernel = "lstm"  # the compiled loop's cell (gallery/kernels/recurrent_loop.cc)

    def __init__(self, cell):
        self.extra = ()

    def forward(self, xp_t, states, U, extra):
        h, c = states
        z = xp_t + tf.matmul(h, U)
        zi, zf, zg, zo = tf.split(z, 4, axis=-1)
        i, f, g, o = tf.sigmoid(zi), tf.sigmoid(zf), tf.tanh(zg), tf.sigmoid(zo)
        c_new = f * c + i * g
        tc = tf.tanh(c_new)
        return o * tc, [o * tc, c_new], tf.concat([i, f, g, o, tc], axis=-1)

    def backward(self, dh, dstates_rest, saved, prev_states, U, extra):
        (dc,) = dstates_rest
        i, f, g, o, tc = tf.split(saved, 5, axis=-1)
        c_prev = prev_states[1]
        dc = dc + dh * o * (1.0 - tc * tc)
        dz = tf.concat([dc * g * i * (1.0 - i), dc * c_prev * f * (1.0 - f),
                        dc * i * (1.0 - g * g), dh * tc * o * (1.0 - o)], axis=-1)
        return dz, dz, tf.matmul(dz, U, transpose_b=True), [dc * f]


class _GRU:
    """reset_after form: ``n = tanh(xp_n + r ⊙ (h U_n + b_hn))``, ``h' = z h + (1 − z) n``."""

    num_states = 1
    kernel = "gru"

    def __init__(self, cell):
        self.cell = cell

    @property
    def extra(self):
        """The recurrent bias ``b_h`` (read when the loop runs, so gradients reach it)."""
        cell = self.cell
        return (tf.convert_to_tensor(cell.bias[1]) if cell.bias is not None
                else tf.zeros([3 * cell.units]),)

    def forward(self, xp_t, states, U, extra):
        (h,) = states
        rec = tf.matmul(h, U) + extra[0]
        xz, xr, xh = tf.split(xp_t, 3, axis=-1)
        rz, rr, rh = tf.split(rec, 3, axis=-1)
        z, r = tf.sigmoid(xz + rz), tf.sigmoid(xr + rr)
        n = tf.tanh(xh + r * rh)
        h_new = z * h + (1.0 - z) * n
        return h_new, [h_new], tf.concat([z, r, n, rh], axis=-1)

    def backward(self, dh, dstates_rest, saved, prev_states, U, extra):
        z, r, n, rh = tf.split(saved, 4, axis=-1)
        h_prev = prev_states[0]
        dan = dh * (1.0 - z) * (1.0 - n * n)
        daz = dh * (h_prev - n) * z * (1.0 - z)
        dar = dan * rh * r * (1.0 - r)
        d_rec = tf.concat([daz, dar, dan * r], axis=-1)
        d_xp = tf.concat([daz, dar, dan], axis=-1)
        return d_xp, d_rec, dh * z + tf.matmul(d_rec, U, transpose_b=True), []


class _Elman:
    """``h' = φ(xp + h U)``, φ tanh, ReLU or linear."""

    num_states = 1
    kernel = "elman"

    def __init__(self, cell):
        self.activation = cell.activation
        self.extra = ()

    def forward(self, xp_t, states, U, extra):
        a = xp_t + tf.matmul(states[0], U)
        if self.activation == "tanh":
            h = tf.tanh(a)
        elif self.activation == "relu":
            h = tf.nn.relu(a)
        else:
            h = a
        return h, [h], h

    def backward(self, dh, dstates_rest, saved, prev_states, U, extra):
        if self.activation == "tanh":
            da = dh * (1.0 - saved * saved)
        elif self.activation == "relu":
            da = dh * tf.cast(saved > 0, dh.dtype)
        else:
            da = dh
        return da, da, tf.matmul(da, U, transpose_b=True), []


def algebra_for(cell):
    """The fused step algebra for ``cell``, or ``None`` where the generic loop must run."""
    from gallery.layers.cells import ElmanCell, GRUCell, LSTMCell

    if isinstance(cell, LSTMCell):
        return _LSTM(cell)
    if isinstance(cell, GRUCell) and cell.reset_after:
        return _GRU(cell)
    if isinstance(cell, ElmanCell):
        return _Elman(cell)
    return None


def _compiled(function, jit):
    return tf.function(function, jit_compile=True) if jit else function


def fused_loop(algebra, xp, states, U, mask=None, zero_output_for_mask=False,
               training=False, use_kernels=True, jit=True):
    """Run the cell over ``xp (T, B, kH)`` from ``states``.

    Returns ``(outputs (T, B, H), final_states)`` like ``keras.src.backend.rnn``'s
    time-major outputs; gradients flow to ``xp``, ``states``, ``U`` and the cell's
    extra tensors (the GRU's recurrent bias) through the hand-written backward pass.
    In training (with ``use_kernels``), the loops run in the compiled kernels
    (:func:`compiled_loop`) when they build here; never in inference, so a SavedModel
    loads without this package's library. Otherwise, with ``jit``, training compiles
    the TensorFlow loops with XLA (it fuses each step's elementwise work; measured on
    B=64 T=100 H=256: LSTM step 148 → 127 ms); inference and exports run plain
    TensorFlow (no compile per new batch shape in a server).
    """
    if use_kernels and training and xp.dtype == tf.float32:
        from gallery import kernels

        library = kernels.recurrent_ops()
        if library is not None:
            return compiled_loop(library, algebra, xp, states, U, mask, zero_output_for_mask)
    extra = list(algebra.extra)
    count = len(states)
    # XLA compiles per shape: only worth it when the time length is fixed at trace
    # time (not for length-bucketed batches, which would recompile for every length).
    jit = jit and training and xp.shape[0] is not None
    mask_f = None if mask is None else tf.cast(mask, xp.dtype)[:, :, None]

    @tf.custom_gradient
    def run(xp, U, *flat):
        states0, extra_t = list(flat[:count]), list(flat[count:])
        units = tf.shape(states0[0])[1]
        out0 = tf.zeros_like(states0[0])

        def forward_loop(xp, U, extra_t, states0, out0):
            steps = tf.shape(xp)[0]

            def body(t, states, out_prev, outputs, saved, carried):
                out_new, new_states, keep = algebra.forward(xp[t], states, U, extra_t)
                carried = [ta.write(t, s) for ta, s in zip(carried, states)]
                if mask_f is not None:
                    m = mask_f[t]
                    new_states = [m * n + (1.0 - m) * s for n, s in zip(new_states, states)]
                    fallback = 0.0 if zero_output_for_mask else out_prev
                    out_new = m * out_new + (1.0 - m) * fallback
                return (t + 1, new_states, out_new, outputs.write(t, out_new),
                        saved.write(t, keep), carried)

            arrays = [tf.TensorArray(xp.dtype, size=steps) for _ in range(count)]
            _, final, _, outputs, saved, carried = tf.while_loop(
                lambda t, *_: t < steps, body,
                (0, states0, out0, tf.TensorArray(xp.dtype, size=steps),
                 tf.TensorArray(xp.dtype, size=steps), arrays))
            return final, outputs.stack(), saved.stack(), [ta.stack() for ta in carried]

        # The gradient is ours (below): the tape must not trace into the loop.
        inputs = tf.nest.map_structure(tf.stop_gradient, (xp, U, extra_t, states0, out0))
        # prev: the state entering each step (T, B, H)
        final, outputs, saved, prev = _compiled(forward_loop, jit)(*inputs)

        def grad(d_outputs, *d_final):
            d_outputs = tf.convert_to_tensor(d_outputs)
            d_final = [tf.zeros_like(s) if d is None else tf.convert_to_tensor(d)
                       for d, s in zip(d_final, final)]

            def back(t, dstates, d_out_carry, d_xp, d_rec):
                t = t - 1
                g_out = d_outputs[t] + d_out_carry
                prev_t = [p[t] for p in prev]
                dh, rest = dstates[0], list(dstates[1:])
                if mask_f is not None:
                    m = mask_f[t]
                    dh_raw, rest_raw = m * (dh + g_out), [m * d for d in rest]
                    pass_h, pass_rest = (1.0 - m) * dh, [(1.0 - m) * d for d in rest]
                    d_out_carry = (0.0 * g_out if zero_output_for_mask
                                   else (1.0 - m) * g_out)
                else:
                    dh_raw, rest_raw = dh + g_out, rest
                    pass_h, pass_rest = 0.0, [0.0] * len(rest)
                dz_xp, dz_rec, dh_prev, rest_prev = algebra.backward(
                    dh_raw, rest_raw, saved[t], prev_t, U, extra_t)
                new_dstates = [dh_prev + pass_h] + [r + p for r, p in zip(rest_prev, pass_rest)]
                return t, new_dstates, d_out_carry, d_xp.write(t, dz_xp), d_rec.write(t, dz_rec)

            def backward_loop(d_final, saved):
                steps = tf.shape(saved)[0]
                _, d_states0, _, d_xp, d_rec = tf.while_loop(
                    lambda t, *_: t > 0, back,
                    (steps, d_final, tf.zeros_like(d_final[0]),
                     tf.TensorArray(xp.dtype, size=steps),
                     tf.TensorArray(xp.dtype, size=steps)))
                return d_states0, d_xp.stack(), d_rec.stack()

            d_states0, d_xp, d_rec = _compiled(backward_loop, jit)(d_final, saved)
            width = tf.shape(d_rec)[-1]
            flat_rec = tf.reshape(d_rec, [-1, width])
            d_u = tf.matmul(tf.reshape(prev[0], [-1, units]), flat_rec, transpose_a=True)
            d_extra = [tf.reduce_sum(flat_rec, axis=0) for _ in extra_t]
            return (d_xp, d_u, *d_states0, *d_extra)

        return (outputs, *final), grad

    results = run(xp, U, *states, *extra)
    return results[0], list(results[1:])


def compiled_loop(library, algebra, xp, states, U, mask=None, zero_output_for_mask=False):
    """:func:`fused_loop` with both time loops in the compiled kernels.

    Same contract and the same step algebra (``recurrent_loop.cc`` spells it out);
    the weight gradients ``dU = Σ_t h_{t−1}ᵀ dZ_t`` (and the GRU's ``db_h``) are
    formed here after the backward loop, as one large matmul.
    """
    lstm = algebra.kernel == "lstm"
    extra = list(algebra.extra)
    activation = (algebra.activation or "linear") if algebra.kernel == "elman" else "tanh"
    attrs = dict(cell=algebra.kernel, zero_output=bool(zero_output_for_mask),
                 activation=activation)
    mask_f = (tf.zeros([0, 0]) if mask is None else tf.cast(mask, tf.float32))

    @tf.custom_gradient
    def run(xp, U, *flat):
        h0 = flat[0]
        c0 = flat[1] if lstm else h0
        bias = flat[-1] if extra else tf.zeros([tf.shape(U)[1]])
        outputs, h, c, saved, prev_h, prev_c = library.gallery_recurrent_loop_forward(
            xp=xp, u=U, h0=h0, c0=c0, bias_h=bias, mask=mask_f, **attrs)
        final = [h, c] if lstm else [h]

        def grad(d_outputs, *d_final):
            d_final = [tf.zeros_like(s) if d is None else tf.convert_to_tensor(d)
                       for d, s in zip(d_final, final)]
            d_c = d_final[1] if lstm else tf.zeros_like(d_final[0])
            d_xp, d_rec, d_h0, d_c0 = library.gallery_recurrent_loop_backward(
                d_outputs=tf.convert_to_tensor(d_outputs), dh_final=d_final[0], dc_final=d_c,
                saved=saved, prev_h=prev_h, prev_c=prev_c, u=U, mask=mask_f, **attrs)
            width = tf.shape(U)[1]
            flat_rec = tf.reshape(d_rec if algebra.kernel == "gru" else d_xp, [-1, width])
            d_u = tf.matmul(tf.reshape(prev_h, [-1, tf.shape(U)[0]]), flat_rec,
                            transpose_a=True)
            d_extra = [tf.reduce_sum(flat_rec, axis=0)] if extra else []
            return (d_xp, d_u, d_h0, *([d_c0] if lstm else []), *d_extra)

        return (outputs, *final), grad

    results = run(xp, U, *states, *extra)
    return results[0], list(results[1:])
