"""Training and export that survive being killed; NaN losses; safe loading; bad --out.

The kill tests run `gallery` in real subprocesses and SIGKILL them.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_SENTIMENT, write_review_file

from gallery.cli import main
from gallery.errors import GalleryError
from gallery.runs import mark_checkpoint_folder, prepare_run_folder
from gallery.training import train

ROOT = pathlib.Path(__file__).resolve().parents[2]


def gallery_command(*args):
    return [sys.executable, "-m", "gallery.cli", *args]


def subprocess_env(**extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT), **extra}
    env.pop("TF_CONFIG", None)
    return {**env, **extra}


def sentiment_args(data, out, epochs):
    args = ["train", "sentiment", "--data", str(data), "--out", str(out)]
    for item in TINY_SENTIMENT + [f"epochs={epochs}", "patience=10", "dropout=0.2"]:
        args += ["--set", item]
    return args


def final_weights(run):
    # the model itself: the run's task may be a class local to a test, not importable
    import rnn_gallery.tasks.sentiment.task  # noqa: F401  (registers the model's layers)

    model = keras.models.load_model(run / "model.keras", compile=False)
    return model.get_layer("core").get_weights()


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def checkpoint_epoch(run):
    path = run / "checkpoint" / "state.json"
    try:
        return json.loads(path.read_text())["epoch"]
    except (OSError, ValueError):
        return 0


@pytest.mark.slow  # trains twice in subprocesses; resuming: tests/test_contract.py step 7
@pytest.mark.parametrize("extra", [[], ["--set", "ema=0.9"], ["--set", "lr_plateau_factor=0.5"]],
                         ids=["plain", "ema", "lr_plateau"])
def test_killed_training_resumes_and_ends_like_an_uninterrupted_run(tmp_path, extra):
    data = write_review_file(tmp_path / "reviews.tsv", rows=1500)
    env = subprocess_env()
    whole = tmp_path / "whole"
    subprocess.run(gallery_command(*sentiment_args(data, whole, 4), *extra), env=env,
                   check=True, capture_output=True, timeout=600)

    killed = tmp_path / "killed"
    command = gallery_command(*sentiment_args(data, killed, 4), *extra)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: checkpoint_epoch(killed) >= 1, 300, "the first epoch checkpoint")
        time.sleep(0.3)  # into the second epoch
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    done = checkpoint_epoch(killed)
    assert 1 <= done < 4 and not (killed / "model.keras").exists()

    again = subprocess.run(command, env=env, check=True, capture_output=True, text=True,
                           timeout=600)
    assert f"resuming {killed} after epoch {done}" in again.stdout
    assert not (killed / "checkpoint").exists()  # removed once the run is complete
    expected = json.loads((whole / "metrics.json").read_text())
    got = json.loads((killed / "metrics.json").read_text())
    assert got["epochs_run"] == expected["epochs_run"] == 4
    assert got["accuracy"] == expected["accuracy"]
    assert got["loss"] == pytest.approx(expected["loss"], abs=1e-6)
    history = json.loads((killed / "history.json").read_text())
    whole_history = json.loads((whole / "history.json").read_text())
    assert history.keys() == whole_history.keys()
    for key, values in history.items():
        assert values == pytest.approx(whole_history[key], rel=1e-5, abs=1e-7), key
    for a, b in zip(final_weights(whole), final_weights(killed)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_resume_with_other_settings_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    mark_checkpoint_folder(run / "checkpoint")
    (run / "checkpoint" / "state.json").write_text(json.dumps({"fingerprint": "x", "epoch": 1}))
    data = write_review_file(tmp_path / "r.tsv", rows=40)
    assert main(sentiment_args(data, run, 2)) == 2
    assert "unfinished run with other settings" in capsys.readouterr().err


class NaNAfter:
    """A sentiment task whose loss turns NaN after ``step`` optimizer steps."""

    def __new__(cls, step):
        from rnn_gallery.tasks.sentiment.task import SentimentTask

        class Task(SentimentTask):
            def compile_core(self, config, core, optimizer):
                base = keras.losses.SparseCategoricalCrossentropy()

                @keras.saving.register_keras_serializable(package="test_nan")
                def loss(y, p):
                    poison = tf.where(optimizer.iterations >= step, np.nan, 0.0)
                    return base(y, p) + poison
                core.compile(optimizer=optimizer, loss=loss,
                             metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        return Task()


def tiny_config(**changes):
    from gallery.config import apply_overrides
    from rnn_gallery.tasks.sentiment.config import SentimentConfig

    items = TINY_SENTIMENT + [f"{k}={v}" for k, v in changes.items()]
    return apply_overrides(SentimentConfig(), items)


def test_nan_loss_stops_and_keeps_the_last_good_epoch(tmp_path):
    data = write_review_file(tmp_path / "r.tsv", rows=160)  # 8 steps per epoch
    run = tmp_path / "run"
    with pytest.raises(GalleryError, match="NaN/inf in epoch 3.*best of epochs 1-2"):
        train(NaNAfter(20), tiny_config(epochs=6, patience=10), source=str(data),
              out_dir=run, verbose=0)
    metrics = json.loads((run / "metrics.json").read_text())
    assert "epoch 3" in metrics["stopped"] and metrics["epochs_run"] == 2
    assert (run / "checkpoint" / "state.json").is_file()  # the last good checkpoint stays
    weights = final_weights(run)
    assert all(np.isfinite(w).all() for w in weights)
    assert metrics["accuracy"] > 0.5


def test_nan_in_the_first_epoch_saves_nothing(tmp_path):
    data = write_review_file(tmp_path / "r.tsv", rows=160)
    run = tmp_path / "run"
    with pytest.raises(GalleryError, match="before any epoch finished; nothing was saved"):
        train(NaNAfter(2), tiny_config(epochs=3), source=str(data), out_dir=run, verbose=0)
    assert not (run / "model.keras").exists()


def test_unwritable_out_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    data = write_review_file(tmp_path / "r.tsv", rows=40)
    started = time.time()
    assert main(sentiment_args(data, blocker / "run", 2)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gallery: error: cannot write the run folder") and "\n" not in err
    assert time.time() - started < 10


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_out_fails_before_training(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(GalleryError, match="cannot write the run folder"):
            prepare_run_folder(folder / "run")
    finally:
        folder.chmod(0o700)


def test_full_disk_fails_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GALLERY_MIN_FREE_MB", str(10**12))
    data = write_review_file(tmp_path / "r.tsv", rows=40)
    assert main(sentiment_args(data, tmp_path / "run", 2)) == 2
    assert "MB free" in capsys.readouterr().err
    assert not (tmp_path / "run" / "model.keras").exists()


def test_model_file_with_python_code_is_refused(tmp_path, capsys, tiny_sentiment_run):
    run = tmp_path / "evil"
    run.mkdir()
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    model.save(run / "model.keras")
    for name in ("meta.json", "config.json"):
        (run / name).write_text((tiny_sentiment_run / name).read_text())
    assert main(["predict", "sentiment", "--model", str(run), "hello"]) == 2
    err = capsys.readouterr().err
    assert "refused to load" in err and "safe mode" in err and err.count("\n") == 1


def test_export_killed_midway_leaves_no_version_folder(tmp_path, tiny_sentiment_run, capsys):
    target = tmp_path / "saved" / "sentiment" / "1"
    args = ["export", "sentiment", "--model", str(tiny_sentiment_run), "--out", str(target)]
    process = subprocess.Popen(gallery_command(*args), env=subprocess_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill once the SavedModel is being written into its staging folder.
        wait_for(lambda: any(target.parent.glob(".1-*/model")), 300, "export staging")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not target.exists()
    # The export again, and then once more, in this process (only the killed one needs a
    # process of its own; the refusal in a real process: test_bad_inputs.py's
    # export-over-a-version): two fewer TensorFlow start-ups.
    assert main(args) == 0
    assert (target / "saved_model.pb").is_file()
    assert not list(target.parent.glob(".1-*"))  # the killed export's staging is cleaned up
    capsys.readouterr()
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err


def test_run_folder_files_are_written_atomically(tmp_path):
    from gallery.runs import read_json, save_model, write_json

    write_json(tmp_path / "metrics.json", {"a": 1})
    inputs = keras.Input((2,))
    save_model(keras.Model(inputs, keras.layers.Dense(1)(inputs)), tmp_path / "model.keras")
    assert read_json(tmp_path / "metrics.json") == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model.keras"]
    assert keras.models.load_model(tmp_path / "model.keras").count_params() == 3
