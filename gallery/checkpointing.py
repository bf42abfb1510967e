"""Training that survives being killed: epoch checkpoints and resuming from them.

At the end of every epoch :class:`EpochCheckpoint` writes, into ``RUN/checkpoint/``:

* ``state-E.npz``: every variable of the trained model (weights, the random-number
  states of its dropout layers) and of its optimizer (step count, Adam moments,
  EMA, the learning rate), plus early stopping's best weights;
* ``state.json``: the epoch reached, the history so far, the counters of early
  stopping and of the learning-rate decay on plateau
  and a fingerprint of the run (task, settings, data), written last with an atomic
  rename, so it always names a complete ``.npz``.

A training started again on the same run folder with the same settings restores
all of that and goes on with the next epoch. Together with training data that
depends only on ``(seed, epoch)`` (``Task.datasets(..., clock)``), the resumed
run ends with the same weights and metrics as one that was never interrupted.

The folder carries the mark ``.gallery-checkpoint`` (``gallery.runs``): a state
is read only from a marked folder, and only a marked folder is ever deleted.

An epoch whose loss is not finite (NaN or inf; Keras's ``TerminateOnNaN`` stops the
epoch) is never written; :meth:`EpochCheckpoint.restore_last_good` puts the last
good state back.
"""

import hashlib
import json
import math
import pathlib
import time

import keras
import numpy as np

from gallery.runs import atomic_write, is_checkpoint_folder, mark_checkpoint_folder

STATE = "state.json"


def fingerprint(*parts):
    """A short stable hash of JSON-able ``parts`` (task, settings, data source...)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_state(folder):
    """The ``state.json`` of a checkpoint folder the gallery wrote, or ``None``."""
    path = pathlib.Path(folder) / STATE
    if not is_checkpoint_folder(folder) or not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _variables(model):
    return list(model.variables) + list(model.optimizer.variables if model.optimizer else [])


class EpochCheckpoint(keras.callbacks.Callback):
    """Save the whole training state after every epoch; restore it when training starts.

    Args:
        folder: the checkpoint folder (created).
        run_fingerprint: from :func:`fingerprint`; a state with another one is refused.
        early_stopping: the run's ``keras.callbacks.EarlyStopping`` (its counters and
            best weights are part of the state), or ``None``.

    Place it after the EarlyStopping callback in the list: ``on_train_begin`` must run
    after EarlyStopping has reset itself, ``on_epoch_end`` after it has updated.
    """

    def __init__(self, folder, run_fingerprint, early_stopping=None):
        super().__init__()
        self.folder = pathlib.Path(folder)
        self.run_fingerprint = run_fingerprint
        self.early_stopping = early_stopping
        self.ema_swap = None          # the run's SwapEMAWeights callback, if any
        self.plateau = None           # the run's ReduceLROnPlateau callback, if any
        self.history = {}
        self.finished = False         # early stopping ended training
        self.non_finite_epoch = None  # 1-based epoch whose loss was NaN/inf
        self.seconds_before = 0.0     # training time of the processes this one resumes
        self._started = None          # time.monotonic() when this process began fitting

    # -- restore ---------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._started = time.monotonic()
        state = read_state(self.folder)
        if state is None:
            return
        if state.get("fingerprint") != self.run_fingerprint:
            raise ValueError(f"{self.folder} belongs to a run with other settings or data")
        self._load(state)
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.finished = state.get("finished", False)
        self.seconds_before = float(state.get("train_seconds", 0.0))

    @property
    def train_seconds(self):
        """Seconds of training so far: those of the processes this one resumed (saved in
        the state) plus this process's since ``fit`` began."""
        now = 0.0 if self._started is None else time.monotonic() - self._started
        return self.seconds_before + now

    def resume_epoch(self, epochs):
        """The epoch ``fit(initial_epoch=...)`` resumes at: 0 for a fresh start, the
        saved epoch for an interrupted run, ``epochs`` for a finished one (no epoch runs)."""
        state = read_state(self.folder)
        if state is None or state.get("fingerprint") != self.run_fingerprint:
            return 0  # a foreign state is refused in on_train_begin
        return epochs if state.get("finished", False) else int(state["epoch"])

    def _load(self, state):
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:  # its slots appear at step 1
            optimizer.build(self.model.trainable_variables)
        with np.load(self.folder / state["arrays"]) as arrays:
            variables = _variables(self.model)
            if len(variables) != int(arrays["count"]):
                raise ValueError(f"{self.folder} holds a different model")
            for i, variable in enumerate(variables):
                variable.assign(arrays[f"v{i}"])
            es = self.early_stopping
            if es is not None and "es" in state:
                es.wait, es.stopped_epoch = state["es"]["wait"], state["es"]["stopped_epoch"]
                es.best, es.best_epoch = state["es"]["best"], state["es"]["best_epoch"]
                best = int(arrays["best_count"])
                es.best_weights = [arrays[f"b{i}"] for i in range(best)] if best else None
        if self.ema_swap is not None:  # saved with the averaged weights swapped in
            self.ema_swap._ema_weights_in_model = state.get("ema_swapped", False)
        if self.plateau is not None and "plateau" in state:  # the rate itself is a variable
            for key, value in state["plateau"].items():
                setattr(self.plateau, key, value)

    def restore_last_good(self):
        """Load the last written state (weights of the last finite epoch); its epoch or 0."""
        state = read_state(self.folder)
        if state is None:
            return 0
        self._load(state)
        return state["epoch"]

    # -- save -------------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.non_finite_epoch = epoch + 1
            self.model.stop_training = True
            return
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        self.finished = bool(self.model.stop_training)
        self._save(epoch + 1)

    def _save(self, epochs_done):
        mark_checkpoint_folder(self.folder)
        arrays = {f"v{i}": np.asarray(v) for i, v in enumerate(_variables(self.model))}
        arrays["count"] = np.array(len(arrays))
        es = self.early_stopping
        best = (es.best_weights if es is not None else None) or []
        arrays.update({f"b{i}": np.asarray(w) for i, w in enumerate(best)})
        arrays["best_count"] = np.array(len(best))
        name = f"state-{epochs_done}.npz"
        atomic_write(self.folder / name, lambda f: np.savez(f, **arrays))
        state = {"fingerprint": self.run_fingerprint, "epoch": epochs_done, "arrays": name,
                 "history": self.history, "finished": self.finished,
                 "train_seconds": round(self.train_seconds, 3),
                 "ema_swapped": bool(getattr(self.ema_swap, "_ema_weights_in_model", False))}
        if es is not None:
            best_value = None if es.best is None else float(es.best)
            state["es"] = {"wait": es.wait, "stopped_epoch": es.stopped_epoch,
                           "best": best_value, "best_epoch": es.best_epoch}
        if self.plateau is not None:
            state["plateau"] = {"wait": int(self.plateau.wait), "best": float(self.plateau.best),
                                "cooldown_counter": int(self.plateau.cooldown_counter)}
        atomic_write(self.folder / STATE, lambda f: f.write(json.dumps(state).encode()))
        for old in self.folder.glob("state-*.npz"):
            if old.name != name:
                old.unlink(missing_ok=True)
