"""Fused recurrences with a hand-written backward pass (``tf.custom_gradient``).

``Recurrent`` computes the input projections of all steps in one matmul
(``x W + b``, autodiff handles it) and hands the time loop to :func:`fused_loop`.
Its forward pass is a ``tf.while_loop`` that keeps, per step, only what the
backward pass needs (gate activations, the previous state). The backward pass is a
second loop that carries only the state gradients ``∂L/∂h`` (and ``∂L/∂c``) from
step to step: at each step it forms the gate-input gradients ``dZ_t`` and sends
``(dZ_t Uᵀ) ⊙ m`` back (``m (B, H)`` the recurrent-dropout mask, ones without it).
The recurrent weight gradient is then **one** large matmul over all steps,
``dU = [h̃_0 … h̃_{T-1}]ᵀ · [dZ_0 … dZ_{T-1}]`` (``h̃_t = m ⊙ h_t``;
``(H, T·B) @ (T·B, kH)``), instead of ``T`` small products summed inside the loop,
and the gradient of the projected inputs is ``dZ`` itself, so ``dW = Xᵀ dZ`` is one
large matmul too.

Masks follow the Keras convention (masked step: states unchanged; output repeats
the previous output, or is zero with ``zero_output_for_mask``), and masked steps are
*selected* (``tf.where``), never blended by multiplication: padding holding NaN or
inf cannot leak into the states or the gradients. Shapes, time-major:
``xp (T, B, kH)``, states ``(B, H)``, mask ``(T, B)`` bool, recurrent-dropout mask
``(B, H)``.

A cell declares its algebra (:meth:`gallery.layers.RecurrentCell.fused_algebra`):
``LSTMCell`` and ``GRUCell(reset_after=True)`` with their default activations (tanh,
sigmoid) return :class:`LSTMAlgebra` and :class:`GRUAlgebra`, ``ElmanCell`` with tanh,
ReLU or linear :class:`ElmanAlgebra`; anything else (e.g. ``GRUCell(reset_after=False)``,
a hard-sigmoid LSTM) returns ``None`` and runs the generic loop, which gives the same
numbers by autodiff.

Two implementations of the same algebra: the compiled CPU kernels
(``gallery/kernels/recurrent_loop.cc``, :func:`compiled_loop`; the algebra's
``kernel`` names its cell there), which split the batch rows across threads for the
whole sequence, and the TensorFlow while-loops of :func:`fused_loop`, XLA-compiled in
training when the length is fixed (``Recurrent(jit_compile=...)``). Which one runs is
decided in one place, :meth:`gallery.layers.Recurrent.loop_for`: the kernels in
float32 training where they build, the TensorFlow loops otherwise. Inference and
exports always use the TensorFlow loops, so a SavedModel needs nothing from this
package.
"""

import functools

import keras
import tensorflow as tf


def _matmul_back(dz_rec, U, recurrent_mask):
    """``(dZ Uᵀ) ⊙ m``: the gradient reaching ``h_{t-1}`` through the recurrent matmul."""
    back = tf.matmul(dz_rec, U, transpose_b=True)
    return back if recurrent_mask is None else back * recurrent_mask


def _dropped(h, recurrent_mask):
    return h if recurrent_mask is None else h * recurrent_mask


