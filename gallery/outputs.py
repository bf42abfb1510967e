"""Output folders: the gallery replaces or deletes only what it can prove it wrote.

The proofs:

* a **finished run folder** holds ``.gallery-run.json``, written last by training:
  the list of every entry the run wrote (run folders of older galleries, written
  before the list existed, are recognised by holding ``model.keras`` and
  ``meta.json`` and nothing but the names training writes);
* a **checkpoint folder** holds ``.gallery-checkpoint``, written when the folder is
  created; only files named as checkpoints write them are ever deleted from it;
* a **SavedModel version folder** holds ``saved_model.pb`` and nothing but the
  entries a SavedModel has;
* an **export staging folder** holds ``.gallery-staging``.

Anything else (a user's notes, a folder of exports, a folder that merely has a
familiar name) is refused in one line, and left as it was.
"""

import json
import os
import pathlib
import shutil

from gallery.errors import GalleryError

RUN_MANIFEST = ".gallery-run.json"
CHECKPOINT_MARK = ".gallery-checkpoint"
STAGING_MARK = ".gallery-staging"
SAVED_MODEL_ENTRIES = {"saved_model.pb", "saved_model.pbtxt", "fingerprint.pb",
                       "keras_metadata.pb", "variables", "assets",
                       "assets.extra"}  # TF Serving's extras; the demo's web examples
TENSORBOARD_LOGS = "logs"  # written from the first epoch on; the manifest lists it when done
#: What training writes into a run folder (besides the manifest and ``checkpoint``).
RUN_ENTRIES = {"model.keras", "config.json", "meta.json", "metrics.json", "history.json",
               "training_curves.png", "timeline.png", "attention.png", "samples.txt",
               "test_captions.png"}


def _names(folder):
    return {path.name for path in pathlib.Path(folder).iterdir()}


def _listing(names, limit=4):
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _our_temporary(name):
    """Names of half-written files our atomic writes and write probes leave when killed."""
    return (name.startswith((".write-test-", ".tmp-")) or
            (name.startswith(".") and name.endswith(".tmp")))


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
            or (name.startswith("state-") and name.endswith(".npz")))


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


# -- run folders -------------------------------------------------------------------------
def write_run_manifest(folder):
    """List every entry of a just-finished run folder as written by the gallery."""
    from gallery.runs import write_json

    folder = pathlib.Path(folder)
    names = sorted(n for n in _names(folder) if n != RUN_MANIFEST and not _our_temporary(n))
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
    names = _names(folder)  # a run folder of a gallery older than the manifest
    if {"model.keras", "meta.json"} <= names and names <= RUN_ENTRIES:
        return names
    return None


def check_run_folder(folder, overwrite=False):
    """How training may use ``folder`` (``--out``): ``"new"`` (absent or empty),
    ``"resume"`` (an unfinished run of ours), ``"replace"`` (a finished run of ours,
    with ``overwrite``). Anything else raises a one-line ``GalleryError``."""
    folder = pathlib.Path(folder)
    if not folder.exists():
        return "new"
    if not folder.is_dir():
        raise GalleryError(f"--out {folder} is a file; expected a run folder")
    names = {n for n in _names(folder) if not _our_temporary(n)}
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
                       f"({_listing(foreign)}); choose a new or empty folder")


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
    foreign = _names(target) - ours if ours is not None else _names(target)
    if foreign:
        raise GalleryError(f"the new run is complete in {new}, but {target} now holds files "
                           f"the gallery did not write ({_listing(foreign)}); both are kept")
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


# -- exports -----------------------------------------------------------------------------
def check_export_target(out_dir, overwrite):
    """Refuse (one line) to export over anything but nothing, an empty folder or, with
    ``overwrite``, an earlier SavedModel."""
    out_dir = pathlib.Path(out_dir)
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if not overwrite:
        raise GalleryError(f"{out_dir} exists; choose a new version folder or pass --overwrite")
    if out_dir.is_symlink() or not out_dir.is_dir():
        raise GalleryError(f"--out {out_dir} is not a folder; --overwrite replaces only an "
                           "earlier export (a folder with saved_model.pb) or an empty folder")
    names = _names(out_dir)
    if names and not ("saved_model.pb" in names and names <= SAVED_MODEL_ENTRIES):
        raise GalleryError(f"--out {out_dir} is not a SavedModel version folder (it holds "
                           f"{_listing(names)}); --overwrite replaces only an earlier export "
                           "(a folder with saved_model.pb) or an empty folder")


def mark_staging(folder):
    (pathlib.Path(folder) / STAGING_MARK).write_text("rnn-gallery export in progress\n")


def is_staging_folder(folder):
    folder = pathlib.Path(folder)
    return folder.is_dir() and not folder.is_symlink() and (folder / STAGING_MARK).is_file()
