"""Streaming frame tagging: a chunk of frames and the previous state in, the chunk's
labels and the new state out, through the SavedModel's ``stream`` signature, the
server, the TFLite ``stream`` model and ``gallery predict --input -``; each equals
tagging the whole stream at once, and a state that is not this model's is refused."""

import dataclasses
import json
import os
import select
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from gallery.config import apply_overrides
from gallery.export.saved_model import export_saved_model
from gallery.registry import get_task, task_class_path
from gallery.runs import save_model, write_json
from rnn_gallery.tasks.frame_tagging.config import FrameTaggingConfig
from rnn_gallery.tasks.frame_tagging.model import build_model
from rnn_gallery.tasks.frame_tagging.streaming import FrameStreamer

META = {"labels": ["a", "b", "c"], "channels": 6, "mean": [0.5] * 6, "std": [2.0] * 6}
CHUNKS = (1, 7, 64)


def causal(seed=0, *more):
    config = apply_overrides(FrameTaggingConfig(), [
        "units=8", "frame_units=8", "num_layers=2", "bidirectional=false",
        "frame_encoder=dense", "stream_max_chunk=64", f"seed={seed}", *more])
    import keras

    keras.utils.set_random_seed(seed)
    return config, build_model(config, META)


def whole_labels(model, stream):
    probabilities = np.asarray(model([stream[None], np.array([len(stream)])]))[0]
    return probabilities, probabilities.argmax(-1)


@pytest.fixture(scope="module")
def stream():
    frames = np.random.default_rng(3).normal(size=(150, 6)).astype("float32") * 2
    frames[20, 3] = np.nan  # a broken reading: the channel mean, as in the whole pass
    return frames


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """``{name: (config, model, export)}``: two causal models (other weights, so
    another tag) and a bidirectional one, exported as SavedModels; "other" gives only
    its states (its export is None: no test serves it)."""
    folder, task, out = tmp_path_factory.mktemp("stream-exports"), get_task("frame_tagging"), {}
    for name, (config, model) in {"causal": causal(0), "other": causal(1),
                                  "bidirectional": (FrameTaggingConfig(), build_model(
                                      apply_overrides(FrameTaggingConfig(), ["units=8",
                                                      "frame_units=8"]), META))}.items():
        out[name] = (config, model, None if name == "other" else export_saved_model(
            task, config, model, META, folder / name / "1"))
    return out


def test_stream_signature_equals_the_whole_stream(exports, stream):
    _, model, path = exports["causal"]
    signature = tf.saved_model.load(str(path)).signatures["stream"]
    whole, labels = whole_labels(model, stream)
    for chunk in CHUNKS:
        state, got = np.zeros((1, signature.structured_input_signature[1]["state"].shape[1]),
                              np.float32), []
        for start in range(0, len(stream), chunk):
            answer = signature(frames=tf.constant(stream[None, start:start + chunk]),
                               state=tf.constant(state))
            state = answer["state"].numpy()
            got.append(answer["probabilities"].numpy()[0])
        np.testing.assert_allclose(np.concatenate(got), whole, atol=1e-5)
        assert [v.decode() for v in answer["labels"].numpy()[0]] == [
            META["labels"][k] for k in labels[-len(got[-1]):]]
    assert "stream" not in tf.saved_model.load(str(exports["bidirectional"][2])).signatures