# -- the step algebra of each cell: forward (keeping what backward needs) and backward.
# backward returns (dZ w.r.t. xp, dZ w.r.t. the recurrent pre-activation, the part of
# ∂L/∂h_{t-1} that does not go through U (or None), the other states' gradients).
class LSTMAlgebra:
    """``z = xp + h̃ U``; ``i f g o``; ``c' = f c + i g``; ``h' = o tanh(c')``."""

    num_states = 2
    kernel = "lstm"  # the compiled loop's cell (gallery/kernels/recurrent_loop.cc); None: none

    def __init__(self, cell):
        self.extra = ()

    def forward(self, xp_t, states, U, extra, rmask):
        h, c = states
        z = xp_t + tf.matmul(_dropped(h, rmask), U)
        zi, zf, zg, zo = tf.split(z, 4, axis=-1)
        i, f, g, o = tf.sigmoid(zi), tf.sigmoid(zf), tf.tanh(zg), tf.sigmoid(zo)
        c_new = f * c + i * g
        tc = tf.tanh(c_new)
        return o * tc, [o * tc, c_new], tf.concat([i, f, g, o, tc], axis=-1)

    def step(self, xp_t, states, U, extra):
        """:meth:`forward` for inference: the same numbers, fewer ops (one sigmoid over
        all four gates, nothing kept for a backward pass)."""
        h, c = states
        z = xp_t + tf.matmul(h, U)
        i, f, _, o = tf.split(tf.sigmoid(z), 4, axis=-1)
        g = tf.tanh(z[:, 2 * h.shape[-1]:3 * h.shape[-1]])
        c_new = f * c + i * g
        h_new = o * tf.tanh(c_new)
        return h_new, [h_new, c_new]

    def backward(self, dh, dstates_rest, saved, prev_states, extra):
        (dc,) = dstates_rest
        i, f, g, o, tc = tf.split(saved, 5, axis=-1)
        c_prev = prev_states[1]
        dc = dc + dh * o * (1.0 - tc * tc)
        dz = tf.concat([dc * g * i * (1.0 - i), dc * c_prev * f * (1.0 - f),
                        dc * i * (1.0 - g * g), dh * tc * o * (1.0 - o)], axis=-1)
        return dz, dz, None, [dc * f]


class GRUAlgebra:
    """reset_after form: ``n = tanh(xp_n + r ⊙ (h̃ U_n + b_hn))``, ``h' = z h + (1 − z) n``."""

    num_states = 1
    kernel = "gru"

    def __init__(self, cell):
        self.cell = cell

    @property
    def extra(self):
        """The recurrent bias ``b_h`` (read when the loop runs, so gradients reach it)."""
        cell = self.cell
        return (tf.convert_to_tensor(cell._weight(cell.bias[1])) if cell.bias is not None
                else tf.zeros([3 * cell.units], dtype=cell.compute_dtype),)

    def forward(self, xp_t, states, U, extra, rmask):
        (h,) = states
        rec = tf.matmul(_dropped(h, rmask), U) + extra[0]
        xz, xr, xh = tf.split(xp_t, 3, axis=-1)
        rz, rr, rh = tf.split(rec, 3, axis=-1)
        z, r = tf.sigmoid(xz + rz), tf.sigmoid(xr + rr)
        n = tf.tanh(xh + r * rh)
        h_new = z * h + (1.0 - z) * n
        return h_new, [h_new], tf.concat([z, r, n, rh], axis=-1)

    def step(self, xp_t, states, U, extra):
        """:meth:`forward` for inference (nothing kept for a backward pass)."""
        (h,) = states
        rec = tf.matmul(h, U) + extra[0]
        xz, xr, xh = tf.split(xp_t, 3, axis=-1)
        rz, rr, rh = tf.split(rec, 3, axis=-1)
        z, r = tf.sigmoid(xz + rz), tf.sigmoid(xr + rr)
        h_new = z * h + (1.0 - z) * tf.tanh(xh + r * rh)
        return h_new, [h_new]

    def backward(self, dh, dstates_rest, saved, prev_states, extra):
        z, r, n, rh = tf.split(saved, 4, axis=-1)
        h_prev = prev_states[0]
        dan = dh * (1.0 - z) * (1.0 - n * n)
        daz = dh * (h_prev - n) * z * (1.0 - z)
        dar = dan * rh * r * (1.0 - r)
        d_rec = tf.concat([daz, dar, dan * r], axis=-1)
        d_xp = tf.concat([daz, dar, dan], axis=-1)
        return d_xp, d_rec, dh * z, []


#: The activations :class:`ElmanAlgebra` (and its compiled kernel) computes.
ELMAN_ACTIVATIONS = {"tanh": keras.activations.tanh, "relu": keras.activations.relu,
          "linear": keras.activations.linear}


