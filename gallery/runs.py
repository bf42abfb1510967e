"""Run folders: what training writes, how a run is opened, and the proofs that let
the gallery replace or delete only what it wrote.

A run folder holds ``model.keras`` (end-to-end model), ``config.json`` (the final
settings), ``meta.json`` (task name and class, labels, data source), ``metrics.json``,
``history.json`` and a training-curve PNG (:data:`RUN_ENTRIES`); while training, a
``checkpoint`` folder and TensorBoard's ``logs``.

The proofs of ownership (anything else is refused in one line and left as it was):

* a **finished run folder** holds ``.gallery-run.json``, written last by training:
  the list of every entry the run wrote (run folders of older galleries, written
  before the list existed, are recognised by holding ``model.keras`` and
  ``meta.json`` and nothing but the names training writes);
* a **checkpoint folder** holds ``.gallery-checkpoint``, written when the folder is
  created; only files named as checkpoints write them are ever deleted from it.

(Export folders have their own proofs: :mod:`gallery.export_folders`.)
"""

import json
import os
import pathlib
import shutil

import keras

from gallery.config import config_from_dict
from gallery.errors import GalleryError
from gallery.preset_store import (
    is_inside_presets,
    is_preset_reference,
    preset_folder,
    presets_root,
)
from gallery.registry import get_task, task_from_path

RUN_MANIFEST = ".gallery-run.json"
CHECKPOINT_MARK = ".gallery-checkpoint"
TENSORBOARD_LOGS = "logs"  # written from the first epoch on; the manifest lists it when done
#: What training writes into a run folder (besides the manifest and ``checkpoint``).
RUN_ENTRIES = {"model.keras", "config.json", "meta.json", "metrics.json", "history.json",
               "training_curves.png", "timeline.png", "attention.png", "samples.txt",
               "test_captions.png"}


def entry_names(folder):
    """The names of the entries of ``folder``."""
    return {path.name for path in pathlib.Path(folder).iterdir()}


def short_listing(names, limit=4):
    """``"a, b, c, d and 3 more"``: a few names for a one-line error."""
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _our_temporary(name):
    """Names of half-written files our atomic writes and write probes leave when killed."""
    return (name.startswith((".write-test-", ".tmp-")) or
            (name.startswith(".") and name.endswith(".tmp")))


# -- files written atomically ------------------------------------------------------------
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


# -- opening a run -----------------------------------------------------------------------
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
    """``(task, config, model, meta)`` from a run folder, or from a preset named
    ``preset:NAME`` (checked first: :func:`gallery.preset_store.preset_folder`), with
    one-line errors."""
    if is_preset_reference(run_dir):
        run_dir = preset_folder(run_dir)
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


# -- a new run folder --------------------------------------------------------------------
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


# -- checkpoint folders ------------------------------------------------------------------
def mark_checkpoint_folder(folder):
    """Create ``folder`` (and parents) with its ownership mark."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mark = folder / CHECKPOINT_MARK
    if not mark.is_file():
        mark.write_text("rnn-gallery epoch checkpoints; deleted when the run is complete\n")


def is_checkpoint_folder(folder):
    folder = pathlib.Path(folder)
    return folder.is_dir() and not folder.is_symlink() and (folder / CHECKPOINT_MARK).is_file()


def _checkpoint_file(name):
    return (name in (CHECKPOINT_MARK, "state.json") or _our_temporary(name)
            or (name.startswith("state-") and name.endswith(".npz"))
            or (name.startswith("features-") and name.endswith((".npy", ".json"))))


def remove_checkpoint_folder(folder):
    """Delete a checkpoint folder the gallery wrote: its own files, its workers' marked
    folders, then the folder if that left it empty. An unmarked folder is left alone."""
    folder = pathlib.Path(folder)
    if not is_checkpoint_folder(folder):
        return
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            if path.name.startswith("worker-"):
                remove_checkpoint_folder(path)
        elif _checkpoint_file(path.name):
            path.unlink(missing_ok=True)
    if not any(folder.iterdir()):
        folder.rmdir()


# -- finished runs and their replacement -------------------------------------------------
def write_run_manifest(folder):
    """List every entry of a just-finished run folder as written by the gallery."""
    folder = pathlib.Path(folder)
    names = sorted(n for n in entry_names(folder) if n != RUN_MANIFEST and not _our_temporary(n))
    write_json(folder / RUN_MANIFEST, {"written_by": "rnn-gallery", "entries": names})


def finished_run_entries(folder):
    """The entries a finished run of ours wrote into ``folder``, or ``None`` when
    ``folder`` is not provably one."""
    folder = pathlib.Path(folder)
    try:
        manifest = json.loads((folder / RUN_MANIFEST).read_text())
        entries = manifest["entries"]
        if isinstance(entries, list) and all(isinstance(name, str) for name in entries):
            return set(entries) | {RUN_MANIFEST}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    names = entry_names(folder)  # a run folder of a gallery older than the manifest
    if {"model.keras", "meta.json"} <= names and names <= RUN_ENTRIES:
        return names
    return None


def check_run_folder(folder, overwrite=False):
    """How training may use ``folder`` (``--out``): ``"new"`` (absent or empty),
    ``"resume"`` (an unfinished run of ours), ``"replace"`` (a finished run of ours,
    with ``overwrite``). Anything else, and any folder inside the presets folder,
    raises a one-line ``GalleryError``."""
    folder = pathlib.Path(folder)
    if is_inside_presets(folder):  # the package's presets: `gallery presets build` only
        raise GalleryError(f"--out {folder} is inside the presets folder {presets_root()}, "
                           "which only `gallery presets build` writes; choose another --out")
    if not folder.exists():
        return "new"
    if not folder.is_dir():
        raise GalleryError(f"--out {folder} is a file; expected a run folder")
    names = {n for n in entry_names(folder) if not _our_temporary(n)}
    if not names:
        return "new"
    if "checkpoint" in names and is_checkpoint_folder(folder / "checkpoint"):
        # an unfinished run: what training has written so far, TensorBoard's logs among it
        foreign = names - RUN_ENTRIES - {"checkpoint", RUN_MANIFEST, TENSORBOARD_LOGS}
        if not foreign:
            return "resume"
    else:
        ours = finished_run_entries(folder)
        foreign = names - ours if ours is not None else names
        if not foreign:
            if not overwrite:
                raise GalleryError(f"--out {folder} holds a finished run; pass --overwrite to "
                                   "replace it (the old run is kept until the new one is "
                                   "complete), or choose another --out")
            return "replace"
    raise GalleryError(f"--out {folder} holds files the gallery did not write "
                       f"({short_listing(foreign)}); choose a new or empty folder")


def staging_folder(target):
    """Where a run that will replace the finished run ``target`` is trained: a hidden
    sibling, the same for the same ``target`` (a killed replacement resumes there)."""
    target = pathlib.Path(target)
    return target.parent / f".{target.name}.new"


def swap_in_run(new, target):
    """Put the finished run ``new`` at ``target`` and delete the old run there, which
    must still hold only what the gallery wrote (else both are kept, and said so)."""
    new, target = pathlib.Path(new), pathlib.Path(target)
    ours = finished_run_entries(target)
    foreign = entry_names(target) - ours if ours is not None else entry_names(target)
    if foreign:
        raise GalleryError(f"the new run is complete in {new}, but {target} now holds files "
                           f"the gallery did not write ({short_listing(foreign)}); both are kept")
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    os.rename(target, old)
    os.rename(new, target)
    for name in ours:
        path = old / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    remove_checkpoint_folder(old / "checkpoint")
    if not any(old.iterdir()):
        old.rmdir()
    return target
