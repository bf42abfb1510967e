"""Training-step speed of the gallery's LSTM/GRU against Keras's built-in layers.

One training step = forward, backward and an Adam update, compiled with
``tf.function``, float32, on the CPU. All models run in this process, in
alternating rounds, and the script prints each model's median step time and the
ratio ``keras_time / ours_time`` (above 1: ours is faster).

    python benchmarks/recurrent_speed.py [--batch 64 --steps 100 --features 128
                                          --units 256 --rounds 7]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gallery.layers import GRUCell, LSTMCell, Recurrent  # noqa: E402


def make_step(layer, x, y):
    """A compiled training step for ``layer`` followed by a Dense(1) head."""
    model = keras.Sequential([keras.Input(x.shape[1:]), layer, keras.layers.Dense(1)])
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    step()  # trace and warm up
    return step


def time_step(step, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="steps timed per round")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(args.batch, args.steps, args.features)).astype("float32"))
    y = tf.constant(rng.normal(size=(args.batch, 1)).astype("float32"))
    h = args.units

    def generic(cell):
        layer = Recurrent(cell)
        layer.use_fast_path = False
        return layer

    pairs = {
        "LSTM": {"keras": lambda: keras.layers.LSTM(h), "ours": lambda: Recurrent(LSTMCell(h)),
                 "ours, per-step projection": lambda: generic(LSTMCell(h))},
        "GRU": {"keras": lambda: keras.layers.GRU(h), "ours": lambda: Recurrent(GRUCell(h)),
                "ours, per-step projection": lambda: generic(GRUCell(h))},
    }
    print(f"B={args.batch} T={args.steps} D={args.features} H={h}; tf {tf.__version__}, "
          f"keras {keras.__version__}; {args.rounds} alternating rounds of {args.repeats} steps")
    for name, makers in pairs.items():
        steps = {label: make_step(make(), x, y) for label, make in makers.items()}
        times = {label: [] for label in steps}
        for _ in range(args.rounds):
            for label, step in steps.items():
                times[label].append(time_step(step, args.repeats))
        reference = statistics.median(times["keras"])
        for label, samples in times.items():
            median = statistics.median(samples)
            print(f"{name:5s} {label:27s} {median * 1e3:8.1f} ms/step   "
                  f"speed vs keras.layers.{name}: {reference / median:.2f}x")


if __name__ == "__main__":
    main()
