"""MkDocs hook: adds ``reference/settings.md``, generated from the config dataclasses
by ``tools/settings_reference.py`` at every build (never written by hand)."""

import os
import sys

from mkdocs.structure.files import File

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import settings_reference  # noqa: E402  (beside this file, not a package)

URI = "reference/settings.md"


def on_files(files, config):
    files.append(File.generated(config, URI, content=settings_reference.render()))
    return files
