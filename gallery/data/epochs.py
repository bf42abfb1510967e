"""Training data that depends on the epoch number, not on how often it was iterated.

``Dataset.shuffle(seed=..., reshuffle_each_iteration=True)`` draws each epoch's order
from a generator that advances once per pass; a training process started again
from a checkpoint would replay epoch 1's order, and ``tf.distribute`` may make an
extra pass to inspect the data. Here the pass of epoch ``e`` is always seeded by
``(seed, e)``: the training loop tells an :class:`EpochClock` which epoch starts
(:class:`EpochClockCallback`), and the data pipeline reads it when a pass begins.
"""

import itertools

import keras
import tensorflow as tf


class EpochClock:
    """Which epoch a new pass over the training data belongs to.

    Driven by :class:`EpochClockCallback` during ``fit``; without one, each new pass
    counts as the next epoch, starting at ``first_epoch``.
    """

    def __init__(self, first_epoch=0):
        self.epoch = first_epoch
        self.driven = False
        self._counter = itertools.count(first_epoch)

    def next_pass(self):
        return self.epoch if self.driven else next(self._counter)


class EpochClockCallback(keras.callbacks.Callback):
    """Sets ``clock.epoch`` at the start of every epoch of ``fit``."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        clock.driven = True

    def on_epoch_begin(self, epoch, logs=None):
        self.clock.epoch = epoch


def shuffled_per_epoch(dataset, size, seed, clock=None):
    """``dataset`` shuffled anew on every pass, in an order fixed by ``(seed, epoch)``.

    Args:
        dataset: a finite ``tf.data.Dataset`` (examples, not yet batched).
        size: shuffle buffer; the number of examples for a full shuffle.
        seed: the run's seed.
        clock: an :class:`EpochClock` (default: a new one counting passes from 0).
    """
    clock = clock or EpochClock()
    epoch = tf.data.Dataset.from_generator(
        lambda: iter([clock.next_pass()]), output_signature=tf.TensorSpec((), tf.int64))
    seed = int(seed) * 1_000_003
    return epoch.flat_map(lambda e: dataset.shuffle(
        max(int(size), 1), seed=seed + e, reshuffle_each_iteration=False))
