"""Export folders: ``gallery export`` replaces only what it can prove it wrote.

The proofs (anything else is refused in one line, and left as it was):

* a **SavedModel version folder** holds ``saved_model.pb`` and nothing but the
  entries a SavedModel has (:data:`SAVED_MODEL_ENTRIES`);
* an **export staging folder** holds ``.gallery-staging``.

(Run and checkpoint folders: :mod:`gallery.runs`.)
"""

import pathlib

from gallery.errors import GalleryError
from gallery.runs import entry_names, short_listing

STAGING_MARK = ".gallery-staging"
SAVED_MODEL_ENTRIES = {"saved_model.pb", "saved_model.pbtxt", "fingerprint.pb",
                       "keras_metadata.pb", "variables", "assets",
                       "assets.extra"}  # TF Serving's extras; the demo's web examples


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
    names = entry_names(out_dir)
    if names and not ("saved_model.pb" in names and names <= SAVED_MODEL_ENTRIES):
        raise GalleryError(f"--out {out_dir} is not a SavedModel version folder (it holds "
                           f"{short_listing(names)}); --overwrite replaces only an earlier export "
                           "(a folder with saved_model.pb) or an empty folder")


def mark_staging(folder):
    (pathlib.Path(folder) / STAGING_MARK).write_text("rnn-gallery export in progress\n")


def is_staging_folder(folder):
    folder = pathlib.Path(folder)
    return folder.is_dir() and not folder.is_symlink() and (folder / STAGING_MARK).is_file()
