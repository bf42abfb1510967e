"""Frame tagging on one long stream: the ActRecTut reader, time split, windows, stitching."""

import numpy as np
import pytest

from gallery.errors import GalleryError
from gallery.profiles import make_config
from rnn_gallery.tasks.frame_tagging.actrectut import load_actrectut, read_actrectut
from rnn_gallery.tasks.frame_tagging.task import FrameTaggingTask, windowed_probabilities

scipy_io = pytest.importorskip("scipy.io")
NAMES = ["null", "Open window", "Drink"]


def write_subject(folder, steps=2000, seed=0, with_info=True):
    """A small ActRecTut-like subject: 15 channels, labels 1..3 (1 = null) in runs."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(rng.integers(1, 4, size=steps // 50), 50)[:steps]
    data = rng.normal(size=(steps, 15)) * 100 + labels[:, None] * 300
    folder.mkdir(parents=True, exist_ok=True)
    scipy_io.savemat(folder / "subject1_gesture.mat",
                     {"data": data, "labels": labels[:, None].astype(np.uint8)})
    if with_info:
        names = np.empty((1, len(NAMES)), dtype=object)
        names[0, :] = [np.array([n]) for n in NAMES]
        scipy_io.savemat(folder / "information_gesture.mat", {"labelnames": names})
    return data, labels


def config(*items):
    return make_config(FrameTaggingTask(), source="actrectut:x", overrides=items)


def test_reader_names_classes_from_the_information_file(tmp_path):
    data, labels = write_subject(tmp_path)
    frames, named, names = read_actrectut(tmp_path)
    assert frames.shape == (2000, 15) and frames.dtype == np.float32
    assert names == NAMES
    np.testing.assert_array_equal(named, np.array(NAMES)[labels - 1])
    write_subject(tmp_path / "bare", with_info=False)
    assert read_actrectut(tmp_path / "bare" / "subject1_gesture.mat")[2] == [
        "class 1", "class 2", "class 3"]


def test_time_split_windows_and_statistics(tmp_path):
    data, _ = write_subject(tmp_path)
    splits = load_actrectut(config("window=100", "train_streams=30"), tmp_path)
    assert len(splits.test) == 1 and len(splits.test.frames[0]) == 600  # the last 30 %
    assert sum(len(f) for f in splits.validation.frames) == 200          # 60 %–70 %
    assert all(len(f) == 100 for f in splits.train.frames) and len(splits.train) == 30
    fit = data[:1200].astype(np.float32)
    starts = {int(np.flatnonzero((fit == w[0]).all(axis=1))[0]) for w in splits.train.frames}
    assert max(starts) <= 1100                                           # inside the first 60 %
    np.testing.assert_allclose(splits.meta["mean"], fit.mean(axis=0), rtol=1e-4)
    assert splits.train.fresh(1).frames[0].tolist() != splits.train.fresh(2).frames[0].tolist()
    assert splits.meta["source"].startswith("actrectut:")


@pytest.mark.parametrize("content", [b"", b"not a mat file at all"])
def test_bad_files_are_clear_errors(tmp_path, content):
    (tmp_path / "subject1_gesture.mat").write_bytes(content)
    with pytest.raises(GalleryError, match="subject1_gesture.mat"):
        read_actrectut(tmp_path)
    with pytest.raises(GalleryError, match="does not exist"):
        read_actrectut(tmp_path / "nowhere")


def test_stitched_windows_cover_every_frame_once_weighted():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(1037, 3)).astype(np.float32)
    calls = []

    def per_frame(streams):  # each frame's output depends only on the frame itself
        calls.append([len(s) for s in streams])
        return [np.stack([np.tanh(s[:, 0]), 1 - np.tanh(s[:, 0])], axis=1) for s in streams]

    stitched = windowed_probabilities(per_frame, frames, window=100, hop=30)
    np.testing.assert_allclose(stitched, per_frame([frames])[0], atol=1e-6)
    assert all(n == 100 for batch in calls[:-1] for n in batch)
    short = windowed_probabilities(per_frame, frames[:60], window=100, hop=50)
    assert short.shape == (60, 2)


def test_windowed_evaluation_labels_the_whole_stream(tmp_path):
    write_subject(tmp_path, steps=1500)
    cfg = config("window=64", "window_hop=16", "units=8", "frame_units=8", "num_layers=1")
    task = FrameTaggingTask()
    splits = task.load_data(cfg, f"actrectut:{tmp_path}")
    model = task.build_model(cfg, splits)
    metrics = task.evaluate(cfg, model, splits.test, splits.meta)
    assert metrics["frames"] == 450 and 0 <= metrics["accuracy"] <= 1


def test_real_subject_one(shared_data):
    folder = shared_data / "actrectut"
    if not (folder / "subject1_gesture.mat").is_file():
        pytest.skip("no ActRecTut subject 1 in the shared data")
    splits = load_actrectut(config(), folder)
    assert splits.meta["channels"] == 15 and len(splits.meta["labels"]) == 12
    assert len(splits.test.frames[0]) == 62480 - int(0.7 * 62480)
    assert "null" in splits.meta["labels"]
