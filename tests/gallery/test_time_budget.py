"""`max_minutes`: training stops before an epoch would end past the budget."""

import keras
import numpy as np
import pytest

from gallery.config import TrainConfig, apply_overrides
from gallery.errors import GalleryError
from gallery.training import TimeBudget


def fit(budget_minutes, epochs=30):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    history = model.fit(x, x[:, :1], epochs=epochs, verbose=0,
                        callbacks=[TimeBudget(budget_minutes)])
    return len(history.history["loss"])


def test_a_tiny_budget_stops_after_the_first_epoch(capsys):
    assert fit(1e-6) == 1
    assert "time budget" in capsys.readouterr().out


def test_no_budget_runs_every_epoch():
    assert fit(0.0, epochs=7) == 7
    assert fit(60.0, epochs=7) == 7


def test_negative_budget_is_refused():
    with pytest.raises(GalleryError, match="max_minutes"):
        apply_overrides(TrainConfig(), ["max_minutes=-1"])
