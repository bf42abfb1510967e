"""The one training path every task uses.

``train`` seeds everything, loads the task's data, builds (or takes) the model,
trains its core (``task.core_of``) with Adam, gradient clipping and early stopping on
the task's validation metric (``task.monitored``), evaluates the end-to-end model on the
test split, and writes the run folder. Every epoch is checkpointed (``gallery.checkpointing``)
so a killed run resumes where it was; a NaN/inf loss stops training and keeps the last
good weights; training can run under a ``tf.distribute`` strategy.
"""

import dataclasses
import pathlib
import sys
import time
import warnings

import keras
import tensorflow as tf

from gallery import plots
from gallery.checkpointing import STATE, EpochCheckpoint, fingerprint, read_state
from gallery.data.epochs import EpochClock, EpochClockCallback
from gallery.distribute import work_around_multiworker_build, worker_role
from gallery.errors import GalleryError
from gallery.registry import task_class_path
from gallery.runs import (
    TENSORBOARD_LOGS,
    check_run_folder,
    prepare_run_folder,
    remove_checkpoint_folder,
    save_model,
    staging_folder,
    swap_in_run,
    write_json,
    write_run_manifest,
)


def seed_everything(seed):
    """Same seed, same run: weights, shuffling, dropout, and deterministic kernels."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def make_optimizer(config):
    """Adam with gradient-norm clipping and, optionally, a moving average of weights."""
    options = {"clipnorm": config.clipnorm} if config.clipnorm > 0 else {}
    if config.ema:
        options.update(use_ema=True, ema_momentum=config.ema)
    return keras.optimizers.Adam(config.learning_rate, **options)


def _sublayers(layer):
    """Every layer inside ``layer``, depth first, through the public ``layers`` of
    models and the ``layer`` / ``forward_layer`` of wrappers such as Bidirectional."""
    children = list(getattr(layer, "layers", None) or [])
    children += [getattr(layer, name) for name in ("layer", "forward_layer", "backward_layer")
                 if isinstance(getattr(layer, name, None), keras.layers.Layer)]
    for child in children:
        yield child
        yield from _sublayers(child)


class ResetRecurrentStates(keras.callbacks.Callback):
    """Zero the states of stateful recurrent layers at each epoch and before validation.

    Stateful training (truncated BPTT over consecutive chunks) carries each stream's
    state from batch to batch; a new pass over the data starts from zero.
    """

    def _reset(self):
        for layer in _sublayers(self.model):
            if getattr(layer, "stateful", False):
                layer.reset_state()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()

    def on_test_begin(self, logs=None):
        self._reset()

    def on_test_end(self, logs=None):
        self._reset()


class TimeBudget(keras.callbacks.Callback):
    """Stop after the epoch at which another epoch would end past ``minutes`` of
    training (``0``: no limit); early stopping still restores the best epoch."""

    def __init__(self, minutes):
        super().__init__()
        self.seconds = 60.0 * minutes
        self.start = self.epochs = None

    def on_train_begin(self, logs=None):
        self.start, self.epochs = time.monotonic(), 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1
        elapsed = time.monotonic() - self.start
        if self.seconds and elapsed + elapsed / self.epochs > self.seconds:
            print(f"[training] time budget of {self.seconds / 60:g} minutes: stopping after "
                  f"epoch {epoch + 1}", flush=True)
            self.model.stop_training = True


def fit_core(task, config, model, splits, verbose=None, checkpoint=None, log_dir=None):
    """Train ``model``'s core on the task's batches; return the history dict.

    With ``log_dir``, TensorBoard event files (every epoch's losses and metrics, the
    core's graph) are written there (``tensorboard --logdir runs/``).

    With ``checkpoint`` (an :class:`~gallery.checkpointing.EpochCheckpoint`), the
    training state is saved after every epoch and restored from the folder if an
    earlier, interrupted run left one there; the history then covers all epochs.
    """
    core = task.core_of(model)
    task.compile_core(config, core, make_optimizer(config))
    work_around_multiworker_build(core, tf.distribute.get_strategy())
    clock = EpochClock()
    train_ds, val_ds = task.datasets(config, model, splits, clock=clock)
    monitor, mode = task.monitored(config)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=monitor, mode=mode, patience=config.patience, restore_best_weights=True)
    callbacks = [EpochClockCallback(clock), *task.callbacks(config, model, splits),
                 keras.callbacks.TerminateOnNaN(), early_stopping, TimeBudget(config.max_minutes)]
    plateau = None
    if config.lr_plateau_factor:
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, mode=mode, factor=config.lr_plateau_factor, patience=1,
            verbose=1)
        callbacks.insert(-2, plateau)
    ema_swap = keras.callbacks.SwapEMAWeights(swap_on_epoch=True) if config.ema else None
    if ema_swap:  # validate (and keep as best) the averaged weights, not the raw ones
        callbacks.insert(0, ema_swap)
    if checkpoint is not None:
        checkpoint.early_stopping, checkpoint.ema_swap = early_stopping, ema_swap
        checkpoint.plateau = plateau
        callbacks.append(checkpoint)
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(log_dir), write_graph=True,
                                                     update_freq="epoch"))
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    with warnings.catch_warnings():
        # Bucketed tf.data input has no known length; Keras warns about that and about
        # shuffling, which the dataset already does.
        warnings.filterwarnings("ignore", message=".*(ran out of data|shuffle=True).*")
        initial_epoch = checkpoint.resume_epoch(config.epochs) if checkpoint is not None else 0
        history = core.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
                           initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose)
    if checkpoint is not None:
        return checkpoint.history
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def _recover_from_non_finite(task, config, checkpoint):
    """After a NaN/inf loss: put the last good weights back, or stop with an error."""
    bad = checkpoint.non_finite_epoch
    good = checkpoint.restore_last_good()
    advice = (f"lower learning_rate (now {config.learning_rate}) or clipnorm "
              f"(now {config.clipnorm})")
    if good == 0:
        raise GalleryError(f"[{task.name}] the training loss became NaN/inf in epoch {bad}, "
                           f"before any epoch finished; nothing was saved. Try: {advice}")
    best = checkpoint.early_stopping.best_weights if checkpoint.early_stopping else None
    if best:
        checkpoint.model.set_weights(best)
    return (f"the training loss became NaN/inf in epoch {bad}; the model is the best of "
            f"epochs 1-{good} and the checkpoint of epoch {good} is kept in "
            f"{checkpoint.folder}. Try: {advice}")


def find_unfinished_run(task_name, run_id, root="runs"):
    """The newest ``root/TASK-*`` folder holding an unfinished run with this fingerprint."""
    candidates = sorted(pathlib.Path(root).glob(f"{task_name}-*/checkpoint/{STATE}"),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        if (read_state(path.parent) or {}).get("fingerprint") == run_id:
            return path.parent.parent
    return None


def resolve_run_folder(task, out_dir, run_id, overwrite=False):
    """``(folder this run trains in, folder it ends in)``: a new folder, an unfinished run
    to resume, or, replacing a finished run (``overwrite``), a staging folder beside it
    that is swapped in once the new run is complete (``gallery.runs``)."""
    if out_dir is None:
        found = find_unfinished_run(task.name, run_id)
        out_dir = found or pathlib.Path(f"runs/{task.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    target = folder = pathlib.Path(out_dir)
    if check_run_folder(target, overwrite) == "replace":
        folder = staging_folder(target)
        if folder.exists() and check_run_folder(folder) != "resume":
            raise GalleryError(f"{folder} (where a run replacing {target} is trained) holds "
                               "something else; move it away")
    state = read_state(folder / "checkpoint")
    if state is not None and state.get("fingerprint") != run_id:
        raise GalleryError(f"{target} holds an unfinished run with other settings or data; "
                           "run its own command again to resume it, or choose another --out")
    return folder, target


def train(task, config, source=None, out_dir=None, model=None, splits=None, meta=None,
          verbose=None, strategy=None, overwrite=False):
    """Train ``task`` and write a run folder; return ``(run_dir, metrics)``.

    ``model``/``splits``/``meta`` let fine-tuning pass a loaded model and its data.
    ``strategy``: a ``tf.distribute`` strategy (``gallery.distribute.make_strategy``);
    the model is built and trained in its scope. Only the chief writes the run folder;
    other workers return ``(None, {})``.

    An unfinished run of the same task, settings and data (in ``out_dir``, or the
    newest ``runs/TASK-*`` when ``out_dir`` is not given) is resumed from its last
    epoch checkpoint. A finished run in ``out_dir`` is replaced only with ``overwrite``,
    and stays whole until the new one is complete; a folder holding anything the
    gallery did not write is refused.
    """
    config = config.validate()
    strategy = strategy or tf.distribute.get_strategy()
    chief, worker = worker_role(strategy)
    data_id = source if source is not None else (meta or {}).get("source")
    run_id = fingerprint(task.name, dataclasses.asdict(config), data_id,
                         (meta or {}).get("finetuned_from"), strategy.num_replicas_in_sync)
    out_dir, target = resolve_run_folder(task, out_dir, run_id, overwrite)
    seed_everything(config.seed)
    if splits is None:  # before the run folder exists: bad data writes no folder
        splits = task.load_data(config, source)
    out_dir = prepare_run_folder(out_dir)
    folder = out_dir / "checkpoint" if chief else out_dir / "checkpoint" / f"worker-{worker}"
    checkpoint = EpochCheckpoint(folder, run_id)
    resumed = read_state(folder)
    # "data": the --data given (None: the embedded default), for evaluating it again;
    # "task_class": where the task lives, so a run of an unregistered task opens too
    meta = {"data": source, **(meta or splits.meta), "task": task.name,
            "task_class": task_class_path(task)}
    with strategy.scope():
        if model is None:
            model = task.build_model(config, splits)
        task.prepare(config, model, splits, folder)
        print(f"[{task.name}] data: {meta.get('source')}; train {len(splits.train)}, "
              f"validation {len(splits.validation)}, test {len(splits.test)}"
              + (f"; {strategy.num_replicas_in_sync} replicas" if
                 strategy.num_replicas_in_sync > 1 else ""), flush=True)
        if resumed:
            print(f"[{task.name}] resuming {out_dir} after epoch {resumed['epoch']}",
                  flush=True)
        started = time.time()
        log_dir = out_dir / TENSORBOARD_LOGS if chief and config.tensorboard else None
        history = fit_core(task, config, model, splits, verbose=verbose, checkpoint=checkpoint,
                           log_dir=log_dir)
        # a resumed run's time includes the epochs its earlier processes trained
        seconds = checkpoint.seconds_before + time.time() - started
    stopped = _recover_from_non_finite(task, config, checkpoint) \
        if checkpoint.non_finite_epoch else None
    if not chief:  # the chief writes the run folder
        if not stopped:
            remove_checkpoint_folder(folder)
        return None, {}
    metrics = task.evaluate(config, model, splits.test, meta)
    metrics.update(train_seconds=round(seconds, 1), epochs_run=len(history.get("loss", [])))
    if stopped:
        metrics["stopped"] = stopped
    save_model(model, out_dir / "model.keras")
    write_json(out_dir / "config.json", dataclasses.asdict(config))
    write_json(out_dir / "meta.json", meta)
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "history.json", history)
    plots.training_curves(history, out_dir / "training_curves.png", title=task.name)
    task.after_training(config, model, splits, out_dir)
    if stopped:
        raise GalleryError(f"[{task.name}] {stopped}; run folder: {out_dir}")
    remove_checkpoint_folder(out_dir / "checkpoint")
    write_run_manifest(out_dir)
    if target != out_dir:
        out_dir = swap_in_run(out_dir, target)
    print(f"[{task.name}] test {task.metric}: {metrics[task.metric]:.4f} "
          f"({seconds:.0f} s training); run folder: {out_dir}", flush=True)
    return out_dir, metrics
