"""SavedModels of the presets, for ``gallery serve --presets``: what the web page shows
without training anything.

Each preset is exported once to ``FOLDER/exports/NAME/1`` (the layout ``gallery demo``
writes, so :func:`gallery.serving.ui.demo_exports` finds them), with held-out examples
of its test split for the page beside it, and the preset it came from recorded in
``assets.extra/gallery_preset.json``: the next call reuses an export whose record
matches the preset's card (same ``model.keras`` checksum, same gallery version) and
exports again otherwise.
"""

import json
import pathlib

from gallery.errors import GalleryError
from gallery.export.saved_model import export_saved_model
from gallery.preset_store import PREFIX, available, checked_preset, presets_root
from gallery.runs import load_run
from gallery.serving.ui.examples import write_examples

DEFAULT_OUT = "runs/presets"
RECORD = pathlib.Path("assets.extra") / "gallery_preset.json"


def _record(name, card):
    return {"preset": name, "model_sha256": card["files"]["model.keras"]["sha256"],
            "gallery_version": card["gallery_version"]}


def _recorded(export_dir):
    try:
        return json.loads((export_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def export_folder(name, out_root=DEFAULT_OUT):
    """Where preset ``name`` is exported: ``out_root/exports/NAME/1``."""
    return pathlib.Path(out_root) / "exports" / name / "1"


def is_current(name, card, out_root=DEFAULT_OUT):
    """Whether the export of preset ``name`` under ``out_root`` was made from the preset
    that ``card`` describes (then :func:`export_preset` reuses it)."""
    export_dir = export_folder(name, out_root)
    return (export_dir / "saved_model.pb").is_file() and \
        _recorded(export_dir) == _record(name, card)


def export_preset(name, out_root=DEFAULT_OUT, run=None, splits=None):
    """The SavedModel of preset ``name`` at ``out_root/exports/NAME/1``: reused when it
    was exported from this very preset, else exported (over an earlier export only).
    ``run`` and ``splits``: the preset already loaded (``load_run``'s ``(task, config,
    model, meta)``) and its data, when the caller has them."""
    folder, card = checked_preset(PREFIX + name)  # card, version, checksums
    export_dir = export_folder(name, out_root)
    if is_current(name, card, out_root):
        return export_dir
    task, config, model, meta = run or load_run(folder)
    splits = splits or task.load_data(config, meta.get("data"))
    print(f"[presets] exporting {PREFIX}{name} to {export_dir}", flush=True)
    export_saved_model(task, config, model, meta, export_dir, overwrite=True)
    write_examples(export_dir, task.demo_request(splits), meta.get("labels"))  # web page
    (export_dir / RECORD).write_text(json.dumps(_record(name, card)) + "\n", encoding="utf-8")
    return export_dir


def export_presets(out_root=DEFAULT_OUT, names=None):
    """``{name: export folder}`` of every preset (or of ``names``); a one-line error
    when there are none."""
    names = names or available()
    if not names:
        raise GalleryError(f"no presets in {presets_root()}; build them with `make presets`")
    return {name: export_preset(name, out_root) for name in names}
