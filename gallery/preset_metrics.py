"""A preset's card metric measured again: on a fixed slice of its test split (fast)
and on the whole split.

``gallery presets build`` writes both into the card: ``value``, the task's metric on
the whole test split, and ``value_slice``, the same metric on its first
``slice_examples`` items (:func:`slice_size`: the first tenth, rounded up; charlm's
test split is one text, and its items are characters). ``gallery demo`` and the tests
reload a preset and measure again with :func:`measure`; with TensorFlow's
deterministic kernels, which the card's values were measured with, the numbers are
equal on the machine that built the preset. :func:`record_slices` adds ``value_slice``
to the cards of presets built before cards recorded it (``gallery presets slices``).
"""

import dataclasses
import math

import tensorflow as tf

from gallery.errors import GalleryError
from gallery.preset_store import CARD, PREFIX, available, checked_preset
from gallery.runs import load_run, write_json

#: The slice is the first ``1 / SLICE_FRACTION`` of the test split, rounded up.
SLICE_FRACTION = 10


def slice_size(total):
    """How many of a test split's ``total`` items the slice holds."""
    return max(1, math.ceil(total / SLICE_FRACTION)) if total else 0


def first_items(data, count):
    """The first ``count`` items of a task's data (``len(data)`` items).

    Every task's data is a dataclass whose fields with ``len(data)`` entries are
    aligned item by item (texts and labels, images and captions, frames and labels,
    charlm's text: one item per character); those are cut, the others (``fresh``, a
    training set's generator) kept.
    """
    if not dataclasses.is_dataclass(data) or isinstance(data, type):
        raise GalleryError(f"cannot take the first items of {type(data).__name__}: a "
                           "task's data is a dataclass of aligned fields")
    total = len(data)
    return dataclasses.replace(data, **{
        field.name: getattr(data, field.name)[:count]
        for field in dataclasses.fields(data)
        if hasattr(getattr(data, field.name), "__len__") and
        len(getattr(data, field.name)) == total})


def measure(task, config, model, meta, test, count=None):
    """``task.evaluate`` of ``model`` on the test data ``test`` (its first ``count``
    items when given), with deterministic kernels as training and ``gallery evaluate``
    measure."""
    tf.config.experimental.enable_op_determinism()
    return task.evaluate(config, model, test if count is None else
                         first_items(test, count), meta)


def slice_facts(task, config, model, meta, test):
    """The card's fields of the fast check for a stored preset model: ``value_slice``
    (``task.metric`` on the first ``slice_examples`` items of the ``test_examples``)."""
    count = slice_size(len(test))
    return {"value_slice": measure(task, config, model, meta, test, count)[task.metric],
            "slice_examples": count, "test_examples": len(test)}


def record_slices(names=None):
    """Add :func:`slice_facts` to the card of every preset of ``names`` (default: all)
    that has none; nothing is trained and no other file changes (the card lists their
    checksums, not its own). ``{name: value_slice}``."""
    values = {}
    for name in names or available():
        folder, card = checked_preset(PREFIX + name)  # card, version, checksums
        if card.get("value_slice") is None:
            task, config, model, meta = load_run(folder)
            test = task.load_data(config, meta.get("data")).test
            card.update(slice_facts(task, config, model, meta, test))
            write_json(folder / CARD, card)
            print(f"[presets] {name}: {task.metric} {card['value_slice']:.4f} on the first "
                  f"{card['slice_examples']:,d} of {card['test_examples']:,d} test items, "
                  "added to its card", flush=True)
        values[name] = card["value_slice"]
    return values