class ElmanAlgebra:
    """``h' = φ(xp + h̃ U)``, φ tanh, ReLU or linear."""

    num_states = 1
    kernel = "elman"

    def __init__(self, cell):
        self.activation = next(n for n, f in ELMAN_ACTIVATIONS.items() if f is cell.activation)
        self.extra = ()

    def forward(self, xp_t, states, U, extra, rmask):
        a = xp_t + tf.matmul(_dropped(states[0], rmask), U)
        if self.activation == "tanh":
            h = tf.tanh(a)
        elif self.activation == "relu":
            h = tf.nn.relu(a)
        else:
            h = a
        return h, [h], h

    def step(self, xp_t, states, U, extra):
        """:meth:`forward` for inference."""
        h, new_states, _ = self.forward(xp_t, states, U, extra, None)
        return h, new_states

    def backward(self, dh, dstates_rest, saved, prev_states, extra):
        if self.activation == "tanh":
            da = dh * (1.0 - saved * saved)
        elif self.activation == "relu":
            da = dh * tf.cast(saved > 0, dh.dtype)
        else:
            da = dh
        return da, da, None, []


#: From this many steps on, an eager call traces its loop into a graph first (below).
EAGER_GRAPH_STEPS = 100


def _compiled(function, jit, steps=None):
    """``function`` XLA-compiled (``jit``), or traced into a graph when called eagerly
    on ``steps >= EAGER_GRAPH_STEPS``: an eager ``tf.while_loop`` runs step by step
    from Python, about 0.6 ms of overhead per step (measured: T=2,000 took 1.28 s, traced
    93 ms), while tracing costs about 50 ms once per call."""
    if jit:
        return tf.function(function, jit_compile=True)
    if tf.executing_eagerly() and (steps is None or steps >= EAGER_GRAPH_STEPS):
        # A new tf.function per call, on purpose (the loop closes over this call's
        # tensors). TensorFlow counts retracing per code object and warns after five;
        # a ``functools.partial`` has no code object, so each call is counted alone
        # (tests/gallery/test_fused.py checks that no warning appears).
        return tf.function(functools.partial(function), autograph=False)
    return function


def inside_xla():
    """Whether the graph being traced will be compiled by XLA as a whole (an enclosing
    ``tf.function(jit_compile=True)``, as ``model.compile(jit_compile=True)`` makes).

    XLA cannot compile the gallery's custom ops, so there the TensorFlow loops run
    instead. Private TensorFlow API: no public call tells whether a trace is
    XLA-compiled; ``tests/gallery/test_xla_context.py`` fails if TensorFlow changes it.
    """
    from tensorflow.python.ops import control_flow_util

    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


#: Steps per iteration of :func:`inference_loop`'s main loop. Each iteration of a
#: ``tf.while_loop`` costs a few dozen executor ops besides the step's own (a
#: ``Merge``, ``Switch``, ``Identity`` and ``NextIteration`` per loop variable), so
#: writing out four steps per iteration about halves the ops one short request runs.
INFERENCE_UNROLL = 4
#: Steps per iteration for a masked batch of one known when traced (a TFLite export).
#: TFLite's ``WHILE`` prepares its body's tensors on every call, so a call costs in
#: proportion to the body's ops besides each iteration's: two steps an iteration is
#: as fast as four from about 20 steps on and much faster below (docs/performance.md).
BATCH_OF_ONE_UNROLL = 2


