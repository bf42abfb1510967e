"""Where presets live and how one is checked before use (``preset:NAME``).

A preset is a trained default run shipped as package data: the folder
``gallery/preset-files/NAME/`` (or ``$GALLERY_PRESETS_DIR/NAME/``) holds what
:func:`gallery.runs.load_run` reads (``model.keras``, ``config.json``, ``meta.json``,
``metrics.json``) and ``card.json``, its model card, written last by ``gallery presets
build`` (:mod:`gallery.presets`). The card is also the gallery's mark on the folder:

* ``"written_by": "rnn-gallery"`` and ``"format"`` (:data:`FORMAT`), the layout of
  the folder, and ``"gallery_version"``, the version that wrote it;
* ``"files"``: ``{name: {"sha256": ..., "bytes": ...}}`` of every other file.

:func:`preset_folder` checks all of that before a preset is used; a missing preset, a
damaged file, an unreadable card or a card of another gallery version or format is
refused in one line naming the preset and ``make presets``. Nothing here imports
Keras or a task: :mod:`gallery.runs` asks this module where ``preset:NAME`` is.
"""

import hashlib
import importlib.metadata
import json
import os
import pathlib
import re

from gallery.errors import GalleryError

PREFIX = "preset:"
#: Set to a folder of presets to use those instead of the package's (tests, a build
#: kept apart from the installed gallery).
ROOT_ENV = "GALLERY_PRESETS_DIR"
#: Package data (pyproject.toml); a hyphen, so that no tool takes it for a package.
PACKAGE_ROOT = pathlib.Path(__file__).parent / "preset-files"
CARD = "card.json"
WRITTEN_BY = "rnn-gallery"
#: The layout of a preset folder and its card; a change that older code cannot read
#: raises it (older presets are then refused, not misread).
FORMAT = 1
#: What :func:`gallery.runs.load_run` needs; every preset holds these and its card.
RUN_FILES = ("model.keras", "config.json", "meta.json", "metrics.json")
REBUILD = "rebuild the presets with `make presets`"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def presets_root():
    """The folder holding the presets: ``$GALLERY_PRESETS_DIR`` if set, else the
    package's ``gallery/preset-files``."""
    override = os.environ.get(ROOT_ENV)
    return pathlib.Path(override) if override else PACKAGE_ROOT


def gallery_version():
    """The installed rnn-gallery's version (its package metadata)."""
    try:
        return importlib.metadata.version("rnn-gallery")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def is_preset_reference(text):
    """Whether ``text`` (a ``--model``/``--from`` value) names a preset: ``preset:NAME``."""
    return isinstance(text, str) and text.startswith(PREFIX)


def preset_name(reference):
    """``"sentiment"`` from ``"preset:sentiment"`` (a one-line error for a bad name)."""
    name = reference[len(PREFIX):] if is_preset_reference(reference) else reference
    if not _NAME.fullmatch(name):
        raise GalleryError(f"{reference!r} is not a preset name (preset:NAME, NAME in "
                           "lower-case letters, digits, '_' and '-')")
    return name


def file_digest(path):
    """The sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def available():
    """Names of the folders under :func:`presets_root` that hold a card, sorted."""
    root = presets_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / CARD).is_file())


def read_card(folder, name=None):
    """The card of the preset folder ``folder`` as a dict, checked to be one of ours,
    of this format and this gallery version; one-line error otherwise."""
    folder = pathlib.Path(folder)
    name = name or folder.name
    try:
        card = json.loads((folder / CARD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GalleryError(f"preset {name!r} has no {CARD} in {folder}; {REBUILD}") from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        raise GalleryError(f"preset {name!r}: its {CARD} is damaged ({reason}); "
                           f"{REBUILD}") from None
    if not isinstance(card, dict) or card.get("written_by") != WRITTEN_BY or \
            not isinstance(card.get("files"), dict):
        raise GalleryError(f"preset {name!r}: its {CARD} is not a card the gallery wrote; "
                           f"{REBUILD}")
    built = (card.get("gallery_version"), card.get("format"))
    if built != (gallery_version(), FORMAT):
        raise GalleryError(f"preset {name!r} was built by rnn-gallery {built[0]} (preset "
                           f"format {built[1]}); this is rnn-gallery {gallery_version()} "
                           f"(format {FORMAT}): {REBUILD}")
    return card


def check_files(folder, card, name=None):
    """Every file the card lists is there with its checksum, and the run files are
    among them; a one-line error naming the first file that is not."""
    folder = pathlib.Path(folder)
    name = name or folder.name
    files = card["files"]
    for required in RUN_FILES:
        if required not in files:
            raise GalleryError(f"preset {name!r}: its card lists no {required}; {REBUILD}")
    for file_name, facts in sorted(files.items()):
        path = folder / file_name
        if "/" in file_name or file_name.startswith(".") or not path.is_file():
            raise GalleryError(f"preset {name!r}: {file_name} is missing; {REBUILD}")
        expected = facts.get("sha256") if isinstance(facts, dict) else None
        if file_digest(path) != expected:
            raise GalleryError(f"preset {name!r}: {file_name} is damaged (its sha256 differs "
                               f"from the card's); {REBUILD}")


def checked_preset(reference):
    """``(folder, card)`` of the preset ``reference`` (``preset:NAME`` or ``NAME``),
    checked: the folder exists, its card is ours and of this version, every file
    matches its checksum."""
    name = preset_name(reference)
    folder = presets_root() / name
    if not folder.is_dir():
        known = ", ".join(available()) or "none are built"
        raise GalleryError(f"no preset {name!r} in {presets_root()} (presets: {known}); "
                           f"build them with `make presets`")
    card = read_card(folder, name)
    check_files(folder, card, name)
    return folder, card


def preset_folder(reference):
    """The checked folder of the preset ``reference`` (:func:`checked_preset`)."""
    return checked_preset(reference)[0]


def is_inside_presets(path):
    """Whether ``path`` is the presets folder or inside it (where nothing but ``gallery
    presets build`` may write)."""
    path = pathlib.Path(path).resolve()
    for root in {presets_root().resolve(), PACKAGE_ROOT.resolve()}:
        if path == root or root in path.parents:
            return True
    return False
