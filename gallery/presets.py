"""Presets: each task's trained default run, shipped with the gallery, loaded by name.

``gallery.presets.load("sentiment")`` is the Keras model of the preset; everywhere a
run folder is taken, ``preset:NAME`` names one (``gallery predict sentiment
--model preset:sentiment``; :func:`gallery.runs.load_run` resolves it, after
:mod:`gallery.preset_store` has checked its card and checksums).

``gallery presets build`` (``make presets``) makes them: for each task it trains the
default run from scratch (:func:`gallery.training.train`, into a temporary run
folder), lets the task make the model smaller without changing its outputs on the
data (:meth:`gallery.task.Task.preset_model`, e.g. sentiment's vocabulary cut to the
words of its data), stores the weights as float16 when the test metric of the stored
model stays within :data:`FLOAT16_TOLERANCE` of the float32 one, evaluates the stored
model on the test split, and writes the preset folder beside the presets, then renames
it into place. Only a folder carrying a card the gallery wrote is ever replaced.
"""

import dataclasses
import datetime
import importlib.metadata
import io
import os
import pathlib
import subprocess
import tempfile
import time
import zipfile

import h5py
import numpy as np

from gallery.errors import GalleryError
from gallery.preset_metrics import measure, slice_facts
from gallery.preset_store import (
    CARD,
    FORMAT,
    PREFIX,
    RUN_FILES,
    WRITTEN_BY,
    available,
    file_digest,
    gallery_version,
    preset_name,
    presets_root,
    read_card,
)
from gallery.profiles import make_config
from gallery.registry import get_task, task_names
from gallery.runs import entry_names, load_run, read_json, write_json
from gallery.training import train

#: float16 weights are kept when the stored model's test metric is within this of
#: the float32 model's (in the metric's own units: accuracy, exact match, bits/char).
FLOAT16_TOLERANCE = 0.002
#: What all presets together may weigh: package data that every install downloads.
BUDGET_BYTES = 25_000_000
_FLOAT16_MAX = 65504.0  # larger values would become inf: such arrays stay float32
_STAGED_NAMES = {*RUN_FILES, CARD, ".tmp-model.keras"}


def load(name):
    """The Keras model of preset ``name`` (end to end: raw inputs → outputs), ready for
    ``predict``, and for ``fit`` once compiled (``gallery finetune --from preset:NAME``
    trains it as the task does)."""
    return load_run(PREFIX + preset_name(name))[2]


# -- the stored model ----------------------------------------------------------------------
def _cast_weights(h5_bytes, dtype):
    """A Keras weights file (``model.weights.h5`` bytes) with every float32 array stored
    as ``dtype``; Keras casts to the variables' dtype when it loads them."""
    source = h5py.File(io.BytesIO(h5_bytes), "r")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as out:
        out.attrs.update(source.attrs)

        def copy(name, item):
            if isinstance(item, h5py.Group):
                out.require_group(name).attrs.update(item.attrs)
                return
            data = item[()]
            if isinstance(data, np.ndarray) and data.dtype == np.float32 and \
                    np.all(np.abs(data[np.isfinite(data)]) <= _FLOAT16_MAX):
                data = data.astype(dtype)
            out.create_dataset(name, data=data).attrs.update(item.attrs)
        source.visititems(copy)
    source.close()
    return buffer.getvalue()


def save_preset_model(model, path, dtype="float16"):
    """``model`` as a ``.keras`` file at ``path`` with float32 weights stored as
    ``dtype``, compressed, members dated 1980-01-01 (the same weights give the same
    archive layout)."""
    path = pathlib.Path(path)
    plain = path.with_name(".tmp-model.keras")
    model.save(plain)
    with zipfile.ZipFile(plain) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    plain.unlink()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            if name.endswith(".weights.h5") and dtype != "float32":
                data = _cast_weights(data, dtype)
            archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data,
                             compress_type=zipfile.ZIP_DEFLATED)


