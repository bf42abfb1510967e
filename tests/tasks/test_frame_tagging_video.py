"""Frame tagging on video: moving-digit clips, the per-frame CNN, TFDS video, export."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import cli_train, serve_in_fresh_process

from gallery.cli import main
from gallery.config import apply_overrides
from gallery.data.embedded import mnist_digits
from gallery.errors import GalleryError
from gallery.layers.frames import PerFrame
from gallery.runs import load_run
from rnn_gallery.tasks.frame_tagging.config import FrameTaggingConfig
from rnn_gallery.tasks.frame_tagging.data import load_frame_data
from rnn_gallery.tasks.frame_tagging.model import build_model, image_encoder
from rnn_gallery.tasks.frame_tagging.video import INKED, NONE, compose_clip, load_video

SERVE = """
import json, sys
import numpy as np, tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
x = np.asarray(json.loads(sys.stdin.read()), np.float32)
out = serve(frames=tf.constant(x), lengths=tf.constant([x.shape[1], 10], tf.int32))
ours = any(m.startswith(("gallery", "tasks")) for m in sys.modules)
print(json.dumps({"labels": [[v.decode() for v in row] for row in out["labels"].numpy()],
                  "probabilities": out["probabilities"].numpy().tolist(), "ours": ours}))
"""


TINY_VIDEO = ["epochs=2", "train_streams=24", "val_streams=6", "test_streams=6", "units=8",
              "frame_units=16", "num_layers=1", "min_length=6", "max_length=12"]


def video_config(*items):
    return apply_overrides(FrameTaggingConfig(), ["frame_encoder=cnn", *items])


@pytest.mark.parametrize("augment", [False, True])
def test_clip_labels_follow_the_ink_in_each_frame(augment):
    digits, labels = mnist_digits()
    rng = np.random.default_rng(3)
    distortions = np.random.default_rng(4) if augment else None
    for _ in range(30):
        frames, tags = compose_clip(rng, digits, labels, int(rng.integers(10, 40)), distortions)
        assert frames.shape[1:] == (48, 48, 1) and frames.dtype == np.uint8
        inked = (frames >= INKED).reshape(len(frames), -1).any(axis=1)
        np.testing.assert_array_equal(inked, tags != NONE)
        assert set(tags) <= {NONE, *map(str, range(10))}


def test_video_splits_are_deterministic_and_use_disjoint_handwriting():
    cfg = video_config("train_streams=20", "val_streams=5", "test_streams=5", "min_length=8",
                       "max_length=16")
    first, again = load_video(cfg), load_video(cfg)
    for a, b in zip(first.test.frames, again.test.frames):
        np.testing.assert_array_equal(a, b)
    assert all(8 <= len(f) <= 16 for f in first.train.frames)
    assert first.meta["frame_shape"] == [48, 48, 1] and first.meta["labels"][-1] == NONE
    epoch_3 = first.train.fresh(3)
    assert not np.array_equal(epoch_3.frames[0], first.train.fresh(4).frames[0])
    np.testing.assert_array_equal(epoch_3.frames[0], again.train.fresh(3).frames[0])


def test_video_splits_draw_on_disjoint_handwriting(monkeypatch):
    import rnn_gallery.tasks.frame_tagging.video as video

    used = []
    real = video.compose_clips
    monkeypatch.setattr(video, "compose_clips", lambda digits, *a, **k: (
        used.append({d.tobytes() for d in digits}), real(digits, *a, **k))[1])
    load_video(video_config("train_streams=2", "val_streams=2", "test_streams=2"))
    train, validation, test = used[:3]
    digits, labels = mnist_digits()
    last_100 = {d.tobytes() for k in range(10) for d in digits[labels == k][400:]}
    assert test == last_100 and len(train) > 3000 and len(validation) >= 390
    assert not (train & validation) and not (train & test) and not (validation & test)


def test_per_frame_wrapper_equals_the_layer_on_each_frame_and_round_trips(tmp_path):
    inner = image_encoder((48, 48, 1), 5)
    x = keras.Input((None, 48, 48, 1))
    model = keras.Model(x, PerFrame(inner)(x))
    clips = np.random.default_rng(0).uniform(0, 1, (3, 7, 48, 48, 1)).astype("float32")
    traced = tf.function(model, input_signature=[tf.TensorSpec((None, None, 48, 48, 1))])
    out = np.asarray(traced(clips))  # T unknown while tracing
    assert out.shape == (3, 7, 5)
    np.testing.assert_allclose(out[1, 4], np.asarray(inner(clips[1, 4:5]))[0], atol=1e-5)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again(clips)), out, atol=1e-6)


def test_per_frame_with_a_mask_runs_only_valid_frames_and_zeros_the_rest(tmp_path):
    inner = image_encoder((48, 48, 1), 5)
    x = keras.Input((None, 48, 48, 1))
    m = keras.Input((None,), dtype="bool")
    model = keras.Model([x, m], PerFrame(inner)(x, mask=m))
    clips = np.random.default_rng(2).uniform(0, 1, (3, 7, 48, 48, 1)).astype("float32")
    mask = np.arange(7)[None] < np.array([7, 3, 0])[:, None]  # a full, a short, an empty clip
    seen = []
    real_call = inner.call
    inner.call = lambda frames, **kw: (seen.append(frames.shape[0]), real_call(frames, **kw))[1]
    out = np.asarray(model([clips, mask]))
    inner.call = real_call
    assert seen == [10]  # 7 + 3 + 0 valid frames, no padding
    assert out.shape == (3, 7, 5) and not out[~mask].any()
    np.testing.assert_allclose(out[mask], np.asarray(inner(clips[mask])), atol=1e-5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model([clips, mask]))
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(np.isfinite(np.asarray(g)).all() for g in grads)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again([clips, mask])), out, atol=1e-6)


@pytest.mark.parametrize("batch_norm", ["false", "true"])
def test_video_padding_changes_no_prediction(batch_norm):
    meta = {"labels": ["a", "b", NONE], "frame_shape": [48, 48, 1], "channels": 1,
            "mean": [10.0], "std": [40.0]}
    model = build_model(video_config("units=8", "frame_units=8", f"batch_norm={batch_norm}"),
                        meta)
    rng = np.random.default_rng(1)
    batch = rng.uniform(0, 255, (2, 9, 48, 48, 1)).astype("float32")
    together = np.asarray(model([batch, np.array([5, 9])]))
    alone = np.asarray(model([batch[:1, :5], np.array([5])]))
    np.testing.assert_allclose(together[0, :5], alone[0], atol=1e-5)


def test_sensor_encoders_are_refused_for_images():
    meta = {"labels": ["a", NONE], "frame_shape": [48, 48, 1], "channels": 1,
            "mean": [0.0], "std": [1.0]}
    with pytest.raises(GalleryError, match="frame_encoder=cnn"):
        build_model(video_config("frame_encoder=conv"), meta)


@pytest.fixture(scope="module")
def tiny_video_run(tmp_path_factory):
    return cli_train("frame_tagging", tmp_path_factory.mktemp("video") / "run", TINY_VIDEO,
                     data="video")


@pytest.mark.slow  # trains the video model
def test_video_run_uses_the_video_defaults(tiny_video_run):
    config = json.loads((tiny_video_run / "config.json").read_text())
    assert config["frame_encoder"] == "cnn" and config["min_length"] == 6  # --set wins
    metrics = json.loads((tiny_video_run / "metrics.json").read_text())
    assert metrics["frames"] > 0 and (tiny_video_run / "timeline.png").is_file()


@pytest.mark.slow  # trains the video model
def test_video_export_serves_clips_in_a_fresh_process(tiny_video_run, tmp_path):
    out = tmp_path / "saved" / "1"
    assert main(["export", "frame_tagging", "--model", str(tiny_video_run), "--out",
                 str(out)]) == 0
    _, _, model, meta = load_run(tiny_video_run)
    x = np.random.default_rng(4).uniform(0, 255, (2, 14, 48, 48, 1)).astype("float32")
    served = serve_in_fresh_process(SERVE, out, json.dumps(x.tolist()))
    expected = np.asarray(model([tf.constant(x), tf.constant([14, 10])]))
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-4)
    assert served["labels"][1][10:] == [""] * 4 and set(served["labels"][0]) <= set(meta["labels"])


@pytest.mark.slow  # trains the video model
def test_predict_video_npy_files_and_bad_ones(tiny_video_run, tmp_path, capsys):
    clip = np.random.default_rng(5).integers(0, 255, (11, 48, 48)).astype("uint8")
    np.save(tmp_path / "clip.npy", clip)  # (T, H, W): one channel
    assert main(["predict", "frame_tagging", "--model", str(tiny_video_run),
                 str(tmp_path / "clip.npy")]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert row["frames"] == 11 and sum(e - s for _, s, e in row["segments"]) == 11
    np.save(tmp_path / "wrong.npy", clip[:, :40])
    (tmp_path / "clip.csv").write_text("1,2,3\n")
    for bad in ("wrong.npy", "clip.csv"):
        assert main(["predict", "frame_tagging", "--model", str(tiny_video_run),
                     str(tmp_path / bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "48" in err


def test_tfds_video_loader_with_mock_data():
    import tensorflow_datasets as tfds

    cfg = video_config("train_streams=4", "val_streams=2", "test_streams=2", "frame_size=24",
                       "min_length=1",
                       "max_length=10")
    with tfds.testing.mock_data(num_examples=12):
        splits = load_frame_data(cfg, "tfds:ucf101")
    assert splits.meta["frame_shape"] == [24, 24, 3] and len(splits.meta["labels"]) == 101
    assert [len(p) for p in (splits.train, splits.validation, splits.test)] == [4, 2, 2]
    for frames, labels in zip(splits.train.frames, splits.train.labels):
        assert frames.shape[1:] == (24, 24, 3) and 1 <= len(frames) <= 10
        assert len(labels) == len(frames) and len(set(labels)) == 1  # the clip's label
    model = build_model(cfg, splits.meta)
    x = splits.test.frames[0][None].astype("float32")
    assert np.asarray(model([x, np.array([len(x[0])])])).shape == (1, len(x[0]), 101)


def test_tfds_data_set_without_video_is_a_clear_error():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(GalleryError, match="no 'video'"):
            load_frame_data(video_config(), "tfds:mnist")
