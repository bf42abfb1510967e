"""TFDS video data sets for frame tagging (``--data tfds:NAME``, e.g. ``tfds:ucf101``).

Reads a data set with a ``video`` feature (``(T, H, W, C)`` uint8) and a ``label``:
either one label per frame (a ``Sequence`` of ``ClassLabel``) or one per clip
(``ClassLabel``, as in UCF101), which then labels every frame of the clip (a clip-level
data set teaches a tagger its classes; the per-frame task shows when it changes
label). Frames are resized to ``frame_size × frame_size``; a clip keeps its first
``max_length`` frames (at least ``min_length``, shorter clips are skipped).
Training/validation come from the ``train`` split (last 10 % validates), testing from
``test`` (or ``validation``); at most ``train_streams`` / ``val_streams`` /
``test_streams`` clips are read. Downloads only when the data set is not prepared
locally; tests use ``tfds.testing.mock_data``.
"""

import numpy as np

from gallery.data.sources import load_tfds
from gallery.errors import GalleryError
from gallery.task import Splits

from .streams import Streams, channel_stats


def _label_names(feature):
    names = getattr(feature, "names", None)
    inner = getattr(feature, "feature", None)  # Sequence(ClassLabel)
    return names or getattr(inner, "names", None)


def _clips(dataset, names, count, config):
    import tensorflow as tf

    frames, labels = [], []
    for example in dataset:
        video = example["video"][:config.max_length]
        if video.shape[0] < config.min_length:
            continue
        video = tf.image.resize(video, (config.frame_size, config.frame_size), antialias=True)
        frames.append(np.clip(np.round(video.numpy()), 0, 255).astype(np.uint8))
        label = np.asarray(example["label"]).reshape(-1)
        ids = np.broadcast_to(label, (len(video),)) if label.size == 1 else label[:len(video)]
        labels.append(np.asarray(names)[ids])
        if len(frames) == count:
            break
    return Streams(frames, labels)


def load_tfds_video(config, name):
    test_split = "test"
    _, info = load_tfds(name, "train[:1]", as_supervised=False)
    if "video" not in info.features or "label" not in info.features:
        raise GalleryError(f"TFDS data set {name!r} has no 'video' and 'label' features; "
                           "frame tagging reads video data sets such as ucf101")
    if test_split not in info.splits:
        test_split = "validation"
    names = _label_names(info.features["label"])
    if not names:
        raise GalleryError(f"the 'label' of TFDS data set {name!r} is not a class label")
    parts = []
    for split, count in (("train[:90%]", config.train_streams),
                         ("train[90%:]", config.val_streams), (test_split, config.test_streams)):
        dataset, _ = load_tfds(name, split, as_supervised=False)
        parts.append(_clips(dataset, names, count, config))
    if any(len(p) == 0 for p in parts):
        raise GalleryError(f"TFDS data set {name!r}: a split has no clips of at least "
                           f"{config.min_length} frames")
    shape = list(parts[0].frames[0].shape[1:])
    mean, std = channel_stats(parts[0].frames)
    meta = {"labels": list(names), "frame_shape": shape, "channels": shape[-1],
            "mean": mean, "std": std, "source": f"tfds:{name}"}
    return Splits(*parts, meta)