def inference_loop(algebra, xp, U, extra, states, keep=None, zero_output_for_mask=False):
    """The forward pass alone, for inference: ``xp (T, B, kH)`` from ``states`` →
    ``(final states, outputs (T, B, H))``, each step :meth:`LSTMAlgebra.step` (or the
    cell's), masked steps (``keep (T, B, 1)`` bool, or ``None``) selected as in
    :func:`fused_loop`. A ``tf.while_loop`` over the real length ``T`` (read from
    ``xp`` when the graph runs) doing :data:`INFERENCE_UNROLL` steps an iteration, then
    one for the last ``T mod INFERENCE_UNROLL`` steps, carrying only the states (and,
    with ``keep``, the last output) and the outputs. The main loop writes its steps'
    outputs as one ``(INFERENCE_UNROLL, B, H)`` block: TFLite lowers each write into a
    ``TensorArray`` to a copy of the whole array (a ``SLICE``/``CONCATENATION`` chain),
    so one write per step cost ``T²`` copied outputs there.

    A masked batch of one known when traced (every TFLite export of a masked model)
    selects its masked steps in the main loop, with no ``tf.cond`` (TFLite's ``IF``
    costs more than the selects), :data:`BATCH_OF_ONE_UNROLL` steps an iteration, and
    is padded with masked steps to whole blocks: one loop, not two. A larger batch with
    padding (some ``keep`` false) runs one step an iteration: it is a batch, whose
    steps cost more than an iteration's overhead, and each written-out step is traced
    again (tracing is what every export, ``evaluate`` and ``predict`` pays first); so
    does a loop XLA compiles whole (no per-iteration overhead, and array sizes it needs
    constant). A length of at most ``INFERENCE_UNROLL`` known when traced (a decoder's
    one-step call) runs its steps without a loop. With the batch and units known when
    traced (a TFLite export's batch of one), its ``TensorArray`` has a static element
    shape, which TFLite's converter lowers to built-in ops, so the exported loops run
    ``T`` steps, not a fixed count."""
    # XLA compiles the loop whole, with no per-iteration overhead to save, and needs
    # the arrays' sizes constant when it compiles: one step an iteration there.
    xla = inside_xla()
    unroll = 1 if xla else INFERENCE_UNROLL
    if keep is None:
        return _inference_loop(algebra, xp, U, extra, states, unroll=unroll)
    if xp.shape[1] == 1:
        # A batch of one known when traced (every TFLite export): the selects, no
        # tf.cond. TFLite's IF costs more than the selects it would save (it
        # allocates its branch's tensors each call).
        return _inference_loop(algebra, xp, U, extra, states, keep, zero_output_for_mask,
                               unroll=1 if xla else BATCH_OF_ONE_UNROLL, whole_blocks=True)
    # A batch without padding (one request) skips the selects.
    return tf.cond(tf.reduce_all(keep),
                   lambda: _inference_loop(algebra, xp, U, extra, states, unroll=unroll),
                   lambda: _inference_loop(algebra, xp, U, extra, states, keep,
                                           zero_output_for_mask, unroll=1))


