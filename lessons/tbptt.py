"""Lesson: truncated vs full backpropagation through time on a task with long memory.

Task ("recall"): a sequence of T=100 random bits (±1), one of them marked (a
second input channel is 1 there); the target, read at the last step, is the
marked bit, which came ``lag`` = 20 steps before the end. The other bits are noise
the network must ignore: it has to latch the marked bit and hold it.

Training with truncation length ``k``: the sequence is read in chunks of ``k`` steps,
the state carried from chunk to chunk (forward information flows the whole way),
but gradients stop at chunk boundaries. The loss sits at the last step, so only
the last chunk, the last ``k`` steps, receives gradient: when ``k < lag`` the
marked bit lies before the truncation point and no gradient ever reaches the
weights through it (accuracy stays at chance, 50 %); ``k ≥ lag`` can learn it,
and full BPTT is ``k = T``.

(Measured while choosing the sizes, learning rate 0.01, 300 steps: full BPTT learns
lag 20 at T=100 but stays at chance for lag ≥ 20 at T=200 and for lag 40 at T=100;
an untrained LSTM's gradient fades too fast over long noisy prefixes, see the
gradients lesson. The lesson keeps the sizes where full BPTT succeeds.)

Model: one LSTM layer (``gallery.layers.LSTMCell``, 32 units) → Dense(1) logit;
Adam (learning rate 0.003), clipnorm 1, batch 64, 400 steps.
"""

import keras
import numpy as np
import tensorflow as tf

from gallery.layers import LSTMCell, Recurrent

from .common import line_plot_panels, print_table

SUMMARY = 'truncated vs full backpropagation through time on a long-memory task'

LENGTH, LAG = 100, 20


def recall_data(count, seed, length, lag):
    """``x (count, length, 2)``: random bits (as ±1) and a marker (1 at the bit to recall);
    ``y (count,)``: the marked bit, ``lag`` steps before the end."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, (count, length)).astype("float32")
    marker = np.zeros_like(bits)
    marker[:, length - lag] = 1
    return np.stack([2 * bits - 1, marker], axis=-1), bits[:, length - lag]


class Recall(keras.Model):
    def __init__(self, units=32, seed=0):
        super().__init__()
        self.rnn = Recurrent(LSTMCell(units, seed=seed), return_sequences=True,
                             return_state=True)
        self.head = keras.layers.Dense(1)

    def call(self, x, state=None):
        outputs, *state = self.rnn(x, initial_state=state)
        return self.head(outputs[:, -1, 0:]), state


def train_truncated(k, steps=300, seed=0, batch=64, units=32, length=LENGTH, lag=LAG,
                    learning_rate=0.003):
    """Train with truncation length ``k``; returns held-out accuracy."""
    keras.utils.set_random_seed(seed)
    model = Recall(units, seed)
    optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
    chunks = [(s, min(s + k, length)) for s in range(0, length, k)]
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
    model(tf.zeros([1, 1, 2]))

    @tf.function
    def step(x, y):
        state = None
        for start, end in chunks[:-1]:  # forward only: no gradient through these steps
            _, state = model(x[:, start:end], state)
            state = [tf.stop_gradient(s) for s in state]
        start, end = chunks[-1]
        with tf.GradientTape() as tape:
            logits, _ = model(x[:, start:end], state)
            loss = loss_fn(y[:, None], logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    x_all, y_all = recall_data(steps * batch, seed, length, lag)
    for i in range(steps):
        step(x_all[i * batch:(i + 1) * batch], y_all[i * batch:(i + 1) * batch])
    x_test, y_test = recall_data(1000, seed + 1, length, lag)
    logits, _ = model(x_test)
    return float(np.mean((np.asarray(logits)[:, 0] > 0) == (y_test > 0.5)))


def run(out_dir, truncations=(5, 10, 15, 20, 25, 50, 100), steps=400, seed=0, verbose=True):
    accuracy = {}
    for k in truncations:
        accuracy[k] = train_truncated(k, steps, seed)
        if verbose:
            print(f"truncation {k:3d} steps: held-out accuracy {accuracy[k]:.3f}", flush=True)
    if verbose:
        print_table(["truncation k", "reaches the bit?", "accuracy"],
                    [(k, "yes" if k >= LAG else "no", f"{a:.3f}") for k, a in accuracy.items()])
    ks = list(accuracy)
    line_plot_panels(out_dir / "tbptt.png", [
        (f"recall the bit {LAG} steps before the end (T={LENGTH})",
         {"held-out accuracy": (ks, [accuracy[k] for k in ks]),
          "chance": (ks, [0.5] * len(ks))}, "truncation length k (T = full BPTT)", None)],
        title="Truncated vs full backpropagation through time")
    return {"accuracy": {str(k): a for k, a in accuracy.items()}, "lag": LAG,
            "length": LENGTH}