def test_a_state_of_another_model_or_shape_is_refused(exports, stream):
    signature = tf.saved_model.load(str(exports["causal"][2])).signatures["stream"]
    other = FrameStreamer(exports["other"][1])
    _, theirs = other.chunk(stream[None, :5], other.start_state(1))
    width = theirs.shape[1]
    assert FrameStreamer(exports["causal"][1]).tag != other.tag
    frames = tf.constant(stream[None, :5])
    for bad, match in [(theirs, "not a state of this model"),
                       (np.full((1, width), np.nan, np.float32), "not a state of this model"),
                       (np.zeros((1, width + 1), np.float32), "state")]:
        with pytest.raises((tf.errors.InvalidArgumentError, ValueError, TypeError),
                           match=match):
            signature(frames=frames, state=tf.constant(bad, tf.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="a chunk holds 1 to 64 frames"):
        signature(frames=tf.constant(np.zeros((1, 65, 6), np.float32)),
                  state=tf.constant(np.zeros((1, width), np.float32)))


def test_the_server_streams_and_refuses_foreign_states(exports, stream):
    from gallery.serving.app import build_app, running_in_thread
    from gallery.serving.model import ServedModel
    from tests.gallery.serving_helpers import http

    _, model, path = exports["causal"]
    _, labels = whole_labels(model, stream)
    app = build_app({"live": ServedModel("live", path),
                     "both": ServedModel("both", exports["bidirectional"][2])})
    other = FrameStreamer(exports["other"][1])
    with running_in_thread(app) as url:
        for chunk in CHUNKS:
            state, got = None, []
            for start in range(0, len(stream), chunk):
                row = {"frames": np.nan_to_num(stream[start:start + chunk], nan=0.5).tolist()}
                row["state"] = state if state is not None else [0.0] * other.width
                status, reply = http(url, "/v1/models/live:predict",
                                     {"signature_name": "stream", "instances": [row]})
                assert status == 200, reply
                state = reply["predictions"][0]["state"]
                got += reply["predictions"][0]["labels"]
            assert got == [META["labels"][k] for k in labels]  # NaN sent as the mean
        _, foreign = other.chunk(stream[None, :3], other.start_state(1))
        rows = [{"frames": [[0.0] * 6] * 3, "state": foreign.numpy()[0].tolist()}]
        status, reply = http(url, "/v1/models/live:predict",
                             {"signature_name": "stream", "instances": rows})
        assert status == 400 and "not a state of this model" in reply["error"], reply
        assert "\n" not in reply["error"]
        rows[0]["state"] = [0.0] * (other.width + 1)
        status, reply = http(url, "/v1/models/live:predict",
                             {"signature_name": "stream", "instances": rows})
        assert status == 400 and "state" in reply["error"], reply
        status, reply = http(url, "/v1/models/both:predict",
                             {"signature_name": "stream", "instances": rows})
        assert status == 400 and "cannot stream" in reply["error"], reply


@pytest.mark.slow  # two TFLite conversions
def test_tflite_stream_model_equals_the_whole_stream(exports, stream, tmp_path):
    from gallery.export.tflite import export_tflite
    from gallery.export.tflite_runtime import TFLiteModel

    config, model, _ = exports["causal"]
    export_tflite(get_task("frame_tagging"), config, model, META, tmp_path / "live.tflite")
    decoder = TFLiteModel(tmp_path / "live.tflite").decoder
    whole, labels = whole_labels(model, stream)
    for chunk in CHUNKS:
        state, got = None, []
        for start in range(0, len(stream), chunk):
            answer, state = decoder.stream(stream[start:start + chunk], state)
            got.append(answer["probabilities"])
        np.testing.assert_allclose(np.concatenate(got), whole, atol=1e-4)
    signature = tf.saved_model.load(str(exports["causal"][2])).signatures["stream"]
    saved = signature(frames=tf.constant(stream[None, :64]),
                      state=tf.constant(decoder.start_state()[None]))["state"].numpy()[0]
    _, mine = decoder.stream(stream[:64])
    np.testing.assert_allclose(mine, saved, atol=1e-4)  # the same state layout and tag
    other = FrameStreamer(exports["other"][1])
    _, theirs = other.chunk(stream[None, :3], other.start_state(1))
    with pytest.raises(ValueError, match="not a state of this model"):
        decoder.stream(stream[:3], theirs.numpy()[0])
    with pytest.raises(ValueError, match="state: this model's state is"):
        decoder.stream(stream[:3], np.zeros(5))
    with pytest.raises(ValueError, match="a chunk holds 1 to 64 frames"):
        decoder.stream(np.zeros((65, 6)))


def write_run(folder, config, model):
    """A run folder as ``gallery train`` writes one (untrained weights will do: the
    test compares the streamed labels with the same model's whole-stream labels)."""
    folder.mkdir(parents=True)
    save_model(model, folder / "model.keras")
    write_json(folder / "config.json", dataclasses.asdict(config))
    task = get_task("frame_tagging")
    write_json(folder / "meta.json", {**META, "task": task.name,
                                      "task_class": task_class_path(task)})
    return folder


def predict_stdin(run, *more):
    return subprocess.Popen(
        [sys.executable, "-m", "gallery.cli", "predict", "frame_tagging", "--model", str(run),
         "--input", "-", *more], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def read_lines(process, count, seconds=120):
    """``count`` lines of the process's stdout, waiting at most ``seconds``."""
    lines, deadline, buffer = [], time.monotonic() + seconds, b""
    while len(lines) < count and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            data = os.read(process.stdout.fileno(), 1 << 16)
            assert data, process.stderr.read().decode()[-2000:]
            buffer += data
            *complete, buffer = buffer.split(b"\n")
            lines += [json.loads(line) for line in complete]
    return lines


def test_predict_stdin_labels_frames_as_they_arrive(tmp_path, stream):
    config, model = causal(0, "stream_chunk=16")
    run = write_run(tmp_path / "run", config, model)
    _, labels = whole_labels(model, stream)
    process = predict_stdin(run)
    try:
        text = ["ax,ay,az,gx,gy,gz"] + [",".join("" if np.isnan(v) else f"{v:.9g}" for v in row)
                                        for row in stream]
        process.stdin.write(("\n".join(text[:41]) + "\n").encode())  # header + 40 frames
        process.stdin.flush()
        first = read_lines(process, 40)  # answered while stdin is still open
        assert len(first) == 40 and process.poll() is None
        process.stdin.write(("\n".join(text[41:]) + "\n").encode())
        process.stdin.close()
        rest = read_lines(process, len(stream) - 40)
        assert process.wait(120) == 0, process.stderr.read().decode()[-2000:]
    finally:
        process.kill()
    got = first + rest
    assert [row["frame"] for row in got] == list(range(len(stream)))
    assert [row["label"] for row in got] == [META["labels"][k] for k in labels]


# default tier: a bidirectional model's refusal is test_bad_inputs.py's
# stdin-stream-of-a-bidirectional-model case (in its one driver process); "bad line"
# (a StreamRows error, as in a .csv file) was in the slow tier already
@pytest.mark.slow
@pytest.mark.parametrize("case", ["bidirectional", "bad line"])
def test_predict_stdin_refusals_are_one_line(tmp_path, case):
    if case == "bidirectional":
        config = apply_overrides(FrameTaggingConfig(), ["units=8", "frame_units=8"])
        run = write_run(tmp_path / "run", config, build_model(config, META))
        data, expected = b"1,2,3,4,5,6\n", "cannot stream"
    else:
        run = write_run(tmp_path / "run", *causal(0))
        data, expected = b"1,2,3,4,5,6\n1,2,3\n", "stdin:2: 3 numbers"
    process = predict_stdin(run)
    _, err = process.communicate(data, timeout=300)
    lines = err.decode().strip().splitlines()
    assert process.returncode == 2 and len(lines) == 1, err.decode()[-2000:]
    assert lines[0].startswith("gallery: error: ") and expected in lines[0]
