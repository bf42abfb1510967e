"""ActRecTut arm gestures: one long real stream with a label for every sample.

The "Activity Recognition Tutorial" gesture data (Bulling, Blanke and Schiele, ACM
Computing Surveys 2014): three inertial sensors on the right hand, lower arm and
upper arm (3-D acceleration + 2-D gyroscope each: 15 channels) at 32 Hz, a subject
performing 11 gestures (open/close window, drink, water a plant, cut, chop, stir,
read a book, forehand, backhand, smash) separated by NULL. ``--data actrectut:PATH``
where PATH is a ``subjectN_gesture.mat`` file (``data (T, 15)``, ``labels (T, 1)``
with 1 = NULL) or the folder holding ``subject1_gesture.mat``; class names come from
``information_gesture.mat`` beside it. Reading ``.mat`` files needs SciPy.

Split in time, as the benchmark asks: the first 70 % of the stream is for training
(of it, the last 10 % of the whole stream validates), the last 30 % tests. Training
sees random windows of ``window`` samples (new ones every epoch, from ``(seed,
epoch)``); the test stream is labelled in overlapping windows stitched back together
(``window``, ``window_hop``).
"""

import pathlib

import numpy as np

from gallery.errors import GalleryError
from gallery.task import Splits

from .streams import Streams

TRAIN_END, VALIDATION_START = 0.7, 0.6


def _loadmat(path):
    try:
        from scipy.io import loadmat
    except ImportError:
        raise GalleryError("reading ActRecTut .mat files needs SciPy: pip install scipy") from None
    try:
        return loadmat(str(path))
    except Exception as error:  # scipy raises several kinds for a bad file
        raise GalleryError(f"cannot read {path} as a MATLAB file: {error}") from None


def read_actrectut(path):
    """``(frames (T, 15) float32, labels (T,) str, names [K])`` of one subject."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "subject1_gesture.mat"
    if not path.is_file():
        raise GalleryError(f"{path} does not exist (expected an ActRecTut subjectN_gesture.mat "
                           "file or the folder holding subject1_gesture.mat)")
    content = _loadmat(path)
    if "data" not in content or "labels" not in content:
        raise GalleryError(f"{path} holds no 'data' and 'labels' arrays")
    frames = np.asarray(content["data"], np.float32)
    ids = np.asarray(content["labels"]).reshape(-1).astype(int)
    if frames.ndim != 2 or len(frames) != len(ids) or len(ids) < 100:
        raise GalleryError(f"{path}: 'data' must be (T, C) with one label per row")
    info = path.parent / "information_gesture.mat"
    if info.is_file():
        names = [str(np.asarray(n).reshape(-1)[0]) for n in
                 np.asarray(_loadmat(info)["labelnames"]).reshape(-1)]
    else:
        names = []
    names += [f"class {k}" for k in range(len(names) + 1, ids.max() + 1)]
    return frames, np.array(names)[ids - 1], names


def random_windows(frames, labels, window, count, seed):
    """``count`` windows of ``window`` samples at random places (seeded)."""
    rng = np.random.default_rng(seed)
    window = min(window, len(frames))
    starts = rng.integers(0, len(frames) - window + 1, size=count)
    return Streams([frames[s:s + window] for s in starts], [labels[s:s + window] for s in starts])


def tiled_windows(frames, labels, window):
    """Back-to-back windows covering the stream (the last one may be shorter)."""
    starts = range(0, len(frames), window)
    return Streams([frames[s:s + window] for s in starts], [labels[s:s + window] for s in starts])


def load_actrectut(config, path):
    frames, labels, names = read_actrectut(path)
    total = len(frames)
    validation_start, train_end = int(VALIDATION_START * total), int(TRAIN_END * total)
    window = config.window or 256
    fit_frames, fit_labels = frames[:validation_start], labels[:validation_start]
    train = random_windows(fit_frames, fit_labels, window, config.train_streams, config.seed)
    train.fresh = lambda epoch: random_windows(fit_frames, fit_labels, window,
                                               config.train_streams, [config.seed, epoch])
    validation = tiled_windows(frames[validation_start:train_end],
                               labels[validation_start:train_end], window)
    test = Streams([frames[train_end:]], [labels[train_end:]])
    meta = {"labels": sorted(set(names)), "channels": int(frames.shape[1]),
            "mean": fit_frames.mean(axis=0).tolist(),
            "std": (fit_frames.std(axis=0) + 1e-6).tolist(),
            "source": f"actrectut:{path}"}
    return Splits(train, validation, test, meta)
