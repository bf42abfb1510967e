"""SavedModel export with a ``serving_default`` signature over raw inputs.

The export is written to a temporary folder beside the target and renamed into
place, so an interrupted export never leaves a half-written version folder. An
existing version is kept unless ``overwrite=True``.
"""

import pathlib
import shutil
import tempfile

import keras

from gallery.errors import GalleryError


def export_saved_model(task, config, model, meta, out_dir, overwrite=False):
    """Write ``model`` as a SavedModel at ``out_dir``; return the path."""
    out_dir = pathlib.Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise GalleryError(f"{out_dir} exists; choose a new version folder or pass --overwrite")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", task.serving_function(config, model, meta))
        archive.write_out(str(staging / "model"), verbose=False)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        (staging / "model").rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir
