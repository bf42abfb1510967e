"""Activity streams stitched from real BasicMotions recordings (embedded default).

BasicMotions (the ``aeon`` wheel, ``datasets/data/BasicMotions/*.ts``, read as text,
never imported): a smart watch's 3-D accelerometer and 3-D gyroscope at 10 Hz, 40
training and 40 test recordings of 100 steps, four activities (standing, walking,
running, badminton). A *stream* joins random crops (``min_crop``–``max_crop`` steps)
of recordings of changing activity until it is ``min_length``–``max_length`` long;
every step is labelled with the activity it came from. Training and validation
streams use disjoint training recordings (32 / 8); test streams use only the test
recordings. Built deterministically from the seed.

Also ``--data video`` (moving digits, ``video.py``), ``--data actrectut:PATH`` (the
ActRecTut gesture stream, ``actrectut.py``), ``--data tfds:NAME`` (TFDS video data,
``tfds_video.py``) and ``--data DIR`` with labelled ``*.csv`` streams (see README).
"""

import dataclasses

import numpy as np

from gallery.data.embedded import package_file
from gallery.data.sources import parse_source
from gallery.errors import GalleryError
from gallery.task import Splits

INSTALL = "pip install --no-deps aeon==1.6.0 (make does this)"


@dataclasses.dataclass
class Streams:
    """Streams of frames and their per-frame labels (lists aligned).

    ``fresh``, when set, gives the training streams of an epoch, ``fresh(epoch)``
    (new windows or clips every epoch, drawn from the seed and the epoch).
    """

    frames: list   # (T_i, C) or (T_i, H, W, C) arrays
    labels: list   # (T_i,) arrays of label strings
    fresh: object = None

    def __len__(self):
        return len(self.frames)


def channel_stats(frames_list):
    """Per-channel ``(mean, std)`` lists over all frames of ``frames_list`` (arrays
    ``(T, ..., C)``), accumulated stream by stream (no copy of the whole set)."""
    total = squares = count = 0
    for frames in frames_list:
        flat = frames.reshape(-1, frames.shape[-1]).astype(np.float64)
        total, squares = total + flat.sum(axis=0), squares + (flat ** 2).sum(axis=0)
        count += len(flat)
    mean = total / count
    return mean.tolist(), (np.sqrt(np.maximum(squares / count - mean ** 2, 0)) + 1e-6).tolist()


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
    label_names = np.array([n.lower() for n in names])
    for part in splits:
        part.labels = [label_names[ids] for ids in part.labels]
    mean = x_train[fit].reshape(-1, x_train.shape[-1]).mean(axis=0)
    std = x_train[fit].reshape(-1, x_train.shape[-1]).std(axis=0) + 1e-6
    meta = {"labels": [n.lower() for n in names], "channels": int(x_train.shape[-1]),
            "mean": mean.tolist(), "std": std.tolist(),
            "source": "BasicMotions activity streams (embedded)"}
    return Splits(*splits, meta)


def read_stream_csv(path, labelled=False):
    """A CSV stream, one frame per row: ``C`` numbers (``,`` or ``;``), and with
    ``labelled`` the step's label as the last field. A header line is skipped; empty
    numbers are NaN. Returns ``(frames (T, C) float32, labels (T,) str or None)``;
    an empty file gives ``T = 0`` frames of ``C = 0`` channels."""
    frames, labels = [], []
    expected = "numbers and a label" if labelled else "numbers"
    text = path.read_text(encoding="utf-8-sig", errors="replace")  # a byte-order mark is dropped
    for number, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        values = [v.strip() for v in line.replace(";", ",").split(",")]
        label = values.pop() if labelled else None
        try:
            frames.append([float(v) if v else np.nan for v in values])
        except ValueError:
            if number == 0 and not frames:
                continue  # a header
            raise GalleryError(f"{path}:{number + 1}: expected {expected}") from None
        if labelled and not label:
            raise GalleryError(f"{path}:{number + 1}: the label (last field) is empty")
        labels.append(label)
    if len({len(f) for f in frames}) > 1:
        raise GalleryError(f"{path}: expected rows of the same number of {expected}")
    frames = np.array(frames, np.float32).reshape(len(frames), -1 if frames else 0)
    return frames, (np.array(labels) if labelled else None)


def load_stream_folder(folder):
    """``DIR/*.csv`` labelled streams (sorted by name): the last tenth (at least one)
    tests, the tenth before it validates, the rest trains."""
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if len(files) < 3:
        raise GalleryError(f"{folder}: expected a folder with at least 3 stream files "
                           "(*.csv: one frame per row, numbers then a label)")
    streams = [read_stream_csv(f, labelled=True) for f in files]
    if any(len(frames) == 0 for frames, _ in streams):
        raise GalleryError(f"{folder}: every stream file needs rows of numbers and a label")
    if len({f.shape[1] for f, _ in streams}) != 1:
        raise GalleryError(f"{folder}: the stream files have different channel counts")
    held = max(1, len(files) // 10)
    parts = [streams[:-2 * held], streams[-2 * held:-held], streams[-held:]]
    train_frames = np.concatenate([f for f, _ in parts[0]])
    meta = {"labels": sorted({v for _, y in streams for v in y}),
            "channels": int(train_frames.shape[1]),
            "mean": np.nanmean(train_frames, axis=0).tolist(),
            "std": (np.nanstd(train_frames, axis=0) + 1e-6).tolist(), "source": str(folder)}
    return Splits(*[Streams([f for f, _ in p], [y for _, y in p]) for p in parts], meta)


def load_frame_data(config, source=None):
    from .actrectut import load_actrectut
    from .tfds_video import load_tfds_video
    from .video import load_video

    kind, value = parse_source(source)
    if kind == "default" or source == "motions":
        return load_motions(config)
    if source == "video":
        return load_video(config)
    if kind == "actrectut":
        return load_actrectut(config, value)
    if kind == "tfds":
        return load_tfds_video(config, value)
    if kind == "path":
        return load_stream_folder(value)
    raise GalleryError(f"frame tagging reads 'motions' (default), 'video', actrectut:PATH, "
                       f"tfds:NAME or a folder of labelled stream files, not {source!r}")
