"""Lesson: a hierarchical multiscale LSTM learns where words (and tokens) end.

Character-level language models on English (Hamlet, optionally after the 2012 US party
convention speeches) and Python (the standard library's source), see
:mod:`lessons.hmlstm_text`. For each text and each seed, an HM-LSTM and a stacked LSTM
with the same parameter count get the same training budget (:mod:`lessons.hmlstm_models`);
by default the HM-LSTM's boundaries read each layer's new hidden state
(``boundary_input``), its gate inputs are layer-normalised, its straight-through backward
pass uses the sigmoid's gradient (``boundary_gradient``) and stops at the top-down gate
(``top_down_gradient``), and a boundary-rate penalty pulls the layers' rates toward
0.2 / 0.1 / 0.05 (see docs/lessons/hmlstm.md for why).

Reported per text, as mean ± sd over the seeds (:mod:`lessons.hmlstm_report`): bits
per character of both models, each HM-LSTM layer's boundary rate on held-out text,
precision/recall/F1 of layer 1's boundaries against the true word (token) ends and of
random boundaries at layer 1's rate; a layer whose rate is 0 or 1 is named as collapsed.
The picture ``boundaries.png`` (the first seed) is the paper's Figure 3 for both texts.

Same command, same ``results.json``: one TensorFlow thread, deterministic kernels, no
XLA (:func:`gallery.reproducibility.deterministic_runtime`); the CPU's name is recorded.
"""

import dataclasses
import re
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import keras
import numpy as np

from gallery.config import SettingChecks, apply_overrides
from gallery.errors import GalleryError
from gallery.layers import SlopeAnnealing
from gallery.quiet import import_tensorflow, native_stderr_without
from gallery.reproducibility import cpu_model, deterministic_runtime

from . import hmlstm_models as models
from . import hmlstm_report as report
from . import hmlstm_text as texts
from .hmlstm_figure import boundary_figure

SUMMARY = "a hierarchical multiscale LSTM finds word and token boundaries (vs. an LSTM)"
#: ``gallery lesson`` leaves TensorFlow's runtime to this lesson: each (text, seed) sets one
#: thread first (:func:`gallery.reproducibility.deterministic_runtime`).
SETS_RUNTIME = True
TEXTS = ("Hamlet", "Python")
#: What TensorFlow's C++ side writes once per tf.data pipeline when op determinism turns
#: its parallel map into a sequential one (``keras.Model.fit`` on arrays builds one).
DETERMINISM_NOTICE = re.compile(r"E\d{4} [\d:.]+ +\d+ node_def_util\.cc:\d+\] NodeDef mentions "
                                r"attribute use_unbounded_threadpool")


