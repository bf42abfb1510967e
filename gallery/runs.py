"""Run folders: what training writes and what evaluate/predict/export/finetune read.

A run folder holds ``model.keras`` (end-to-end model), ``config.json`` (the final
settings), ``meta.json`` (task name, labels, data source), ``metrics.json``,
``history.json`` and a training-curve PNG.
"""

import json
import pathlib

import keras

from gallery.config import config_from_dict
from gallery.errors import GalleryError


def write_json(path, value):
    pathlib.Path(path).write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def read_json(path):
    return json.loads(pathlib.Path(path).read_text())


def load_run(run_dir, expected_task=None):
    """``(task, config, model, meta)`` from a run folder, with one-line errors."""
    from tasks import get_task

    run_dir = pathlib.Path(run_dir)
    model_path = run_dir / "model.keras" if run_dir.is_dir() else run_dir
    folder = model_path.parent
    if not model_path.is_file() or not (folder / "meta.json").is_file():
        raise GalleryError(f"no trained model at {run_dir} (expected a run folder with "
                           "model.keras and meta.json, as written by `gallery train`)")
    meta = read_json(folder / "meta.json")
    task = get_task(meta.get("task", ""))
    if expected_task and task.name != expected_task:
        raise GalleryError(f"{run_dir} holds a {task.name} model, not {expected_task}")
    config = config_from_dict(task.config_class, read_json(folder / "config.json"))
    try:
        model = keras.models.load_model(model_path, safe_mode=True)
    except Exception as error:  # a corrupt or foreign file: say so in one line
        raise GalleryError(f"cannot load {model_path}: {str(error).splitlines()[0]}") from None
    return task, config, model, meta
