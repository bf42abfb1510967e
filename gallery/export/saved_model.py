"""SavedModel export with a ``serving_default`` signature over raw inputs.

The export is written to a temporary folder beside the target and renamed into
place, so an interrupted export never leaves a half-written version folder. An
existing version is kept unless ``overwrite=True``, and even then only an earlier
export (a folder with ``saved_model.pb``) or an empty folder is replaced
(``gallery.export_folders.check_export_target``).
"""

import json
import os
import pathlib
import shutil
import tempfile

import keras

from gallery.errors import GalleryError
from gallery.export_folders import check_export_target, is_staging_folder, mark_staging
from gallery.serving.model import MISSING_SIGNATURES, read_signature_defs


def _remove_abandoned_staging(parent, name):
    """Delete staging folders of exports whose process died (e.g. killed mid-export);
    only folders carrying the staging mark, which the gallery writes."""
    for folder in parent.glob(f".{name}-*"):
        if not is_staging_folder(folder):
            continue
        try:
            pid = int(folder.name.split("-")[1])
            os.kill(pid, 0)  # still running: leave it alone
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


def export_saved_model(task, config, model, meta, out_dir, overwrite=False):
    """Write ``model`` as a SavedModel at ``out_dir``; return the path.

    The SavedModel is written into ``.NAME-PID-*`` beside ``out_dir`` and renamed into
    place; with ``overwrite``, the old version is renamed away first and deleted last,
    so ``out_dir`` is at every moment either absent, the old export or the new one.
    """
    out_dir = pathlib.Path(out_dir)
    check_export_target(out_dir, overwrite)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_staging(out_dir.parent, out_dir.name)
        staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-{os.getpid()}-",
                                                dir=out_dir.parent))
        mark_staging(staging)
    except OSError as error:
        raise GalleryError(f"cannot write {out_dir}: {error.strerror or error}") from None
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        endpoints = {"serving_default": task.serving_function(config, model, meta),
                     **task.extra_endpoints(config, model, meta)}
        for name, function in endpoints.items():
            # Lookup tables a function uses outside the model: ``function.resources``.
            for resource in getattr(function, "resources", ()):
                archive.track(resource)
            archive.add_endpoint(name, function)
        archive.write_out(str(staging / "model"), verbose=False)
        missing = task.missing_endpoints(config, model, meta)
        if missing:  # read by gallery serve (gallery.serving.model.MISSING_SIGNATURES)
            (staging / "model" / "assets.extra").mkdir(exist_ok=True)
            (staging / "model" / MISSING_SIGNATURES).write_text(json.dumps(missing) + "\n")
        check_export_target(out_dir, overwrite)  # nothing foreign appeared meanwhile
        if out_dir.exists():
            out_dir.rename(staging / "old")
        (staging / "model").rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def signature_names(path):
    """The signature names of the SavedModel at ``path`` as its ``saved_model.pb``
    holds them: ``serving_default`` first, then the others sorted (TensorFlow's own
    ``__saved_model_init_op`` left out)."""
    names = set(read_signature_defs(pathlib.Path(path) / "saved_model.pb"))
    names.discard("__saved_model_init_op")
    return sorted(names, key=lambda name: (name != "serving_default", name))
