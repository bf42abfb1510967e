"""A resumed run's training time counts the epochs its earlier processes trained."""

import itertools
import json

import keras
import numpy as np

from gallery import checkpointing
from gallery.checkpointing import EpochCheckpoint, read_state


def _model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def _clock(monkeypatch, start, step):
    """``time.monotonic`` in gallery.checkpointing: start, start + step, ..."""
    ticks = itertools.count(start, step)
    monkeypatch.setattr(checkpointing.time, "monotonic", lambda: next(ticks))


def test_the_state_carries_the_seconds_and_a_resumed_process_adds_its_own(tmp_path,
                                                                          monkeypatch):
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    _clock(monkeypatch, 100.0, 5.0)  # begin at 100, then each read is 5 s later
    first = EpochCheckpoint(tmp_path / "checkpoint", "run-a")
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[first])
    # epoch 1 saved at 105 (5 s), epoch 2 at 110 (10 s)
    assert read_state(tmp_path / "checkpoint")["train_seconds"] == 10.0

    _clock(monkeypatch, 0.0, 2.0)
    resumed = EpochCheckpoint(tmp_path / "checkpoint", "run-a")
    _model().fit(x, y, epochs=3, initial_epoch=resumed.resume_epoch(3), verbose=0,
                 callbacks=[resumed])
    assert resumed.seconds_before == 10.0
    # this process: begun at 0, epoch 3 saved at 2: 10 + 2
    assert read_state(tmp_path / "checkpoint")["train_seconds"] == 12.0


def test_a_state_from_before_the_seconds_were_saved_resumes_from_zero(tmp_path):
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    first = EpochCheckpoint(tmp_path / "checkpoint", "run-a")
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[first])
    state_file = tmp_path / "checkpoint" / checkpointing.STATE
    state = json.loads(state_file.read_text())
    del state["train_seconds"]
    state_file.write_text(json.dumps(state))
    resumed = EpochCheckpoint(tmp_path / "checkpoint", "run-a")
    _model().fit(x, y, epochs=2, initial_epoch=resumed.resume_epoch(2), verbose=0,
                 callbacks=[resumed])
    assert resumed.seconds_before == 0.0
