"""Run folders: what training writes and what evaluate/predict/export/finetune read.

A run folder holds ``model.keras`` (end-to-end model), ``config.json`` (the final
settings), ``meta.json`` (task name and class, labels, data source), ``metrics.json``,
``history.json`` and a training-curve PNG.
"""

import json
import os
import pathlib
import shutil

import keras

from gallery.config import config_from_dict
from gallery.errors import GalleryError


def atomic_write(path, write):
    """Call ``write(binary file)`` on a temporary name beside ``path``, flush it to disk
    and rename it to ``path``: readers see the old file or the whole new one."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_json(path, value):
    """Write ``value`` as JSON, atomically."""
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode()))


def save_model(model, path):
    """``model.save`` to a temporary name beside ``path``, then rename (atomic)."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".tmp-{path.name}")  # keeps the .keras suffix Keras requires
    model.save(tmp)
    os.replace(tmp, path)


def read_json(path):
    return json.loads(pathlib.Path(path).read_text())


def read_run_file(path):
    """A JSON object a run folder holds (``meta.json``, ``config.json``), or a one-line
    error saying the file is missing or damaged."""
    path = pathlib.Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GalleryError(f"{path} is missing: the run folder is incomplete") from None
    except (OSError, ValueError) as error:  # unreadable, not UTF-8, not JSON
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        raise GalleryError(f"{path} is damaged ({reason})") from None
    if not isinstance(value, dict):
        raise GalleryError(f"{path} is damaged (not a JSON object)")
    return value


def run_task(meta):
    """The task that made a run: its recorded ``task_class`` (``module:Class``, so a run
    of a task that is importable but not registered opens too), else its registered
    name (run folders written before ``task_class`` was recorded)."""
    from gallery.registry import get_task, task_from_path

    if meta.get("task_class"):
        return task_from_path(meta["task_class"])
    return get_task(meta.get("task", ""))


def run_data_source(meta):
    """The ``--data`` a run was trained on (``None``: the task's embedded default)."""
    if "data" not in meta:
        raise GalleryError("this run folder does not record its data (it predates the "
                           "`data` entry of meta.json); pass --data")
    return meta["data"]


def load_run(run_dir, expected_task=None):
    """``(task, config, model, meta)`` from a run folder, with one-line errors."""
    run_dir = pathlib.Path(run_dir)
    model_path = run_dir / "model.keras" if run_dir.is_dir() else run_dir
    folder = model_path.parent
    if not model_path.is_file() or not (folder / "meta.json").is_file():
        raise GalleryError(f"no trained model at {run_dir} (expected a run folder with "
                           "model.keras and meta.json, as written by `gallery train`)")
    meta = read_run_file(folder / "meta.json")
    task = run_task(meta)
    if expected_task and task.name != expected_task:
        raise GalleryError(f"{run_dir} holds a {task.name} model, not {expected_task}")
    config = config_from_dict(task.config_class, read_run_file(folder / "config.json"),
                              where=str(folder / "config.json"))
    try:
        model = keras.models.load_model(model_path, safe_mode=True, compile=False)
    except Exception as error:  # a corrupt or foreign file: say so in one line
        if "safe_mode" in str(error) or "arbitrary code" in str(error):
            raise GalleryError(
                f"refused to load {model_path}: it carries Python code (e.g. a Lambda "
                "layer), and gallery loads models in Keras safe mode only") from None
        raise GalleryError(f"cannot load {model_path}: {str(error).splitlines()[0]}") from None
    return task, config, model, meta


def required_free_mb():
    """Free space (MB) a run folder needs before training starts (model, checkpoints,
    plots): ``GALLERY_MIN_FREE_MB``, default 256; a one-line error if it is not a
    whole number >= 0."""
    text = os.environ.get("GALLERY_MIN_FREE_MB", "256")
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise GalleryError(f"GALLERY_MIN_FREE_MB must be a whole number of megabytes "
                           f"(e.g. 256), got {text!r}")
    return value


def prepare_run_folder(path, min_free_mb=None):
    """Create ``path`` and prove it writable with room to spare, before any training.

    Raises ``GalleryError`` (one line) for a folder that cannot be created or written,
    or a disk with less than ``min_free_mb`` MB free (default ``GALLERY_MIN_FREE_MB``
    or 256), so a run does not fail only when it saves, an hour later.
    """
    path = pathlib.Path(path)
    min_free_mb = required_free_mb() if min_free_mb is None else min_free_mb
    probe = path / f".write-test-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(b"0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
        probe.unlink()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise GalleryError(f"cannot write the run folder {path}: {reason}") from None
    free_mb = shutil.disk_usage(path).free / 2**20
    if free_mb < min_free_mb:
        raise GalleryError(f"only {free_mb:.0f} MB free at {path}; training needs at least "
                           f"{min_free_mb} MB (GALLERY_MIN_FREE_MB)")
    return path