@dataclasses.dataclass
class Settings(SettingChecks):
    units: int = 128              # H of each of the three HM-LSTM layers
    embedding: int = 64           # character embedding width (both models)
    steps: int = 300              # training batches per model: the same budget for both
    batch_size: int = 32
    seq_len: int = 100            # characters per training window
    learning_rate: float = 0.003
    clipnorm: float = 1.0         # clip each weight's gradient to this norm (Keras's clipnorm)
    slope_start: float = 1.0      # the boundary detector's slope a at step 0 ...
    slope_rate: float = 0.02      # ... grows by this much per step ...
    slope_max: float = 5.0        # ... up to this (the paper's cap)
    # The boundary's straight-through backward pass: "sigmoid" (not the paper's; never
    # exactly 0), or the paper's "hard_sigmoid".
    boundary_gradient: str = "sigmoid"
    # The boundary-rate penalty (not the paper's): its weight (0 = none) and the rate it
    # pulls each layer toward (one number: the same for every layer).
    boundary_rate_weight: float = 1.0
    boundary_rate_target: float | tuple[float, ...] = (0.2, 0.1, 0.05)
    # How the penalty's gradient reaches the boundary units: "estimator" (the boundary's
    # straight-through gradient, fading with σ') or "linear" (a pull that does not fade).
    rate_gradient: str = "estimator"
    layer_norm: bool = True       # the paper's layer normalisation of the gate inputs
    # Whether z_{t-1} passes its straight-through gradient through the top-down gate:
    # the paper's yes made the gradient overflow to NaN (see HMLSTMCell.layer_step).
    top_down_gradient: bool = False
    # What layer ℓ's boundary reads: "gates" (the paper: the pre-activation of [h_{t-1}, x_t])
    # or "hidden" (not the paper's: the new h_t, which also predicts the next character).
    boundary_input: str = "hidden"
    max_chars: int = 175_000      # Hamlet (~175 K) cut to this length
    speeches_chars: int = 0       # convention speeches read before Hamlet (English only)
    texts: tuple[str, ...] = TEXTS  # which texts to run
    baseline: bool = True         # also train the parameter-matched LSTM
    seeds: int = 1                # seeds seed, seed + 1, ...: numbers are mean ± sd
    seed: int = 0
    workers: int = 1              # processes training (text, seed) pairs side by side
    figure_chars: int = 320       # held-out characters shown in boundaries.png
    trace_every: int = 50         # record boundary rates on held-out text every so many steps
    compile: str = "graph"        # "graph" or "eager" (never XLA: see the docstring)

    def validate(self):
        """This object, or a one-line :class:`GalleryError` naming the bad setting."""
        self.require_positive("units", "embedding", "steps", "batch_size", "seq_len",
                              "max_chars", "figure_chars", "trace_every", "learning_rate",
                              "clipnorm", "slope_start", "slope_max", "seeds", "workers")
        if self.slope_rate < 0 or self.boundary_rate_weight < 0 or self.speeches_chars < 0:
            raise GalleryError("settings slope_rate, boundary_rate_weight and speeches_chars "
                               "must be >= 0")
        if self.seeds > 10 or self.workers > 16 or self.steps > 100_000:
            raise GalleryError("settings seeds, workers and steps are at most 10, 16 and "
                               f"100000, got {self.seeds}, {self.workers} and {self.steps}")
        if not 0 <= self.seed <= 2**32 - 1 - self.seeds:
            raise GalleryError(f"setting seed must be in [0, 2**32 - 1 - seeds], got {self.seed}")
        targets = self.boundary_rate_target
        targets = targets if isinstance(targets, tuple) else (targets,)
        if len(targets) not in (1, 3) or not all(0 <= r <= 1 for r in targets):
            raise GalleryError("setting boundary_rate_target takes one rate or three "
                               f"(one per layer) from 0 to 1, got {self.boundary_rate_target}")
        if not self.texts or any(t not in TEXTS for t in self.texts):
            raise GalleryError(f"setting texts takes names from {', '.join(TEXTS)}, "
                               f"got {','.join(self.texts)}")
        self.require_choice("boundary_gradient", ("sigmoid", "hard_sigmoid"))
        self.require_choice("boundary_input", ("gates", "hidden"))
        self.require_choice("rate_gradient", ("estimator", "linear"))
        self.require_choice("compile", ("graph", "eager"))
        return self


#: Named sets of settings (``--profile NAME``), applied before ``--set`` overrides.
#: ``full`` is the run whose table docs/lessons/hmlstm.md shows; ``tiny`` runs in seconds
#: (tests).
PROFILES = {
    "short": {},
    "full": {"seeds": 3, "steps": 800, "workers": 2},
    "tiny": {"units": 8, "embedding": 4, "steps": 3, "batch_size": 4, "seq_len": 12,
             "max_chars": 4_000, "figure_chars": 40, "trace_every": 2},
}


def settings_for(settings=None, overrides=(), profile=None):
    """The lesson's settings: ``settings`` (default :class:`Settings`), then profile
    ``profile``, then ``--set`` style ``overrides``."""
    if profile is not None and profile not in PROFILES:
        raise GalleryError(f"unknown profile {profile!r} for the hmlstm lesson; profiles: "
                           + ", ".join(PROFILES))
    pairs = [f"{k}={v}" for k, v in PROFILES.get(profile or "short", {}).items()]
    return apply_overrides(settings or Settings(), [*pairs, *(overrides or ())])


def load_text(name, s):
    """``(text, gold, held_out_start)``: the whole text, its true boundaries, and where
    its held-out part (the last 10 % of Hamlet's length) starts."""
    hamlet = texts.hamlet_text()[:s.max_chars]
    held_out = len(hamlet) // 10
    english = texts.english_text(hamlet, s.speeches_chars)
    if name == "Hamlet":
        return english, texts.word_boundaries(english), len(english) - held_out
    python = texts.python_text(len(english))
    return python, texts.token_boundaries(python), len(python) - held_out


def run_one(name, seed, s):
    """Train both models on text ``name`` with ``seed``; ``(results, panel, log line)``."""
    deterministic_runtime(seed)
    # Scoring several models, each with a last batch of another size, retraces predict
    # functions on purpose; TensorFlow's retracing warning would be noise here (in every
    # worker process, which is where the models are scored).
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    with native_stderr_without(DETERMINISM_NOTICE):
        return _run_one(name, seed, s)


