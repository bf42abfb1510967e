"""Frame tagging: data, metrics, masking, the causal option, export, CLI and bad input."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_FRAME_TAGGING, cli_train

from gallery.cli import main
from gallery.config import apply_overrides
from gallery.metrics import confusion_matrix, macro_f1, segmental_f1, segments
from gallery.runs import load_run
from rnn_gallery.tasks.frame_tagging.config import FrameTaggingConfig
from rnn_gallery.tasks.frame_tagging.data import basic_motions, load_motions, stitch
from rnn_gallery.tasks.frame_tagging.model import build_model

TINY = TINY_FRAME_TAGGING


def config(*items):
    return apply_overrides(FrameTaggingConfig(), list(items))


def test_basic_motions_recordings():
    x, labels = basic_motions("TRAIN")
    assert x.shape == (40, 100, 6) and np.isfinite(x).all()
    assert sorted(set(labels)) == ["Badminton", "Running", "Standing", "Walking"]
    assert all(labels.count(k) == 10 for k in set(labels))


def test_streams_are_stitched_from_crops_of_changing_activity():
    x, labels = basic_motions("TEST")
    ids = np.array([sorted(set(labels)).index(k) for k in labels])
    cfg = config()
    streams = stitch(x, ids, 20, seed=5, config=cfg)
    again = stitch(x, ids, 20, seed=5, config=cfg)
    rows = {tuple(r) for r in x.reshape(-1, 6).round(6)}
    for frames, tags, f2 in zip(streams.frames, streams.labels, again.frames):
        assert cfg.min_length <= len(frames) <= cfg.max_length
        np.testing.assert_array_equal(frames, f2)  # deterministic
        assert all(tuple(r) in rows for r in frames.round(6))  # only these recordings
        runs = segments(tags)
        assert all(a[0] != b[0] for a, b in zip(runs, runs[1:]))  # activity changes
        assert all(e - s >= cfg.min_crop for _, s, e in runs[:-1])


def test_validation_recordings_are_held_out():
    splits = load_motions(config("train_streams=30", "val_streams=10", "test_streams=5"))
    train_rows = {tuple(r) for f in splits.train.frames for r in f.round(6)}
    val_rows = {tuple(r) for f in splits.validation.frames for r in f.round(6)}
    assert not train_rows & val_rows


def test_segment_metrics_by_hand():
    assert segments([0, 0, 1, 1, 1, 0]) == [(0, 0, 2), (1, 2, 5), (0, 5, 6)]
    assert segments([]) == []
    assert segmental_f1([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    # Predicted: 0 for 3 steps (IoU 2/3 with the first true run), then 1 for 1 step
    # (IoU 1/2 with the second): both hits at IoU 0.5.
    assert segmental_f1([0, 0, 1, 1], [0, 0, 0, 1]) == 1.0
    assert segmental_f1([0, 0, 0, 0, 1, 1, 1, 1], [0, 1, 0, 1, 0, 1, 0, 1]) == 0.0
    matrix = confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    assert macro_f1(matrix) == pytest.approx((2 / 3 + 0.8) / 2)


def small_model(*items):
    meta = {"labels": ["a", "b", "c"], "channels": 6, "mean": [0.0] * 6, "std": [1.0] * 6}
    return build_model(config("units=8", "frame_units=8", *items), meta)


@pytest.mark.parametrize("encoder,ensemble", [("conv", 1), ("dense", 1), ("conv", 3)])
def test_padding_changes_no_prediction(encoder, ensemble):
    model = small_model(f"frame_encoder={encoder}", f"ensemble={ensemble}")
    rng = np.random.default_rng(0)
    short, long = rng.normal(size=(30, 6)), rng.normal(size=(50, 6))
    batch = np.zeros((2, 50, 6), np.float32)
    batch[0, :30], batch[1] = short, long
    batch[0, 30:] = 99.0  # whatever sits in the padding
    together = np.asarray(model([batch, np.array([30, 50])]))
    alone = np.asarray(model([short[None].astype("float32"), np.array([30])]))
    np.testing.assert_allclose(together[0, :30], alone[0], atol=1e-5)


def test_causal_model_does_not_look_ahead():
    model = small_model("bidirectional=false", "frame_encoder=dense")
    stream = np.random.default_rng(1).normal(size=(1, 40, 6)).astype("float32")
    whole = np.asarray(model([stream, np.array([40])]))
    prefix = np.asarray(model([stream[:, :25], np.array([25])]))
    np.testing.assert_allclose(whole[0, :25], prefix[0], atol=1e-5)


def test_bad_values_and_lengths_have_defined_outputs():
    model = small_model()
    x = np.random.default_rng(2).normal(size=(3, 20, 6)).astype("float32")
    x[0, 3, 2], x[0, 5, 0], x[1, 1, 1] = np.nan, np.inf, -np.inf
    out = np.asarray(model([x, np.array([20, 0, 500])]))  # zero length, length > T
    assert np.isfinite(out).all() and out.shape == (3, 20, 3)
    long = np.random.default_rng(3).normal(size=(1, 5000, 6)).astype("float32")
    assert np.asarray(model([long, np.array([5000])])).shape == (1, 5000, 3)


@pytest.fixture(scope="module")
def tiny_run(tiny_frame_tagging_run):
    return tiny_frame_tagging_run  # shared with the serving and TFLite tests


def test_run_folder_metrics_and_timeline(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "segmental_f1_iou50", "confusion_matrix"} <= set(metrics)
    assert np.sum(metrics["confusion_matrix"]) == metrics["frames"]
    assert metrics["accuracy"] > 0.5  # four classes: chance is 0.25
    assert (tiny_run / "timeline.png").stat().st_size > 5_000


def test_serving_labels_only_the_valid_frames(tiny_run):
    """The export's function: probabilities of the model, labels only up to each length
    (serving the export in a fresh process: tests/test_contract.py)."""
    task, config, model, meta = load_run(tiny_run)
    x = np.random.default_rng(4).normal(size=(2, 30, 6)).astype("float32")
    served = task.serving_function(config, model, meta)(tf.constant(x), tf.constant([30, 10]))
    expected = np.asarray(model([tf.constant(x), tf.constant([30, 10])]))
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    labels = [[v.decode() for v in row] for row in served["labels"].numpy()]
    assert all(v in meta["labels"] for v in labels[0])
    assert labels[1][10:] == [""] * 20 and "" not in labels[1][:10]


def test_predict_stream_files(tiny_run, tmp_path, capsys):
    frames = np.random.default_rng(5).normal(size=(50, 6)).astype("float32")
    np.save(tmp_path / "s.npy", frames)
    lines = ["ax,ay,az,gx,gy,gz"] + [",".join(f"{v:.4f}" for v in row) for row in frames]
    lines[3] = ",".join(["", *lines[3].split(",")[1:]])  # a missing value
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "empty.csv").write_text("")
    assert main(["predict", "frame_tagging", "--model", str(tiny_run), str(tmp_path / "s.npy"),
                 str(tmp_path / "s.csv"), str(tmp_path / "empty.csv")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["frames"] for r in rows] == [50, 50, 0]
    assert sum(e - s for _, s, e in rows[0]["segments"]) == 50 and rows[2]["segments"] == []


@pytest.mark.parametrize("content", ["1,2,3\n4,5,6\n", "1,2,x,4,5,6\n", "1,2,3,4,5,6\n1,2\n"],
                         ids=["channels", "text", "ragged"])
def test_bad_stream_files_are_one_line_errors(tiny_run, tmp_path, capsys, content):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c,d,e,f\n" + content)
    assert main(["predict", "frame_tagging", "--model", str(tiny_run), str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gallery: error:") and "\n" not in err
    assert main(["predict", "frame_tagging", "--model", str(tiny_run),
                 str(tmp_path / "missing.npy")]) == 2


@pytest.mark.parametrize("array", [np.zeros((30, 6), complex), np.array([["a"] * 6] * 3),
                                   np.zeros(50)], ids=["complex", "strings", "one_d"])
def test_bad_npy_arrays_are_one_line_errors(tiny_run, tmp_path, capsys, array):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    assert main(["predict", "frame_tagging", "--model", str(tiny_run), str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gallery: error:") and "\n" not in err


def test_evaluate_on_data_the_model_cannot_read(tiny_run, tmp_path, capsys):
    folder = tmp_path / "seven"
    folder.mkdir()
    for i in range(4):
        (folder / f"s{i}.csv").write_text("".join(f"{','.join(['0.5'] * 7)},walking\n"
                                                  for _ in range(30)))
    assert main(["evaluate", "frame_tagging", "--model", str(tiny_run), "--data",
                 str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert "frames have shape [7]" in err and "\n" not in err


def test_ensemble_averages_independent_branches(tmp_path):
    model = small_model("ensemble=3")
    core = model.get_layer("core")
    stream = np.random.default_rng(2).normal(size=(2, 20, 6)).astype("float32")
    lengths = np.array([20, 13])
    normalised, mask = model.get_layer("normalizer")(stream, lengths)
    branches = np.asarray(core([normalised, mask]))
    assert branches.shape == (2, 20, 3, 3)
    # different initialisations: the branches disagree, and the model is their mean
    assert np.abs(branches[:, :, 0] - branches[:, :, 1]).max() > 1e-3
    np.testing.assert_allclose(np.asarray(model([stream, lengths])), branches.mean(axis=2),
                               atol=1e-6)
    # Reloaded in a fresh process, as a user does: loading in the process that saved
    # it failed once in a full run ('LSTMCell' object has no attribute 'go_backwards'
    # in Bidirectional.from_config), which looks like Keras's shared-object ids (id()
    # of live objects) meeting a reused address; not reproduced alone.
    model.save(tmp_path / "ensemble.keras")
    np.save(tmp_path / "stream.npy", stream)
    np.save(tmp_path / "lengths.npy", lengths)
    script = ("import sys, numpy as np, keras, gallery\n"
              "gallery.register_all()\n"
              "d = sys.argv[1]\n"
              "m = keras.models.load_model(d + '/ensemble.keras', safe_mode=True)\n"
              "np.save(d + '/out.npy', np.asarray(m([np.load(d + '/stream.npy'), "
              "np.load(d + '/lengths.npy')])))\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"),
                               np.asarray(model([stream, lengths])), atol=1e-6)
    from gallery.errors import GalleryError

    with pytest.raises(GalleryError, match="ensemble > 1 needs bidirectional"):
        config("ensemble=2", "bidirectional=false", "frame_encoder=dense")


@pytest.mark.slow  # trains; the branches: test_ensemble_averages_independent_branches
def test_ensemble_trains_each_branch(tmp_path):
    run = cli_train("frame_tagging", tmp_path / "run", TINY + ["ensemble=2"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.4  # four activities: chance is about 0.25
    _, _, model, _ = load_run(run)
    core = model.get_layer("core")
    assert {"classifier0", "classifier1", "frame_encoder0", "frame_encoder1"} <= {
        layer.name for layer in core.layers}


def test_causal_model_with_a_convolution_is_refused():
    from gallery.errors import GalleryError

    with pytest.raises(GalleryError, match="frame_encoder=dense"):
        config("bidirectional=false")


def test_chunked_streaming_equals_the_whole_stream_for_a_causal_model():
    from rnn_gallery.tasks.frame_tagging.task import streaming_probabilities

    model = small_model("bidirectional=false", "frame_encoder=dense", "num_layers=2")
    stream = np.random.default_rng(6).normal(size=(43, 6)).astype("float32")
    stream[10, 1] = np.nan
    whole = np.asarray(model([stream[None], np.array([43])]))[0]
    for chunk in (1, 7, 43, 100):
        np.testing.assert_allclose(streaming_probabilities(model, stream, chunk), whole,
                                   atol=1e-5)
    from gallery.errors import GalleryError

    with pytest.raises(GalleryError, match="causal model"):
        streaming_probabilities(small_model(), stream, 10)


def write_stream_folder(folder, count=6, seed=0):
    """User-style labelled streams: CSV rows of 6 numbers and a label, with a header."""
    splits = load_motions(config(f"test_streams={count}", "train_streams=1", "val_streams=1",
                                 "min_length=60", "max_length=90"))
    folder.mkdir(parents=True, exist_ok=True)
    for i, (frames, labels) in enumerate(zip(splits.test.frames, splits.test.labels)):
        rows = ["ax,ay,az,gx,gy,gz,activity"] + [
            ",".join(f"{v:.5f}" for v in row) + f",{label}" for row, label in zip(frames, labels)]
        (folder / f"stream{i:02d}.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.slow  # trains; fine-tuning: tests/test_contract.py, a folder: the template test below
def test_finetune_on_a_folder_of_labelled_streams(tiny_run, tmp_path):
    folder = write_stream_folder(tmp_path / "mine")
    assert main(["finetune", "frame_tagging", "--from", str(tiny_run), "--data", str(folder),
                 "--out", str(tmp_path / "tuned"), "--set", "epochs=3"]) == 0
    tuned = json.loads((tmp_path / "tuned" / "metrics.json").read_text())
    assert {"validation_accuracy_before", "validation_accuracy_after"} <= set(tuned["finetune"])
    assert tuned["accuracy"] > 0.8  # its own test stream, labelled in the model's label ids
    meta = json.loads((tmp_path / "tuned" / "meta.json").read_text())
    assert meta["labels"] == json.loads((tiny_run / "meta.json").read_text())["labels"]


def test_train_on_a_folder_and_bad_folders(tmp_path, capsys):
    folder = write_stream_folder(tmp_path / "mine", count=4)
    run = cli_train("frame_tagging", tmp_path / "run", ["epochs=1", "units=8", "frame_units=8",
                                                        "num_layers=1"], folder)
    assert json.loads((run / "meta.json").read_text())["channels"] == 6
    (tmp_path / "few").mkdir()
    (tmp_path / "few" / "a.csv").write_text("1,2,walk\n")
    odd = write_stream_folder(tmp_path / "odd", count=3)
    (odd / "stream01.csv").write_text("1,2,walk\n3,4,walk\n")
    for bad in (tmp_path / "few", odd, tmp_path / "nowhere"):
        assert main(["train", "frame_tagging", "--data", str(bad), "--out",
                     str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("gallery: error:") and "\n" not in err


def test_finetune_template_with_a_label_map(tiny_run, tmp_path):
    import importlib.util

    path = pathlib.Path(__file__).resolve().parents[2] / "templates" / "finetune_frame_tagging.py"
    spec = importlib.util.spec_from_file_location("finetune_frame_tagging", path)
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    folder = write_stream_folder(tmp_path / "mine")
    for file in folder.glob("*.csv"):  # the user's own name for one activity
        file.write_text(file.read_text().replace(",running\n", ",jogging\n"))
    template.SETTINGS = ["epochs=2", "learning_rate=0.003"]
    template.LABEL_MAP = {"jogging": "running"}
    template.FREEZE = ["frame_encoder"]
    metrics = template.main(str(tiny_run), str(folder), str(tmp_path / "tuned"))
    assert metrics["finetune"]["frozen"] == ["frame_encoder"]
    assert 0.0 <= metrics["finetune"]["validation_accuracy_after"] <= 1.0
