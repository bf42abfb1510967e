"""The learning-rate decay on plateau (``--set lr_plateau_factor=F``): the rate is cut
after an epoch without validation improvement, and a resumed run carries on with the
rate and the counters the interrupted one had."""

import json

import keras
import numpy as np
import pytest
from conftest import TINY_SENTIMENT, write_review_file

from gallery.checkpointing import EpochCheckpoint
from gallery.config import apply_overrides
from gallery.errors import GalleryError
from gallery.training import train


def sentiment_config(*items):
    from rnn_gallery.tasks.sentiment.config import SentimentConfig

    return apply_overrides(SentimentConfig(), TINY_SENTIMENT + list(items))


def test_the_rate_is_cut_after_each_epoch_without_improvement(tmp_path):
    from rnn_gallery.tasks.sentiment.task import SentimentTask

    data = write_review_file(tmp_path / "r.tsv", rows=160)
    # A rate this large makes the validation loss jump about: some epochs do not improve.
    config = sentiment_config("epochs=5", "patience=10", "learning_rate=0.3",
                              "lr_plateau_factor=0.5")
    task = SentimentTask()
    train(task, config, source=str(data), out_dir=tmp_path / "run", verbose=0)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    sign = 1 if "loss" in task.monitor else -1  # lower is better, or higher
    scores, rates = [sign * v for v in history[task.monitor]], history["learning_rate"]
    best, rate = np.inf, 0.3
    for score, logged in zip(scores, rates):  # the rate each epoch trained with
        assert logged == pytest.approx(rate, rel=1e-6)
        if score < best - 1e-4:  # Keras's min_delta
            best = score
        else:
            rate /= 2
    assert min(rates) < 0.3  # the schedule was exercised


def test_the_default_leaves_the_rate_alone(tiny_sentiment_run):
    """The session's tiny run (TINY_SENTIMENT: no lr_plateau_factor) logged no rate."""
    assert "lr_plateau_factor=" not in " ".join(TINY_SENTIMENT)
    assert "learning_rate" not in json.loads((tiny_sentiment_run / "history.json").read_text())


@pytest.mark.parametrize("value", ["1", "-0.5", "1.5"])
def test_a_factor_outside_0_to_1_is_refused(value):
    with pytest.raises(GalleryError, match="lr_plateau_factor must be in"):
        sentiment_config(f"lr_plateau_factor={value}").validate()


def _model_with_plateau(folder):
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    plateau = keras.callbacks.ReduceLROnPlateau(patience=1)
    checkpoint = EpochCheckpoint(folder, "run-id")
    checkpoint.plateau = plateau
    for callback in (plateau, checkpoint):
        callback.set_model(model)
    return model, plateau, checkpoint


def test_the_checkpoint_keeps_the_rate_and_the_counters(tmp_path):
    model, plateau, checkpoint = _model_with_plateau(tmp_path / "checkpoint")
    model.optimizer.learning_rate = 0.025
    plateau.wait, plateau.best, plateau.cooldown_counter = 1, 0.42, 0
    checkpoint.on_epoch_end(0, {"loss": 1.0})

    again, fresh, restored = _model_with_plateau(tmp_path / "checkpoint")
    fresh.on_train_begin()  # Keras resets the counters here; the checkpoint runs after it
    restored.on_train_begin()
    assert (fresh.wait, fresh.best, fresh.cooldown_counter) == (1, pytest.approx(0.42), 0)
    assert float(again.optimizer.learning_rate) == pytest.approx(0.025)