def _run_one(name, seed, s):
    text, gold, cut = load_text(name, s)
    vocabulary = sorted(set(text[:cut]))
    ids = texts.encode(text, vocabulary)
    vocab_size = len(vocabulary) + 1
    inputs, targets = models.training_windows(ids[:cut], s, np.random.default_rng(seed))
    held_out = models.held_out_windows(ids[cut:], s)

    keras.utils.set_random_seed(seed)
    hm_model, probe, layer = models.build_hmlstm(vocab_size, s)
    annealing = SlopeAnnealing([layer], s.slope_start, s.slope_rate, s.slope_max)
    trace = models.BoundaryTrace(probe, held_out[:32], s)
    hm_time = models.train(hm_model, inputs, targets, s, [annealing, trace])
    bpc_hmlstm, z = models.score(probe, held_out, s, boundaries=True)
    first = cut + s.seq_len  # text position of the first scored held-out character
    gold_scored = gold[first:first + len(z)]
    rate = z.mean(0)
    results = {
        "bpc_hmlstm": bpc_hmlstm,
        "boundary_rate": [float(r) for r in rate],
        "collapsed_layers": report.collapsed_layers(rate),
        "boundary_f1": texts.precision_recall_f1(z[:, 0], gold_scored),
        "random_f1": texts.precision_recall_f1(
            texts.random_boundaries(rate[0], len(z), seed), gold_scored),
        "gold_rate": float(gold_scored.mean()),
        "boundary_rate_by_step": trace.rates,
        "final_slope": float(layer.slope),
        "parameters_hmlstm": hm_model.count_params(),
        "training_characters": cut,
        "held_out_characters": len(z),
    }
    log = f"[{name} seed {seed}] HM-LSTM {report.seconds(hm_time)}"
    if s.baseline:
        units = models.matched_lstm_units(vocab_size, hm_model.count_params(), s)
        keras.utils.set_random_seed(seed)
        lstm = models.build_lstm(vocab_size, units, s)
        lstm_time = models.train(lstm, inputs, targets, s)
        results["bpc_lstm"], _ = models.score(lstm, held_out, s, boundaries=False)
        results.update(parameters_lstm=lstm.count_params(), lstm_units=units)
        log += f", LSTM {report.seconds(lstm_time)}"
    log += "; boundary rates z1/z2/z3 by step: " + ", ".join(
        f"{step}: {'/'.join(f'{v:.2f}' for v in r)}" for step, r in trace.rates.items())
    shown = slice(0, min(s.figure_chars, len(z)))
    panel = {"title": name, "text": text[first:first + len(z)][shown], "gold": gold_scored[shown],
             "z": z[shown], "gold_label": "token" if name == "Python" else "word"}
    return results, panel, log


def run_all(s):
    """``[((text, seed), run_one's outcome)]`` for every (text, seed), in ``s.workers``
    processes (each single-threaded and seeded, so the numbers do not depend on how many
    run side by side)."""
    jobs = [(name, s.seed + k) for name in s.texts for k in range(s.seeds)]
    if s.workers == 1:
        return [(job, run_one(*job, s)) for job in jobs]
    # A fresh process per worker ("spawn": no copy of this one's TensorFlow runtime),
    # which imports TensorFlow without its start-up notices first.
    with ProcessPoolExecutor(min(s.workers, len(jobs)), mp_context=get_context("spawn"),
                             initializer=import_tensorflow) as pool:
        futures = [pool.submit(run_one, *job, s) for job in jobs]
        return [(job, future.result()) for job, future in zip(jobs, futures)]


def check_options(overrides=(), profile=None, **_):
    """Refuse a bad profile or ``--set`` override before the lesson's folder is made."""
    settings_for(overrides=overrides, profile=profile)


def run(out_dir, settings=None, overrides=(), profile=None):
    """The lesson with ``settings`` (default :class:`Settings`), then ``profile``, then
    ``--set`` style ``overrides`` (``["steps=600", "boundary_rate_target=0.3,0.1,0.05"]``)."""
    s = settings_for(settings, overrides, profile)
    (out_dir / "config.json").write_text(report.to_json(dataclasses.asdict(s)))
    cpu = cpu_model()
    print(f"[hmlstm] CPU: {cpu}; one TensorFlow thread per process, deterministic kernels, "
          f"no XLA; {s.seeds} seed(s) from {s.seed}", flush=True)
    by_text = {name: {} for name in s.texts}
    panels = {}
    for (name, seed), (results, panel, log) in run_all(s):
        print(log, flush=True)
        report.print_collapsed(name, seed, results)
        by_text[name][str(seed)] = results
        panels.setdefault(name, panel)
    boundary_figure(out_dir / "boundaries.png", list(panels.values()))
    summary = {name: report.summarise(per_seed) for name, per_seed in by_text.items()}
    report.print_summary(summary, s.seeds)
    return {"settings": dataclasses.asdict(s), "cpu": cpu,
            "texts": {name: {"summary": summary[name], "seeds": by_text[name]}
                      for name in s.texts}}
