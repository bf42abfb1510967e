"""Training writes TensorBoard event files holding history.json's epoch losses."""

import json

import numpy as np
import tensorflow as tf
from conftest import TINY_SENTIMENT, cli_train, write_review_file
from tensorflow.core.util import event_pb2


def read_events(folder):
    """``({tag: [(step, number)]}, tags of other summaries)`` from the event files in
    ``folder``."""
    scalars, others = {}, set()
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor)
                if array.dtype.kind == "f":
                    scalars.setdefault(value.tag, []).append((event.step, float(array)))
                else:
                    others.add(value.tag)
    return scalars, others


def test_event_files_hold_the_epoch_losses_of_history(tiny_sentiment_run):
    history = json.loads((tiny_sentiment_run / "history.json").read_text())
    train, others = read_events(tiny_sentiment_run / "logs" / "train")
    validation, _ = read_events(tiny_sentiment_run / "logs" / "validation")
    assert "keras" in others  # the model graph (TensorBoard's Graphs tab)
    for scalars, key in ((train, "loss"), (validation, "val_loss")):
        steps, values = zip(*sorted(scalars["epoch_loss"]))
        assert list(steps) == list(range(len(history[key])))
        np.testing.assert_allclose(values, history[key], rtol=1e-6)
    assert "epoch_accuracy" in train and "epoch_learning_rate" in train


def test_tensorboard_false_writes_no_logs(tmp_path):
    data = write_review_file(tmp_path / "reviews.tsv", rows=60)
    run = cli_train("sentiment", tmp_path / "run", TINY_SENTIMENT + ["epochs=1",
                                                                     "tensorboard=false"], data)
    assert (run / "history.json").is_file() and not (run / "logs").exists()
