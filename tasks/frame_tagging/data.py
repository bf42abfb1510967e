"""Activity streams stitched from real BasicMotions recordings (embedded default).

BasicMotions (the ``aeon`` wheel, ``datasets/data/BasicMotions/*.ts``, read as text,
never imported): a smart watch's 3-D accelerometer and 3-D gyroscope at 10 Hz, 40
training and 40 test recordings of 100 steps, four activities (standing, walking,
running, badminton). A *stream* joins random crops (``min_crop``–``max_crop`` steps)
of recordings of changing activity until it is ``min_length``–``max_length`` long;
every step is labelled with the activity it came from. Training and validation
streams use disjoint training recordings (32 / 8); test streams use only the test
recordings. Built deterministically from the seed.

Also ``--data DIR`` with ``*.npy`` or ``*.csv`` streams and labels (see README).
"""

import dataclasses

import numpy as np

from gallery.data.embedded import package_file
from gallery.data.sources import parse_source
from gallery.errors import GalleryError
from tasks.base import Splits

INSTALL = "pip install --no-deps aeon==1.6.0 (make does this)"


@dataclasses.dataclass
class Streams:
    frames: list   # (T_i, C) float32 arrays
    labels: list   # (T_i,) int arrays (index into meta["labels"])

    def __len__(self):
        return len(self.frames)


def read_ts(path):
    """A multivariate, equal-length ``.ts`` file → ``x (N, T, C)``, ``labels [N]``."""
    rows, labels, in_data = [], [], False
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        *dims, label = line.split(":")
        rows.append([[float(v) for v in d.split(",")] for d in dims])
        labels.append(label.strip())
    if not rows:
        raise GalleryError(f"{path} holds no @data rows")
    return np.asarray(rows, np.float32).transpose(0, 2, 1), labels


def basic_motions(part):
    return read_ts(package_file("aeon", f"datasets/data/BasicMotions/BasicMotions_{part}.ts",
                                INSTALL))


def stitch(recordings, classes, count, seed, config):
    """``count`` streams of crops of ``recordings (N, T, C)`` with class ids ``classes``."""
    rng = np.random.default_rng(seed)
    frames, labels = [], []
    for _ in range(count):
        length = int(rng.integers(config.min_length, config.max_length + 1))
        parts, tags, total, last = [], [], 0, -1
        while total < length:
            choices = np.flatnonzero(classes != last)
            pick = int(rng.choice(choices if len(choices) else np.arange(len(classes))))
            span = recordings.shape[1]
            crop = int(rng.integers(config.min_crop, min(config.max_crop, span) + 1))
            start = int(rng.integers(0, span - crop + 1))
            parts.append(recordings[pick, start:start + crop])
            tags.append(np.full(crop, classes[pick]))
            total, last = total + crop, classes[pick]
        frames.append(np.concatenate(parts)[:length])
        labels.append(np.concatenate(tags)[:length])
    return Streams(frames, labels)


def load_motions(config):
    x_train, y_train = basic_motions("TRAIN")
    x_test, y_test = basic_motions("TEST")
    names = sorted(set(y_train))
    train_ids = np.array([names.index(y) for y in y_train])
    test_ids = np.array([names.index(y) for y in y_test])
    # Validation recordings: 2 per class, chosen by the seed, never used for training.
    rng = np.random.default_rng(config.seed)
    held = np.concatenate([rng.choice(np.flatnonzero(train_ids == k), 2, replace=False)
                           for k in range(len(names))])
    fit = np.setdiff1d(np.arange(len(train_ids)), held)
    splits = [stitch(x_train[fit], train_ids[fit], config.train_streams, config.seed, config),
              stitch(x_train[held], train_ids[held], config.val_streams, config.seed + 1,
                     config),
              stitch(x_test, test_ids, config.test_streams, config.seed + 2, config)]
    mean = x_train[fit].reshape(-1, x_train.shape[-1]).mean(axis=0)
    std = x_train[fit].reshape(-1, x_train.shape[-1]).std(axis=0) + 1e-6
    meta = {"labels": [n.lower() for n in names], "channels": int(x_train.shape[-1]),
            "mean": mean.tolist(), "std": std.tolist(),
            "source": "BasicMotions activity streams (embedded)"}
    return Splits(*splits, meta)


def load_frame_data(config, source=None):
    kind, _ = parse_source(source)
    if kind in ("default", "motions") or source == "motions":
        return load_motions(config)
    raise GalleryError(f"frame tagging reads the embedded 'motions' streams; {source!r} is "
                       "not supported yet")
