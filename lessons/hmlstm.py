"""Lesson: a hierarchical multiscale LSTM learns where words (and tokens) end.

Character-level language models on two texts (see :mod:`lessons.hmlstm_text`):
Hamlet (English) and the standard library's Python source (the charlm task's text).
For each text, two models with the same parameter count and the same training budget
(``steps`` batches of ``batch_size`` random windows of ``seq_len`` characters, Adam
with gradient clipping, no state carried between windows):

* ``Embedding → HMLSTM([H, H, H]) (eq. 11 output module) → Dense``, the boundary
  detector's slope annealed per step, ``a = min(slope_max, slope_start + slope_rate·step)``;
  by default its straight-through backward pass uses the sigmoid's gradient instead of
  the paper's hard sigmoid (``boundary_gradient``), and a boundary-rate penalty pulls
  the layers' rates toward 0.2 / 0.1 / 0.05: with the paper's estimator layer 1's
  boundaries switch off for good within 50 steps, and with the sigmoid's alone they
  did on Hamlet (see docs/lessons/hmlstm.md);
* ``Embedding → stacked 3-layer LSTM (H' units, H' chosen so the parameter counts match)
  → Dense``.

Held-out evaluation (the last 10 % of each text): windows of ``2·seq_len`` characters
that start every ``seq_len``; only the second half of each is scored, so every
character is predicted with at least ``seq_len`` characters of context. Reported:
bits per character of both models, each HM-LSTM layer's boundary rate (fraction of
held-out characters after which ``z^ℓ = 1``), precision/recall/F1 of layer 1's
boundaries against the true word (token) ends, and the same for random boundaries at
layer 1's rate. The picture ``boundaries.png`` is the paper's Figure 3 for both texts.
"""

import dataclasses
import json
import time

import keras
import numpy as np

from gallery.config import SettingChecks, apply_overrides
from gallery.errors import GalleryError
from gallery.layers import HMLSTM, LSTMCell, Recurrent, SlopeAnnealing

from . import hmlstm_text as texts
from .common import print_table
from .hmlstm_figure import boundary_figure

SUMMARY = "a hierarchical multiscale LSTM finds word and token boundaries (vs. an LSTM)"


@dataclasses.dataclass
class Settings(SettingChecks):
    units: int = 128              # H of each of the three HM-LSTM layers
    embedding: int = 64           # character embedding width (both models)
    steps: int = 300              # training batches per model: the same budget for both
    batch_size: int = 32
    seq_len: int = 100            # characters per training window
    learning_rate: float = 0.002
    clipnorm: float = 1.0         # clip each gradient to this global norm
    slope_start: float = 1.0      # the boundary detector's slope a at step 0 ...
    slope_rate: float = 0.02      # ... grows by this much per step ...
    slope_max: float = 5.0        # ... up to this (the paper's cap)
    # The boundary's straight-through backward pass: "sigmoid" (not the paper's; never
    # exactly 0), or the paper's "hard_sigmoid", which collapses the boundaries here.
    boundary_gradient: str = "sigmoid"
    # The boundary-rate penalty (not the paper's): its weight (0 = none) and the rate it
    # pulls each layer toward, halving per layer (one number: the same for every layer).
    boundary_rate_weight: float = 1.0
    boundary_rate_target: float | tuple[float, ...] = (0.2, 0.1, 0.05)
    max_chars: int = 175_000      # each text cut to this length (Hamlet is ~175 K)
    figure_chars: int = 320       # held-out characters shown in boundaries.png
    trace_every: int = 50         # record boundary rates on held-out text every so many steps
    seed: int = 0
    compile: str = "xla"          # "xla", "graph" or "eager" (the quick test)


    def validate(self):
        """This object, or a one-line :class:`GalleryError` naming the bad setting."""
        self.require_positive("units", "embedding", "steps", "batch_size", "seq_len",
                              "max_chars", "figure_chars", "trace_every", "learning_rate",
                              "clipnorm", "slope_start", "slope_max")
        if self.slope_rate < 0 or self.boundary_rate_weight < 0:
            raise GalleryError("settings slope_rate and boundary_rate_weight must be >= 0")
        targets = self.boundary_rate_target
        targets = targets if isinstance(targets, tuple) else (targets,)
        if len(targets) not in (1, 3) or not all(0 <= r <= 1 for r in targets):
            raise GalleryError("setting boundary_rate_target takes one rate or three "
                               f"(one per layer) from 0 to 1, got {self.boundary_rate_target}")
        self.require_choice("boundary_gradient", ("sigmoid", "hard_sigmoid"))
        self.require_choice("compile", ("xla", "graph", "eager"))
        return self


TINY = Settings(units=8, embedding=4, steps=3, batch_size=4, seq_len=12, max_chars=4_000,
                figure_chars=40, trace_every=2, compile="graph")