# -- provenance ----------------------------------------------------------------------------
def _git(*args):
    """Output of ``git args`` in the gallery's source checkout, or ``None``."""
    try:
        done = subprocess.run(["git", "-C", str(pathlib.Path(__file__).parents[1]), *args],
                              capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _package_facts(name):
    """``{"name", "version", "licence"}`` of an installed package, from its metadata."""
    try:
        metadata = importlib.metadata.metadata(name)
    except importlib.metadata.PackageNotFoundError:
        return {"name": name, "version": None, "licence": "not installed"}
    licence = metadata.get("License-Expression") or (metadata.get("License") or "")
    licence = licence.strip().splitlines()[0] if licence.strip() else next(
        (c.split("::")[-1].strip() for c in metadata.get_all("Classifier") or []
         if c.startswith("License ::")), "not stated")
    return {"name": name, "version": metadata["Version"], "licence": licence}


def write_card(folder, name, task, command, run_metrics, values, dtype):
    """Write the card of preset ``name`` into ``folder`` (last: it lists and checksums
    every other file there)."""
    folder = pathlib.Path(folder)
    meta = read_json(folder / "meta.json")
    files = {path.name: {"sha256": file_digest(path), "bytes": path.stat().st_size}
             for path in sorted(folder.iterdir()) if path.name != CARD}
    status = _git("status", "--porcelain", "--untracked-files=no")
    card = {
        "written_by": WRITTEN_BY, "format": FORMAT, "gallery_version": gallery_version(),
        "name": name, "task": task.name, "summary": task.summary,
        "data": meta.get("source"),
        "data_licence": task.data_licence or "not stated by the task",
        "data_packages": [_package_facts(name) for name in task.data_packages],
        "command": command, "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(status) if status is not None else None,
        "split": "test", "metric": task.metric, "value": values["stored"],
        "value_float32": values["float32"], "value_trained_run": run_metrics[task.metric],
        "examples": values.get("examples"), "weights_dtype": dtype,
        # the fast check: the metric on the test split's first items (preset_metrics)
        **values["slice"],
        "train_seconds": run_metrics.get("train_seconds"),
        "epochs_run": run_metrics.get("epochs_run"),
        "bytes": sum(facts["bytes"] for facts in files.values()),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "files": files,
    }
    write_json(folder / CARD, card)
    return card


# -- preset folders: written beside, renamed into place ------------------------------------
def preset_entries(folder):
    """The entries of ``folder`` a preset build of ours wrote (its card's files and the
    card), or ``None`` when it carries no card of ours (whatever its version)."""
    try:
        card = read_json(pathlib.Path(folder) / CARD)
    except (OSError, ValueError):
        return None
    if not isinstance(card, dict) or card.get("written_by") != WRITTEN_BY or \
            not isinstance(card.get("files"), dict):
        return None
    return {name for name in card["files"] if isinstance(name, str) and "/" not in name} | {CARD}


def _staging(target):
    """A hidden sibling of ``target`` to write the new preset into: new, or left by a
    killed build (then holding nothing but what a build writes, which is removed)."""
    staging = target.parent / f".{target.name}.new"
    if staging.exists() or staging.is_symlink():
        if staging.is_symlink() or not staging.is_dir():
            raise GalleryError(f"{staging} is not a folder the gallery wrote; move it away")
        foreign = {n for n in entry_names(staging) if n not in _STAGED_NAMES and not
                   (n.startswith(".") and n.endswith(".tmp"))}  # write_json's half-written
        if foreign:
            raise GalleryError(f"{staging} holds files the gallery did not write; move it away")
        for name in entry_names(staging):
            (staging / name).unlink()
    staging.mkdir(parents=True, exist_ok=True)
    return staging


def _swap_in(staging, target):
    """Rename ``staging`` to ``target``; an old preset there (ours only) is removed."""
    if target.exists() or target.is_symlink():
        ours = preset_entries(target) if target.is_dir() and not target.is_symlink() else None
        foreign = entry_names(target) - ours if ours is not None else {target.name}
        if foreign:
            raise GalleryError(f"the new preset is complete in {staging}, but {target} holds "
                               "files the gallery did not write; both are kept")
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.rename(target, old)
        os.rename(staging, target)
        for name in ours:
            (old / name).unlink(missing_ok=True)
        old.rmdir()
    else:
        os.rename(staging, target)
    return target


# -- gallery presets build -----------------------------------------------------------------
def size_text(count):
    """``"16.9 MB"``, ``"57 kB"``: a size in bytes as the cards' table shows it (10^6)."""
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count / 1e3:.0f} kB"


def _minutes(seconds):
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def _stored_metrics(task, staging, splits):
    """The test metrics of the model stored in ``staging``, loaded as a user would,
    with deterministic kernels (as training and ``gallery evaluate`` measure), and the
    card's fields of the fast check (:func:`gallery.preset_metrics.slice_facts`)."""
    _, config, model, meta = load_run(staging)
    return (measure(task, config, model, meta, splits.test),
            slice_facts(task, config, model, meta, splits.test))


