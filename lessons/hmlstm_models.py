"""The hmlstm lesson's two models, their training and their held-out scores.

* ``Embedding → HMLSTM([H, H, H]) (eq. 11 output module) → Dense``, its boundary slope
  annealed per step by :class:`gallery.layers.SlopeAnnealing`;
* ``Embedding → stacked 3-layer LSTM (H' units, H' chosen so the parameter counts match)
  → Dense``.

Both train on the same ``steps · batch_size`` random windows of ``seq_len`` characters
(Adam with gradient clipping, no state carried between windows), compiled without XLA
(its fusion choices depend on the CPU). Held-out text is read as windows of
``2·seq_len`` characters starting every ``seq_len``; only the second half of each is
scored, so every character is predicted with at least ``seq_len`` characters of context.
"""

import time

import keras
import numpy as np

from gallery.layers import HMLSTM, LSTMCell, Recurrent


def compile_model(model, s):
    model.compile(
        keras.optimizers.Adam(s.learning_rate, clipnorm=s.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False, run_eagerly=s.compile == "eager")


def build_hmlstm(vocab_size, s):
    """``(training model, probe → [logits, z], the HMLSTM layer)``, layers shared."""
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, s.embedding)(tokens)
    layer = HMLSTM([s.units] * 3, output_units=s.units, return_boundaries=True,
                   slope=s.slope_start, boundary_gradient=s.boundary_gradient,
                   boundary_rate_weight=s.boundary_rate_weight,
                   boundary_rate_target=s.boundary_rate_target, layer_norm=s.layer_norm,
                   top_down_gradient=s.top_down_gradient, boundary_input=s.boundary_input,
                   rate_gradient=s.rate_gradient)
    h_e, z = layer(x)
    logits = keras.layers.Dense(vocab_size)(h_e)
    return keras.Model(tokens, logits), keras.Model(tokens, [logits, z]), layer


def build_lstm(vocab_size, units, s):
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, s.embedding)(tokens)
    x = Recurrent([LSTMCell(units) for _ in range(3)], return_sequences=True)(x)
    return keras.Model(tokens, keras.layers.Dense(vocab_size)(x))


def lstm_parameters(vocab_size, units, s):
    """Parameters of :func:`build_lstm`: embedding, 3 × LSTM ``4H(D + H + 1)``, softmax."""
    inputs = [s.embedding, units, units]
    return (vocab_size * s.embedding + sum(4 * units * (d + units + 1) for d in inputs)
            + (units + 1) * vocab_size)


def matched_lstm_units(vocab_size, target, s):
    """The LSTM width whose model has the parameter count nearest ``target``."""
    return min(range(1, 4 * s.units + 1),
               key=lambda h: abs(lstm_parameters(vocab_size, h, s) - target))


def training_windows(ids, s, rng):
    """``steps · batch_size`` random windows: inputs and next-character targets."""
    starts = rng.integers(0, len(ids) - s.seq_len - 1, s.steps * s.batch_size)
    windows = ids[starts[:, None] + np.arange(s.seq_len + 1)]
    return windows[:, :-1], windows[:, 1:]


def held_out_windows(ids, s):
    """Windows of ``2·seq_len + 1`` starting every ``seq_len``; the scored positions
    (second halves) are the contiguous range ``[seq_len, seq_len · (1 + count))``."""
    t = s.seq_len
    starts = np.arange(0, len(ids) - 2 * t, t)
    return ids[starts[:, None] + np.arange(2 * t + 1)]


def score(model, windows, s, boundaries):
    """Bits per character over the scored halves; with ``boundaries``, also the HM-LSTM's
    ``z (positions, L)`` after each scored input character."""
    t = s.seq_len
    out = model.predict(windows[:, :-1], batch_size=64, verbose=0)
    logits, z = (out[0], out[1]) if boundaries else (out, None)
    logits = logits[:, t:].astype("float64")
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    targets = windows[:, t + 1:]
    nll = -np.take_along_axis(log_probs, targets[..., None], -1).mean()
    bpc = float(nll / np.log(2))
    return bpc, (None if z is None else z[:, t:].reshape(-1, z.shape[-1]).astype("int8"))


class BoundaryTrace(keras.callbacks.Callback):
    """Every ``s.trace_every`` steps: each layer's boundary rate on ``windows``."""

    def __init__(self, probe, windows, s):
        super().__init__()
        self.probe, self.windows, self.s = probe, windows, s
        self.rates = {}

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.s.trace_every == 0 or batch == 0:
            _, z = score(self.probe, self.windows, self.s, boundaries=True)
            self.rates[batch + 1] = [round(float(r), 4) for r in z.mean(0)]


def train(model, inputs, targets, s, callbacks=()):
    """Fit one pass over the windows; returns ``(wall seconds, CPU seconds)`` of this
    process (with one TensorFlow thread, CPU seconds are what a quiet core would take)."""
    compile_model(model, s)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(inputs, targets, batch_size=s.batch_size, epochs=1, shuffle=False, verbose=0,
              callbacks=list(callbacks))
    return time.perf_counter() - wall, time.process_time() - cpu