def _compile(model, settings):
    model.compile(
        keras.optimizers.Adam(settings.learning_rate, clipnorm=settings.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=settings.compile == "xla", run_eagerly=settings.compile == "eager")


def build_hmlstm(vocab_size, s):
    """``(training model, probe → [logits, z], the HMLSTM layer)``, layers shared."""
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, s.embedding)(tokens)
    layer = HMLSTM([s.units] * 3, output_units=s.units, return_boundaries=True,
                   slope=s.slope_start, boundary_gradient=s.boundary_gradient,
                   boundary_rate_weight=s.boundary_rate_weight,
                   boundary_rate_target=s.boundary_rate_target)
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
    _compile(model, s)
    start = time.time()
    model.fit(inputs, targets, batch_size=s.batch_size, epochs=1, shuffle=False, verbose=0,
              callbacks=list(callbacks))
    return time.time() - start


def run_text(name, text, gold, s):
    """Train both models on ``text``; returns ``(results, figure panel)``."""
    cut = int(len(text) * 0.9)
    vocabulary = sorted(set(text[:cut]))
    ids = texts.encode(text, vocabulary)
    vocab_size = len(vocabulary) + 1
    rng = np.random.default_rng(s.seed)
    inputs, targets = training_windows(ids[:cut], s, rng)
    held_out = held_out_windows(ids[cut:], s)

    keras.utils.set_random_seed(s.seed)
    hm_model, probe, layer = build_hmlstm(vocab_size, s)
    annealing = SlopeAnnealing([layer], s.slope_start, s.slope_rate, s.slope_max)
    trace = BoundaryTrace(probe, held_out[:32], s)
    hm_seconds = train(hm_model, inputs, targets, s, [annealing, trace])
    bpc_hmlstm, z = score(probe, held_out, s, boundaries=True)

    units = matched_lstm_units(vocab_size, hm_model.count_params(), s)
    keras.utils.set_random_seed(s.seed)
    lstm = build_lstm(vocab_size, units, s)
    lstm_seconds = train(lstm, inputs, targets, s)
    bpc_lstm, _ = score(lstm, held_out, s, boundaries=False)

    first = cut + s.seq_len  # text position of the first scored held-out character
    gold_scored = gold[first:first + len(z)]
    rate = z.mean(0)
    results = {
        "bpc_hmlstm": bpc_hmlstm,
        "bpc_lstm": bpc_lstm,
        "boundary_rate": [float(r) for r in rate],
        "boundary_f1": texts.precision_recall_f1(z[:, 0], gold_scored),
        "random_f1": texts.precision_recall_f1(
            texts.random_boundaries(rate[0], len(z), s.seed), gold_scored),
        "gold_rate": float(gold_scored.mean()),
        "boundary_rate_by_step": trace.rates,
        "final_slope": float(layer.slope),
        "parameters_hmlstm": hm_model.count_params(),
        "parameters_lstm": lstm.count_params(),
        "lstm_units": units,
        "held_out_characters": len(z),
    }
    print(f"[{name}] HM-LSTM {hm_seconds:.0f} s, LSTM {lstm_seconds:.0f} s of training; "
          "boundary rates z1/z2/z3 by step: " + ", ".join(
              f"{step}: {'/'.join(f'{v:.2f}' for v in r)}" for step, r in trace.rates.items()),
          flush=True)
    shown = slice(0, min(s.figure_chars, len(z)))
    panel = {"title": name, "text": text[first:first + len(z)][shown], "gold": gold_scored[shown],
             "z": z[shown], "gold_label": "token" if name == "Python" else "word"}
    return results, panel


def check_options(overrides=(), **_):
    """Refuse bad ``--set`` overrides before the lesson's folder is made."""
    apply_overrides(Settings(), list(overrides or ()))


def run(out_dir, settings=None, overrides=()):
    """The lesson with ``settings`` (default :class:`Settings`), then ``--set`` style
    ``overrides`` (``["steps=600", "boundary_rate_target=0.3,0.1,0.05"]``)."""
    s = apply_overrides(settings or Settings(), list(overrides or ()))
    # Scoring several models, each with a last batch of another size, retraces predict
    # functions on purpose; TensorFlow's retracing warning would be noise here.
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    (out_dir / "config.json").write_text(json.dumps(dataclasses.asdict(s), indent=2) + "\n")
    hamlet = texts.hamlet_text()[:s.max_chars]
    python = texts.python_text(len(hamlet))
    results, panels = {}, []
    for name, text, gold in [("Hamlet", hamlet, texts.word_boundaries(hamlet)),
                             ("Python", python, texts.token_boundaries(python))]:
        results[name], panel = run_text(name, text, gold, s)
        panels.append(panel)
    boundary_figure(out_dir / "boundaries.png", panels)
    print_table(
        ["text", "bpc HM-LSTM", "bpc LSTM", "params", "boundary rate z1/z2/z3",
         "true rate", "F1 z1 (P/R)", "F1 random"],
        [[name, f"{r['bpc_hmlstm']:.3f}", f"{r['bpc_lstm']:.3f}",
          f"{r['parameters_hmlstm']}/{r['parameters_lstm']}",
          "/".join(f"{v:.2f}" for v in r["boundary_rate"]), f"{r['gold_rate']:.2f}",
          f"{r['boundary_f1']['f1']:.3f} ({r['boundary_f1']['precision']:.2f}/"
          f"{r['boundary_f1']['recall']:.2f})", f"{r['random_f1']['f1']:.3f}"]
         for name, r in results.items()])
    return {"settings": dataclasses.asdict(s), "texts": results}