def build_preset(name, profile=None, root=None, verbose=None):
    """Train task ``name``'s default run (with ``profile``'s settings, if given) and
    write it as the preset ``root/name`` (default: :func:`presets_root`); return its
    card."""
    task = get_task(name)
    root = pathlib.Path(root or presets_root())
    command = f"gallery presets build --tasks {name}" + (f" --profile {profile}"
                                                         if profile else "")
    started = time.time()
    with tempfile.TemporaryDirectory(prefix=f"gallery-preset-{name}-") as work:
        config = make_config(task, profile)
        run_dir, run_metrics = train(task, config, out_dir=pathlib.Path(work) / "run",
                                     verbose=verbose)
        _, config, model, meta = load_run(run_dir)
        splits = task.load_data(config, meta.get("data"))
        smaller = task.preset_model(config, model, meta, splits)
        # the run's own test metric is the float32 model's, unless the task changed it
        values = {"float32": run_metrics[task.metric] if smaller is model else
                  task.evaluate(config, smaller, splits.test, meta)[task.metric]}
        model = smaller
        root.mkdir(parents=True, exist_ok=True)
        staging = _staging(root / name)
        write_json(staging / "config.json", dataclasses.asdict(config))
        write_json(staging / "meta.json", meta)
        for dtype in ("float16", "float32"):
            save_preset_model(model, staging / "model.keras", dtype)
            metrics, fast_check = _stored_metrics(task, staging, splits)
            if abs(metrics[task.metric] - values["float32"]) <= FLOAT16_TOLERANCE:
                break
            print(f"[presets] {name}: float16 weights give {task.metric} "
                  f"{metrics[task.metric]:.4f}, float32 {values['float32']:.4f}: "
                  "storing float32", flush=True)
        values.update(stored=metrics[task.metric], examples=metrics.get("examples"),
                      slice=fast_check)
        write_json(staging / "metrics.json", {
            **metrics, "train_seconds": run_metrics.get("train_seconds"),
            "epochs_run": run_metrics.get("epochs_run")})
        card = write_card(staging, name, task, command, run_metrics, values, dtype)
        target = _swap_in(staging, root / name)
    print(f"[presets] {name}: test {task.metric} {card['value']:.4f} ({dtype} weights, "
          f"{size_text(card['bytes'])}) in {target} ({_minutes(time.time() - started)})",
          flush=True)
    return card


def build(tasks=None, profile=None, root=None, verbose=None):
    """Build the presets of ``tasks`` (default: every registered task), one after the
    other; return their cards."""
    names = tasks or task_names()
    for name in names:  # an unknown task fails before anything is trained
        get_task(name)
        preset_name(name)
    cards = []
    for number, name in enumerate(names, 1):
        print(f"[presets] {name} ({number}/{len(names)}): training its default run "
              f"from scratch{f' (profile {profile})' if profile else ''}", flush=True)
        cards.append(build_preset(name, profile, root, verbose))
    total = total_bytes(root)
    if total > BUDGET_BYTES:
        print(f"[presets] all presets take {size_text(total)}, more than the "
              f"{size_text(BUDGET_BYTES)} they may take together", flush=True)
    return cards


# -- gallery presets list ------------------------------------------------------------------
def cards():
    """``{name: card or GalleryError}`` of every preset under :func:`presets_root`."""
    found = {}
    for name in available():
        try:
            found[name] = read_card(presets_root() / name, name)
        except GalleryError as error:
            found[name] = error
    return found


def total_bytes(root=None):
    """The bytes of every file in the preset folders under ``root`` (default:
    :func:`presets_root`), cards included."""
    root = pathlib.Path(root or presets_root())
    return sum(path.stat().st_size for path in root.glob("*/*")
               if path.is_file() and not path.parent.name.startswith("."))


def table():
    """The cards as a table: preset, task, metric, value, size, date."""
    found = cards()
    if not found:
        return f"no presets in {presets_root()}; build them with `make presets`"
    rows = [f"{'preset':15s} {'task':15s} {'metric':14s} {'value':>8s} {'size':>9s}  date"]
    for name, card in found.items():
        if isinstance(card, GalleryError):
            rows.append(f"{name:15s} refused: {card}")
            continue
        rows.append(f"{name:15s} {card['task']:15s} {card['metric']:14s} "
                    f"{card['value']:8.4f} {size_text(card['bytes']):>9s}  "
                    f"{card['date'][:10]}")
    rows.append(f"{'all':55s} {size_text(total_bytes()):>9s}  (at most "
                f"{size_text(BUDGET_BYTES)})")
    return "\n".join(rows)
