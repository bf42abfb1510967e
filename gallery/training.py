"""The one training path every task uses.

``train`` seeds everything, loads the task's data, builds (or takes) the model,
trains its ``"core"`` with Adam, gradient clipping and early stopping on the task's
validation metric (``task.monitor``), evaluates the end-to-end model on the test
split, and writes the run folder.
"""

import dataclasses
import pathlib
import sys
import time
import warnings

import keras
import tensorflow as tf

from gallery import plots
from gallery.runs import write_json


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


def fit_core(task, config, model, splits, verbose=None):
    """Train ``model``'s core on the task's batches; return the Keras history dict."""
    core = model.get_layer("core")
    task.compile_core(config, core, make_optimizer(config))
    train_ds, val_ds = task.datasets(config, model, splits)
    callbacks = [keras.callbacks.EarlyStopping(monitor=task.monitor, patience=config.patience,
                                               restore_best_weights=True)]
    if config.ema:  # validate (and keep as best) the averaged weights, not the raw ones
        callbacks.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    with warnings.catch_warnings():
        # Bucketed tf.data input has no known length; Keras warns about that and about
        # shuffling, which the dataset already does.
        warnings.filterwarnings("ignore", message=".*(ran out of data|shuffle=True).*")
        history = core.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
                           callbacks=callbacks, verbose=verbose)
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def train(task, config, source=None, out_dir=None, model=None, splits=None, meta=None,
          verbose=None):
    """Train ``task`` and write a run folder; return ``(run_dir, metrics)``.

    ``model``/``splits``/``meta`` let fine-tuning pass a loaded model and its data.
    """
    config = config.validate()
    out_dir = pathlib.Path(out_dir or f"runs/{task.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    if splits is None:
        splits = task.load_data(config, source)
    meta = {**(meta or splits.meta), "task": task.name}
    if model is None:
        model = task.build_model(config, splits)
    print(f"[{task.name}] data: {meta.get('source')}; train {len(splits.train)}, "
          f"validation {len(splits.validation)}, test {len(splits.test)}", flush=True)
    started = time.time()
    history = fit_core(task, config, model, splits, verbose=verbose)
    seconds = time.time() - started
    metrics = task.evaluate(config, model, splits.test, meta)
    metrics.update(train_seconds=round(seconds, 1), epochs_run=len(history.get("loss", [])))
    model.save(out_dir / "model.keras")
    write_json(out_dir / "config.json", dataclasses.asdict(config))
    write_json(out_dir / "meta.json", meta)
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "history.json", history)
    plots.training_curves(history, out_dir / "training_curves.png", title=task.name)
    task.after_training(config, model, splits, out_dir)
    print(f"[{task.name}] test {task.metric}: {metrics[task.metric]:.4f} "
          f"({seconds:.0f} s training); run folder: {out_dir}", flush=True)
    return out_dir, metrics
