"""Every task's export served over HTTP: its request shapes in row and columnar form,
answers equal to calling the SavedModel directly; `gallery serve` in a real process
stops gracefully on SIGTERM."""

import base64
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import write_caption_folder

from gallery.serving.app import build_app, running_in_thread
from gallery.serving.model import ServedModel
from tests.gallery.serving_helpers import http, predict

TASKS = ["sentiment", "translation", "captioning", "frame_tagging", "charlm"]


@pytest.fixture(scope="module")
def served(task_export):
    models = {task: ServedModel(task, task_export(task)) for task in TASKS}
    with running_in_thread(build_app(models, max_batch_size=8, batch_wait_ms=5)) as url:
        yield url, models


def direct(model, inputs, signature="serving_default"):
    """The SavedModel's own answer, as JSON-ready lists."""
    out = model.signatures[signature].function(
        **{key: tf.constant(value) for key, value in inputs.items()})
    return {key: np.vectorize(bytes.decode, otypes=[object])(value.numpy()).tolist()
            if value.dtype == tf.string else value.numpy().tolist() for key, value in out.items()}


def check_both_forms(url, task, column, expected, signature=None, atol=1e-5):
    """The row and columnar requests both give ``expected`` (``{output: list}``)."""
    names = list(column)
    extra = {"signature_name": signature} if signature else {}
    rows = [dict(zip(names, values)) for values in zip(*column.values())]
    instances = [row[names[0]] for row in rows] if len(names) == 1 else rows
    status, by_row = predict(url, task, {**extra, "instances": instances})
    assert status == 200, by_row
    status, by_column = predict(url, task, {**extra, "inputs": column})
    assert status == 200, by_column
    one = len(expected) == 1  # one output: its values, not objects (as TF Serving)
    outputs = {next(iter(expected)): by_column["outputs"]} if one else by_column["outputs"]
    for key, value in expected.items():
        got = by_row["predictions"] if one else [row[key] for row in by_row["predictions"]]
        for answer in (got, outputs[key]):
            if np.asarray(value).dtype.kind == "U":  # labels, tokens, text: equal
                assert answer == value, key
            else:
                np.testing.assert_allclose(np.asarray(answer, float), np.asarray(value, float),
                                           atol=atol, err_msg=key)


def test_sentiment_and_translation_take_text(served):
    url, models = served
    texts = ["a wonderful and superb film", "dull terrible acting", ""]
    check_both_forms(url, "sentiment", {"text": texts},
                     direct(models["sentiment"], {"text": texts}))
    sources = ["12 March 1999", "forty-two"]
    check_both_forms(url, "translation", {"text": sources},
                     direct(models["translation"], {"text": sources}))


def test_captioning_takes_b64_image_bytes(served, tmp_path):
    url, models = served
    write_caption_folder(tmp_path, count=2)
    images = [(tmp_path / f"img{i}.png").read_bytes() for i in range(2)]
    expected = direct(models["captioning"], {"image": images})
    check_both_forms(url, "captioning",
                     {"image": [{"b64": base64.b64encode(b).decode()} for b in images]}, expected)
    status, reply = predict(url, "captioning", {"instances": [{"b64": "bm90IGFuIGltYWdl"}]})
    assert status == 200  # not an image: the model's own answer (no crash, no 500)


def test_frame_tagging_takes_frames_and_lengths(served):
    url, models = served
    shape = models["frame_tagging"].signatures["serving_default"].inputs["frames"][1][2:]
    frames = np.random.default_rng(0).normal(size=(2, 30, *shape)).astype("float32")
    column = {"frames": frames.tolist(), "lengths": [30, 17]}
    expected = direct(models["frame_tagging"], {"frames": frames,
                                                "lengths": np.array([30, 17], np.int32)})
    check_both_forms(url, "frame_tagging", column, expected, atol=1e-4)


def test_charlm_primes_and_generate_with_scalar_knobs(served):
    url, models = served
    primes = ["def ", "ret"]
    check_both_forms(url, "charlm", {"prime": primes}, direct(models["charlm"], {"prime": primes}))
    knobs = {"prime": primes, "length": 7, "temperature": 0.5, "seed": 3}
    expected = direct(models["charlm"], {"prime": primes, "length": np.int32(7),
                                         "temperature": np.float32(0.5), "seed": np.int32(3)},
                      signature="generate")
    status, reply = predict(url, "charlm", {"signature_name": "generate", "inputs": knobs})
    assert status == 200 and reply == {"outputs": expected["text"]}
    status, reply = predict(url, "charlm", {"signature_name": "generate",
                                            "inputs": {**knobs, "length": [7]}})
    assert status == 400 and "'length' has shape [1]" in reply["error"]


def test_every_task_reports_status_and_metadata(served):
    url, _ = served
    for task in TASKS:
        assert http(url, f"/v1/models/{task}/versions/1")[1]["model_version_status"][0][
            "state"] == "AVAILABLE"
        status, meta = http(url, f"/v1/models/{task}/metadata")
        assert status == 200 and "serving_default" in meta["metadata"]["signature_def"][
            "signature_def"]


def start_server(export, *flags):
    """``gallery serve`` in a real process; returns ``(process, url)``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gallery.cli", "serve", "--model", f"sentiment={export}",
         "--port", "0", *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    line = process.stdout.readline()
    assert "serving sentiment at http://" in line, process.stderr.read()[-2000:]
    return process, line.split(" at ")[1].split()[0]


def test_cli_serves_until_sigterm_and_finishes_requests_in_flight(task_export):
    # a long batch wait keeps the request in flight while SIGTERM arrives
    process, url = start_server(task_export("sentiment"), "--batch-wait-ms", "1500")
    try:
        replies = []
        caller = threading.Thread(target=lambda: replies.append(
            predict(url, "sentiment", {"instances": ["a superb film"]})))
        caller.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        caller.join(60)
        assert process.wait(60) == 0
        assert replies and replies[0][0] == 200 and replies[0][1]["predictions"][0]["label"]
        assert "stopped" in process.stderr.read()
    finally:
        process.kill()


def test_cli_refuses_a_bad_model_argument_in_one_line(tmp_path, capsys):
    from gallery.cli import main

    # in a real process (exit code 2, the whole of stderr one line): test_bad_inputs.py's
    # serve-model-without-a-name; the other arguments in this one
    for argument in ["sentiment", f"bad/name={tmp_path}", f"x={tmp_path}"]:
        assert main(["serve", "--model", argument]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("gallery: error:") and "\n" not in err, err
