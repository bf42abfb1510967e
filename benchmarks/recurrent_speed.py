"""Training-step speed of the gallery's LSTM/GRU against Keras's built-ins (and PyTorch).

One training step = forward, backward and an Adam update of a recurrent layer plus
a Dense(1) head, float32, on the CPU, compiled with ``tf.function``. Every model
runs in this process, in alternating rounds; the script prints each one's median
step time, its speed relative to the Keras built-in (above 1: faster), and its
achieved GFLOP/s against a large-matmul roofline measured in the same run.

Cases: B=64, T=100, D=128, H=256; the same with T=500; a masked batch whose
lengths are spread uniformly over 10–100 (padding masked with ``keras.layers.Masking``);
and T=100 with ``recurrent_dropout=0.2`` on both sides (Keras then leaves its fused
op for its step-by-step loop; ours keeps the fused loop, the mask an input).
Models: ``keras`` (``keras.layers.LSTM``/``GRU``), ``ours`` (``Recurrent``: the
time loops in the compiled kernels, ``gallery/kernels/recurrent_loop.cc``, with the
hand-written backward pass of ``gallery/layers/fused.py``), ``ours, TF loop``
(``use_kernels=False``: the same algebra as TensorFlow while-loops, XLA-compiled
where the length is fixed), ``ours, autodiff loop`` (``use_fused=False``: the
projected loop differentiated by TensorFlow), and ``torch`` (``torch.nn.LSTM``/``GRU``,
if PyTorch is installed).

    python benchmarks/recurrent_speed.py [--rounds 7] [--cases base,long,masked,dropout]
"""

import argparse
import os
import statistics
import time

from gallery.quiet import import_tensorflow

import_tensorflow()  # TensorFlow's start-up notices off the terminal

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# Every model gets its own tf.function, on purpose; TensorFlow's retracing warning
# would say otherwise.
tf.get_logger().setLevel("ERROR")

from gallery.layers import GRUCell, LSTMCell, Recurrent  # noqa: E402

GATES = {"LSTM": 4, "GRU": 3}


def make_step(layer, x, y):
    """A compiled training step for ``layer`` (after zero-padding masking) + Dense(1)."""
    model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Masking(0.0), layer,
                              keras.layers.Dense(1)])
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


def make_torch_step(kind, x, y):
    """The same step in PyTorch, or ``None`` when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    xt, yt = torch.from_numpy(np.asarray(x)), torch.from_numpy(np.asarray(y))
    rnn = getattr(torch.nn, kind)(xt.shape[-1], 256 if kind else 0, batch_first=True)
    head = torch.nn.Linear(rnn.hidden_size, 1)
    params = list(rnn.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, 1e-3)

    def step():
        optimizer.zero_grad()
        out, _ = rnn(xt)
        loss = ((head(out[:, -1]) - yt) ** 2).mean()
        loss.backward()
        optimizer.step()
    step()
    return step


def time_step(step, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        result = step()
        if isinstance(result, tf.Tensor):
            result.numpy()
    return (time.perf_counter() - start) / repeats


def roofline(size=2048, repeats=5):
    """GFLOP/s of a large float32 matmul here (best of ``repeats``)."""
    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    matmul = tf.function(lambda: tf.matmul(a, b))
    matmul().numpy()
    best = min(time_step(matmul, 1) for _ in range(repeats))
    return 2 * size ** 3 / best / 1e9


def step_flops(kind, batch, steps, features, units):
    """Matmul FLOPs of one training step: forward ``2·B·T·(D+H)·gH``, backward twice that."""
    return 3 * 2 * batch * steps * (features + units) * GATES[kind] * units


def make_case(name, batch, features, rng):
    if name == "long":
        steps, lengths = 500, None
    elif name == "masked":
        steps, lengths = 100, rng.integers(10, 101, batch)
    else:
        steps, lengths = 100, None
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    if lengths is not None:
        x[np.arange(steps)[None] >= lengths[:, None]] = 0.0
    return x, lengths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="steps timed per round")
    parser.add_argument("--cases", default="base,long,masked,dropout")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    h = args.units
    peak = roofline()
    print(f"B={args.batch} D={args.features} H={h}; tf {tf.__version__}, keras "
          f"{keras.__version__}; {args.rounds} alternating rounds of {args.repeats} steps; "
          f"large-matmul roofline {peak:.0f} GFLOP/s")

    def variant(cell, **flags):
        layer = Recurrent(cell)
        for name, value in flags.items():
            setattr(layer, name, value)
        return layer

    for case in args.cases.split(","):
        x_np, lengths = make_case(case, args.batch, args.features, rng)
        x = tf.constant(x_np)
        y = tf.constant(rng.normal(size=(args.batch, 1)).astype("float32"))
        steps = x.shape[1]
        extra = {"recurrent_dropout": 0.2} if case == "dropout" else {}
        for kind, cell in (("LSTM", LSTMCell), ("GRU", GRUCell)):
            makers = {"keras": lambda: getattr(keras.layers, kind)(h, **extra),
                      "ours": lambda: Recurrent(cell(h, **extra)),
                      "ours, TF loop": lambda: variant(cell(h, **extra), use_kernels=False),
                      "ours, autodiff loop": lambda: variant(cell(h, **extra), use_fused=False)}
            runs = {label: make_step(make(), x, y) for label, make in makers.items()}
            if lengths is None and not extra:
                torch_step = make_torch_step(kind, x_np, y.numpy())
                if torch_step is not None:
                    runs["torch"] = torch_step
            times = {label: [] for label in runs}
            for _ in range(args.rounds):
                for label, step in runs.items():
                    times[label].append(time_step(step, args.repeats))
            reference = statistics.median(times["keras"])
            flops = step_flops(kind, args.batch, steps, args.features, h)
            label_case = {"base": "T=100", "long": "T=500", "masked": "T=100, lengths 10-100",
                          "dropout": "T=100, rec. dropout 0.2"}
            for label, samples in times.items():
                median = statistics.median(samples)
                gflops = flops / median / 1e9
                print(f"{kind:4s} {label_case[case]:22s} {label:20s} {median * 1e3:8.1f} ms/step"
                      f"  {reference / median:5.2f}x vs keras  {gflops:6.1f} GFLOP/s"
                      f" ({gflops / peak:4.0%} of roofline)", flush=True)
            if lengths is None and not extra and "torch" not in runs:
                print(f"{kind:4s} {label_case[case]:22s} torch                 not installed "
                      "(pip install torch to compare)")


if __name__ == "__main__":
    main()
