"""Where the time of a recurrent training step goes (LSTM, B=64, T=100, H=256).

Times, in one process: 100 bare ``(B, H)·(H, 4H)`` matmuls in a ``tf.while_loop``; a
minimal LSTM forward loop; our fused forward loop; fused forward + backward; and the
one large matmul that gives the recurrent weight gradient. Each with and without
XLA where that applies. Shows that the per-step TensorFlow overhead, not the matmul
FLOPs, dominates (see README "Speed of the recurrent layers").

    python benchmarks/recurrent_loop_overhead.py
"""

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

import gallery.layers.fused as fused  # noqa: E402
from gallery.layers import LSTMCell  # noqa: E402

T, B, H = 100, 64, 256


def median_ms(function, rounds=7):
    tf.nest.map_structure(lambda t: t.numpy(), function())
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), function())
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main():
    xp = tf.random.normal([T, B, 4 * H])
    U = tf.Variable(tf.random.normal([H, 4 * H]) * 0.05)
    h0, c0 = tf.zeros([B, H]), tf.zeros([B, H])
    algebra = LSTMCell(H).fused_algebra()
    rows = []
    for jit in (False, True):
        @tf.function(jit_compile=jit)
        def matmuls():
            def body(t, h):
                return t + 1, tf.tanh(tf.matmul(h, U)[:, :H])
            return tf.while_loop(lambda t, h: t < T, body, (0, h0))[1]

        @tf.function(jit_compile=jit)
        def minimal_lstm():
            def body(t, h, c, ta):
                z = xp[t] + tf.matmul(h, U)
                zi, zf, zg, zo = tf.split(z, 4, axis=-1)
                c = tf.sigmoid(zf) * c + tf.sigmoid(zi) * tf.tanh(zg)
                h = tf.sigmoid(zo) * tf.tanh(c)
                return t + 1, h, c, ta.write(t, h)
            return tf.while_loop(lambda t, *_: t < T, body,
                                 (0, h0, c0, tf.TensorArray(tf.float32, size=T)))[3].stack()
        rows += [(f"{T} bare matmuls in a loop, xla={jit}", median_ms(matmuls)),
                 (f"minimal LSTM forward loop, xla={jit}", median_ms(minimal_lstm))]
    for jit in (False, True):
        @tf.function
        def forward():
            outputs, _ = fused.fused_loop(algebra, xp, [h0, c0], tf.convert_to_tensor(U),
                                          training=True, jit_compile=jit)
            return outputs

        @tf.function
        def forward_backward():
            with tf.GradientTape() as tape:
                tape.watch(xp)
                outputs, _ = fused.fused_loop(algebra, xp, [h0, c0], tf.convert_to_tensor(U),
                                              training=True, jit_compile=jit)
                loss = tf.reduce_sum(outputs)
            return tape.gradient(loss, [xp, U])
        rows += [(f"fused forward, xla={jit}", median_ms(forward)),
                 (f"fused forward + backward, xla={jit}", median_ms(forward_backward))]
    a, b = tf.random.normal([T * B, H]), tf.random.normal([T * B, 4 * H])
    rows.append(("dU: one (H, T*B)·(T*B, 4H) matmul",
                 median_ms(tf.function(lambda: tf.matmul(a, b, transpose_a=True)))))
    for name, ms in rows:
        print(f"{name:45s} {ms:7.1f} ms")


if __name__ == "__main__":
    main()
