"""Photo captioning data: a folder of photos with several captions each.

``--data flickr8k:DIR``: the Flickr8k layout (Hodosh et al. 2013): ``DIR/images/``,
``DIR/captions.txt`` (CSV ``image,caption``, five captions per image) and the split
lists ``Flickr_8k.trainImages.txt``, ``Flickr_8k.devImages.txt`` (and, when present,
``Flickr_8k.testImages.txt``; without it the development split is also the test split,
which is how this gallery reports its Flickr8k numbers).

``--data captions:DIR``: any folder of photos with ``captions.txt``, ``.csv`` or
``.tsv`` (columns ``image`` and ``caption``, any order, one caption a row; an image may
have several rows). Images are looked up in ``DIR`` and then ``DIR/images``. Split
lists ``train.txt``, ``dev.txt`` and ``test.txt`` (one image name a line) are used when
present; otherwise the images are split 80/10/10 by a seeded draw (``seed`` of the
settings does not change it: the same folder gives the same split on any machine).

Each split is a :class:`Photos`: image paths, every caption of each image, and (after
``gallery.data.feature_cache``) the frozen encoder's features of each image.
Bad input (a missing, empty or unreadable image; no ``image``/``caption`` columns; an
image over Pillow's pixel limit) is one ``GalleryError`` line, before anything is written.
"""

import dataclasses
import pathlib
import warnings

import numpy as np

from gallery.data.files import require_folder
from gallery.data.text import csv_rows
from gallery.errors import GalleryError
from gallery.task import Splits

CAPTION_FILES = ("captions.txt", "captions.csv", "captions.tsv")
FLICKR8K_LISTS = ("Flickr_8k.trainImages.txt", "Flickr_8k.devImages.txt",
                  "Flickr_8k.testImages.txt")
FOLDER_LISTS = ("train.txt", "dev.txt", "test.txt")
SPLIT_SEED = 20261203


@dataclasses.dataclass
class Photos:
    """``paths`` of the images, ``references[i]``: every caption of image ``i``;
    ``features (N, S, D)`` once computed (float16, ``gallery.data.feature_cache``)."""

    paths: list
    references: list
    features: object = None

    def __len__(self):
        return len(self.paths)

    def subset(self, index):
        return Photos([self.paths[i] for i in index], [self.references[i] for i in index],
                      None if self.features is None else self.features[index])


def _is_file(path):
    try:
        return path.is_file()
    except OSError:  # a name the file system cannot hold: a missing image
        return False


def check_photo(path):
    """``GalleryError`` unless ``path`` opens as an image within Pillow's pixel limit
    (reads the header only)."""
    from PIL import Image

    if path.stat().st_size == 0:
        raise GalleryError(f"{path} is empty (0 bytes), not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as picture:
                picture.size  # noqa: B018 - the header is parsed by open
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise GalleryError(f"{path} has more than {Image.MAX_IMAGE_PIXELS:,} pixels (Pillow's "
                           "limit against decompression bombs); scale it down first") from None
    except Exception as error:  # Pillow raises many kinds for foreign data
        reason = str(error).splitlines()[0] if str(error).strip() else type(error).__name__
        raise GalleryError(f"{path} is not a readable image ({reason})") from None


def read_caption_rows(listing):
    """``{image name: [captions]}`` in file order from a CSV/TSV with ``image`` and
    ``caption`` columns."""
    rows, header = {}, None
    for number, fields in csv_rows(listing, columns=("image", "caption")):
        if header is None:
            names = [f.strip().lower() for f in fields]
            if "image" not in names or "caption" not in names:
                raise GalleryError(f"{listing}: the first line must name the columns 'image' "
                                   f"and 'caption'; it has {names[:6]}")
            header = (names.index("image"), names.index("caption"))
            continue
        if not any(f.strip() for f in fields):
            continue
        if len(fields) <= max(header):
            raise GalleryError(f"{listing}:{number}: expected an image and a caption")
        name, caption = fields[header[0]].strip(), " ".join(fields[header[1]].split())
        if not name or not caption:
            raise GalleryError(f"{listing}:{number}: an empty image name or caption")
        rows.setdefault(name, []).append(caption)
    if not rows:
        raise GalleryError(f"{listing} has no captions")
    return rows


def _image_path(folder, name):
    for base in (folder, folder / "images"):
        path = base / name
        if _is_file(path):
            return path
    return None


def read_photo_folder(folder, lists=FOLDER_LISTS):
    """``(Photos of all images, {split: [names]} or None)`` of a captions folder."""
    folder = require_folder(pathlib.Path(folder), "captions folder")
    found = [folder / n for n in CAPTION_FILES if (folder / n).is_file()]
    if not found:
        raise GalleryError(f"{folder} needs a captions file ({', '.join(CAPTION_FILES)}) "
                           "with the columns image and caption")
    rows = read_caption_rows(found[0])
    paths, missing = [], []
    for name in rows:
        path = _image_path(folder, name)
        if path is None:
            missing.append(name)
        else:
            paths.append(path)
    if missing:
        raise GalleryError(f"{found[0].name} names {len(missing)} missing image(s), "
                           f"e.g. {', '.join(missing[:3])}")
    for path in paths:
        check_photo(path)
    data = Photos(paths, list(rows.values()))
    named = {}
    for split, listing in zip(("train", "dev", "test"), lists):
        if (folder / listing).is_file():
            named[split] = [line.strip() for line in (folder / listing).read_text(
                encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return data, named or None


def split_photos(data, named, folder):
    """``(train, validation, test)``: by the split lists, or a seeded 80/10/10 draw."""
    if named is None:
        if len(data) < 3:
            raise GalleryError(f"{folder} has {len(data)} captioned image(s); need at least 3")
        order = np.random.default_rng(SPLIT_SEED).permutation(len(data))
        n_held = max(1, len(data) // 10)
        return (data.subset(order[2 * n_held:]), data.subset(order[:n_held]),
                data.subset(order[n_held:2 * n_held]))
    index = {path.name: i for i, path in enumerate(data.paths)}
    if "train" not in named or "dev" not in named:
        raise GalleryError(f"{folder}: split lists need at least the training and the "
                           "development list")
    parts = {}
    for split, names in named.items():
        unknown = [n for n in names if n not in index]
        if unknown:
            raise GalleryError(f"the {split} list of {folder} names {len(unknown)} image(s) "
                               f"without captions, e.g. {', '.join(unknown[:3])}")
        parts[split] = data.subset([index[n] for n in names])
    return parts["train"], parts["dev"], parts.get("test", parts["dev"])


def load_photo_data(kind, value):
    """``Splits`` of ``flickr8k:DIR`` or ``captions:DIR``."""
    folder = pathlib.Path(value)
    lists = FLICKR8K_LISTS if kind == "flickr8k" else FOLDER_LISTS
    data, named = read_photo_folder(folder, lists)
    if kind == "flickr8k" and named is None:
        raise GalleryError(f"{folder} is no Flickr8k folder: {FLICKR8K_LISTS[0]} is missing "
                           "(use --data captions:DIR for any folder of captioned photos)")
    train, validation, test = split_photos(data, named, folder)
    test_is_dev = named is not None and "test" not in named
    return Splits(train, validation, test, {
        "source": f"{kind}:{folder}", "photos": True,
        "test_split": "development" if test_is_dev else "test"})