def _inference_loop(algebra, xp, U, extra, states, keep=None, zero_output_for_mask=False,
                    unroll=INFERENCE_UNROLL, whole_blocks=False):
    """:func:`inference_loop`'s loops. ``whole_blocks`` (with ``keep``, the batch and
    units known when traced): the input is padded with masked steps to whole blocks of
    ``unroll``, run by the main loop alone (the selects keep the states through the
    padding; its outputs are dropped), so no second loop runs the last ``T mod unroll``
    steps: one ``WHILE`` instead of two, at the cost of at most ``unroll - 1`` steps
    whose results are thrown away."""
    count = len(states)
    # The previous output is carried only where a masked step repeats it; elsewhere
    # the output of a step is its new ``h``.
    carry_output = keep is not None and not zero_output_for_mask

    def one_step(xp_t, keep_t, carried):
        """``carried`` (the states, then the last output if carried) → its next value
        and the step's output."""
        states = carried[:count]
        out_new, new_states = algebra.step(xp_t, states, U, extra)
        if keep_t is not None:  # select, never blend: padding may hold NaN or inf
            new_states = [tf.where(keep_t, n, s) for n, s in zip(new_states, states)]
            # Every algebra's output is its new first state (h), so the selected h is
            # the output where kept; zeroed outputs are zeroed once, after the loop.
            out_new = (tf.where(keep_t, out_new, carried[count]) if carry_output
                       else new_states[0])
        return [*new_states, *([out_new] if carry_output else [])], out_new

    def finish(carried, outputs):
        """The final states, and the outputs with masked steps zeroed if asked."""
        if keep is not None and not carry_output:
            outputs = tf.where(keep, outputs, tf.zeros([], outputs.dtype))
        return carried[:count], outputs

    carried = [*states, *([tf.zeros_like(states[0])] if carry_output else [])]
    known = xp.shape[0]
    if known is not None and 0 < known <= INFERENCE_UNROLL:
        # A length this short known when traced (a decoder's one step): the steps
        # written out, no loop.
        outputs = []
        for t in range(known):
            carried, out = one_step(xp[t], None if keep is None else keep[t], carried)
            outputs.append(out)
        return finish(carried, tf.stack(outputs))

    steps = length = tf.shape(xp)[0]
    xp_steps, keep_steps = xp, keep
    whole_blocks = whole_blocks and unroll > 1
    if whole_blocks:
        # ``unroll - 1`` masked steps (xp 0, keep False) appended as constants, and the
        # main loop runs while ``t < T``: few ops, each one counts in a short request.
        xp_steps, keep_steps = (
            tf.concat([v, tf.zeros([unroll - 1, *v.shape[1:]], v.dtype)], 0)
            for v in (xp, keep))
        block_count = (length + (unroll - 1)) // unroll
        steps = length + (unroll - 1)
    # Steps are read from TensorArrays: one op per read (xp[t] is four).
    xp_t = tf.TensorArray(xp.dtype, size=steps, element_shape=xp.shape[1:]).unstack(xp_steps)
    keep_t = None if keep is None else tf.TensorArray(
        tf.bool, size=steps, element_shape=keep.shape[1:]).unstack(keep_steps)

    def read(t):
        return xp_t.read(t), None if keep_t is None else keep_t.read(t)

    def steps_body(t, carried, outputs):  # one step, written at its index from ``start``
        carried, out = one_step(*read(t), carried)
        return t + 1, carried, outputs.write(t - start, out)

    def blocks_body(t, carried, blocks):  # ``unroll`` steps, their outputs one block
        outs = []
        for k in range(unroll):
            carried, out = one_step(*read(t + k), carried)
            outs.append(out)
        return t + unroll, carried, blocks.write(t // unroll, tf.stack(outs))

    def array(size, shape):
        return tf.TensorArray(xp.dtype, size=size, element_shape=shape)

    def stacked(array, size, shape, lead=()):
        """``array`` stacked; ``shape`` its element's, ``lead`` + a state's shape."""
        if shape.is_fully_defined():
            return array.stack()
        # An empty array whose element shape is not known when traced cannot stack.
        empty = tf.concat([[0, *lead], tf.shape(states[0])], 0)
        return tf.cond(size > 0, array.stack, lambda: tf.zeros(empty, xp.dtype))

    shape = states[0].shape
    # Array sizes come from the input's shape, never from a loop's output: XLA (a
    # streaming chunk) needs them constant when it compiles.
    start, parts = 0, []
    if unroll > 1:
        if not whole_blocks:
            start = steps - steps % unroll  # one write per block (the docstring says why)
            block_count = start // unroll
        else:
            start = length
        block = tf.TensorShape([unroll, *shape])
        _, carried, blocks = tf.while_loop(
            lambda t, *_: t < start, blocks_body, (0, carried, array(block_count, block)))
        blocks = stacked(blocks, block_count, block, [unroll])  # (T // unroll, unroll, B, H)
        parts.append(tf.reshape(blocks, tf.concat([[-1], tf.shape(blocks)[2:]], 0)))
    if whole_blocks:
        return finish(carried, tf.ensure_shape(parts[0][:length], [None, *shape]))
    _, carried, rest = tf.while_loop(lambda t, *_: t < steps, steps_body,
                                     (start, carried, array(steps - start, shape)))
    # With one step an iteration, ``rest`` holds every step (an input has at least one).
    parts.append(stacked(rest, steps - start, shape) if unroll > 1 else rest.stack())
    outputs = parts[0] if len(parts) == 1 else tf.concat(parts, 0)
    return finish(carried, tf.ensure_shape(outputs, [None, *shape]))


def fused_loop(algebra, xp, states, U, mask=None, recurrent_mask=None,
               zero_output_for_mask=False, training=False, jit_compile=True):
    """Run the cell over ``xp (T, B, kH)`` from ``states``.

    Returns ``(outputs (T, B, H), final_states)`` like Keras's ``backend.rnn``
    time-major outputs; gradients flow to ``xp``, ``states``, ``U`` and the cell's
    extra tensors (the GRU's recurrent bias) through the hand-written backward pass.
    ``recurrent_mask (B, H)`` multiplies ``h_{t-1}`` before ``U`` (recurrent dropout).
    ``jit_compile``: in training, compile the TensorFlow loops with XLA, which fuses
    each step's elementwise work (measured on B=64 T=100 H=256: LSTM step 148 → 127 ms);
    inference and exports run plain TensorFlow (no compile per new batch shape in a
    server). (In float32 training :class:`~gallery.layers.Recurrent` runs
    :func:`compiled_loop` instead where the kernels build: ``Recurrent.loop_for``.)
    """
    extra = list(algebra.extra)
    count = len(states)
    rmask = recurrent_mask
    # XLA compiles per shape: only worth it when the time length is fixed at trace
    # time (not for length-bucketed batches, which would recompile for every length).
    jit = jit_compile and training and xp.shape[0] is not None
    keep = None if mask is None else tf.cast(mask, tf.bool)[:, :, None]  # (T, B, 1)
    # Outside training nothing is kept for the backward pass (inference and exports:
    # fewer ops per step, and a loop TFLite converts with built-in ops at any length).
    lean = not training

    @tf.custom_gradient
    def run(xp, U, *flat):
        states0, extra_t = list(flat[:count]), list(flat[count:])
        units = tf.shape(states0[0])[1]
        out0 = tf.zeros_like(states0[0])

        def forward_loop(xp, U, extra_t, states0, out0):
            steps = tf.shape(xp)[0]

            def body(t, states, out_prev, outputs, saved, carried):
                out_new, new_states, kept = algebra.forward(xp[t], states, U, extra_t, rmask)
                carried = [ta.write(t, s) for ta, s in zip(carried, states)]
                if keep is not None:  # select, never blend: padding may hold NaN or inf
                    m = keep[t]
                    new_states = [tf.where(m, n, s) for n, s in zip(new_states, states)]
                    fallback = tf.zeros_like(out_new) if zero_output_for_mask else out_prev
                    out_new = tf.where(m, out_new, fallback)
                return (t + 1, new_states, out_new, outputs.write(t, out_new),
                        saved.write(t, kept), carried)

            arrays = [tf.TensorArray(xp.dtype, size=steps) for _ in range(count)]
            _, final, _, outputs, saved, carried = tf.while_loop(
                lambda t, *_: t < steps, body,
                (0, states0, out0, tf.TensorArray(xp.dtype, size=steps),
                 tf.TensorArray(xp.dtype, size=steps), arrays))
            return final, outputs.stack(), saved.stack(), [ta.stack() for ta in carried]

        # The gradient is ours (below): the tape must not trace into the loop.
        inputs = tf.nest.map_structure(tf.stop_gradient, (xp, U, extra_t, states0, out0))
        if lean:  # inference: keep nothing; a gradient, if asked, runs the forward again
            def lean_loop(xp, U, extra_t, states0):
                return inference_loop(algebra, xp, U, extra_t, states0, keep,
                                      zero_output_for_mask)
            final, outputs = _compiled(lean_loop, False, xp.shape[0])(*inputs[:4])
        else:  # prev: the state entering each step (T, B, H)
            final, outputs, saved, prev = _compiled(forward_loop, jit, xp.shape[0])(*inputs)
            saved_prev = saved, prev

        def grad(d_outputs, *d_final):
            if lean:
                _, _, saved, prev = _compiled(forward_loop, jit, xp.shape[0])(*inputs)
            else:
                saved, prev = saved_prev
            d_outputs = tf.convert_to_tensor(d_outputs)
            d_final = [tf.zeros_like(s) if d is None else tf.convert_to_tensor(d)
                       for d, s in zip(d_final, final)]

            def back(t, dstates, d_out_carry, d_xp, d_rec):
                t = t - 1
                g_out = d_outputs[t] + d_out_carry
                dh, rest = dstates[0], list(dstates[1:])
                dz_xp, dz_rec, dh_direct, rest_prev = algebra.backward(
                    dh + g_out, rest, saved[t], [p[t] for p in prev], extra_t)
                if keep is not None:  # a masked step: no gradient through the cell
                    m = keep[t]
                    dz_xp = tf.where(m, dz_xp, tf.zeros_like(dz_xp))
                    dz_rec = tf.where(m, dz_rec, tf.zeros_like(dz_rec))
                dh_prev = _matmul_back(dz_rec, U, rmask)
                dh_prev = dh_prev if dh_direct is None else dh_prev + dh_direct
                if keep is not None:  # ... and the state's gradient passes it unchanged
                    dh_prev = tf.where(m, dh_prev, dh)
                    rest_prev = [tf.where(m, r, d) for r, d in zip(rest_prev, rest)]
                    d_out_carry = (tf.zeros_like(g_out) if zero_output_for_mask
                                   else tf.where(m, tf.zeros_like(g_out), g_out))
                return (t, [dh_prev, *rest_prev], d_out_carry, d_xp.write(t, dz_xp),
                        d_rec.write(t, dz_rec))

            def backward_loop(d_final, saved):
                steps = tf.shape(saved)[0]
                _, d_states0, _, d_xp, d_rec = tf.while_loop(
                    lambda t, *_: t > 0, back,
                    (steps, d_final, tf.zeros_like(d_final[0]),
                     tf.TensorArray(xp.dtype, size=steps),
                     tf.TensorArray(xp.dtype, size=steps)))
                return d_states0, d_xp.stack(), d_rec.stack()

            d_states0, d_xp, d_rec = _compiled(backward_loop, jit, xp.shape[0])(d_final, saved)
            width = tf.shape(d_rec)[-1]
            flat_rec = tf.reshape(d_rec, [-1, width])
            d_u = tf.matmul(tf.reshape(_dropped(prev[0], rmask), [-1, units]), flat_rec,
                            transpose_a=True)
            d_extra = [tf.reduce_sum(flat_rec, axis=0) for _ in extra_t]
            return (d_xp, d_u, *d_states0, *d_extra)

        return (outputs, *final), grad

    results = run(xp, U, *states, *extra)
    return results[0], list(results[1:])


def compiled_loop(library, algebra, xp, states, U, mask=None, recurrent_mask=None,
                  zero_output_for_mask=False):
    """:func:`fused_loop` with both time loops in the compiled kernels.

    Same contract and the same step algebra (``recurrent_loop.cc`` spells it out);
    the weight gradients ``dU = Σ_t h̃_{t−1}ᵀ dZ_t`` (and the GRU's ``db_h``) are
    formed here after the backward loop, as one large matmul.
    """
    lstm = algebra.kernel == "lstm"
    extra = list(algebra.extra)
    activation = algebra.activation if algebra.kernel == "elman" else "tanh"
    attrs = dict(cell=algebra.kernel, zero_output=bool(zero_output_for_mask),
                 activation=activation)
    mask_f = (tf.zeros([0, 0]) if mask is None else tf.cast(mask, tf.float32))
    rmask = tf.zeros([0, 0]) if recurrent_mask is None else recurrent_mask

    @tf.custom_gradient
    def run(xp, U, *flat):
        h0 = flat[0]
        c0 = flat[1] if lstm else h0
        bias = flat[-1] if extra else tf.zeros([tf.shape(U)[1]])
        outputs, h, c, saved, prev_h, prev_c = library.gallery_recurrent_loop_forward(
            xp=xp, u=U, h0=h0, c0=c0, bias_h=bias, mask=mask_f, recurrent_mask=rmask,
            **attrs)
        final = [h, c] if lstm else [h]

        def grad(d_outputs, *d_final):
            d_final = [tf.zeros_like(s) if d is None else tf.convert_to_tensor(d)
                       for d, s in zip(d_final, final)]
            d_c = d_final[1] if lstm else tf.zeros_like(d_final[0])
            d_xp, d_rec, d_h0, d_c0 = library.gallery_recurrent_loop_backward(
                d_outputs=tf.convert_to_tensor(d_outputs), dh_final=d_final[0], dc_final=d_c,
                saved=saved, prev_h=prev_h, prev_c=prev_c, u=U, mask=mask_f,
                recurrent_mask=rmask, **attrs)
            width = tf.shape(U)[1]
            flat_rec = tf.reshape(d_rec if algebra.kernel == "gru" else d_xp, [-1, width])
            d_u = tf.matmul(tf.reshape(_dropped(prev_h, recurrent_mask), [-1, tf.shape(U)[0]]),
                            flat_rec, transpose_a=True)
            d_extra = [tf.reduce_sum(flat_rec, axis=0)] if extra else []
            return (d_xp, d_u, d_h0, *([d_c0] if lstm else []), *d_extra)

        return (outputs, *final), grad

    results = run(xp, U, *states, *extra)
    return results[0], list(results[1:])
