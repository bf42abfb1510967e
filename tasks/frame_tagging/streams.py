"""The frame-tagging data's one type: :class:`Streams` (frames and their per-frame
labels), and :func:`channel_stats` over them. Every loader (``data.py``,
``video.py``, ``actrectut.py``, ``tfds_video.py``) builds these; ``data.py``
dispatches between the loaders, so the type lives here, below all of them."""

import dataclasses

import numpy as np


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
