"""The REST server against a small hand-made SavedModel: TF Serving's request and
response shapes, every error case, server-side batching."""

import asyncio
import base64
import concurrent.futures

import numpy as np
import pytest
import tensorflow as tf

from gallery.serving.app import build_app, running_in_thread
from gallery.serving.batching import Batcher
from gallery.serving.limits import Limits
from gallery.serving.model import ServedModel
from tests.gallery.serving_helpers import http, predict


class Toy(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def echo(self, text):
        return {"length": tf.strings.length(text), "upper": tf.strings.upper(text),
                "raw_bytes": text}

    @tf.function(input_signature=[tf.TensorSpec([None, None, 2], tf.float32, name="frames"),
                                  tf.TensorSpec([None], tf.int32, name="lengths")])
    def frames(self, frames, lengths):
        tf.debugging.assert_non_negative(lengths, message="lengths must be >= 0")
        mask = tf.sequence_mask(lengths, tf.shape(frames)[1], dtype=tf.float32)
        return {"total": tf.reduce_sum(frames * mask[..., None], axis=[1, 2])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x"),
                                  tf.TensorSpec([], tf.int32, name="power")])
    def power(self, x, power):
        return {"y": x ** tf.cast(power, tf.float32)}


@pytest.fixture(scope="module")
def toy_export(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "toy" / "3"
    toy = Toy()
    tf.saved_model.save(toy, str(path), signatures={
        "serving_default": toy.echo, "frames": toy.frames, "power": toy.power})
    return path


@pytest.fixture(scope="module")
def url(toy_export):
    app = build_app({"toy": ServedModel("toy", toy_export.parent)},  # version folder found
                    Limits(max_body_mb=4096 / 2**20), max_batch_size=8, batch_wait_ms=20)
    with running_in_thread(app) as base:
        yield base


def test_status_and_metadata_have_tf_serving_shapes(url):
    status, reply = http(url, "/v1/models/toy")
    assert status == 200 and reply == {"model_version_status": [{
        "version": "3", "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}]}
    assert http(url, "/v1/models/toy/versions/3")[1] == reply
    status, meta = http(url, "/v1/models/toy/metadata")
    assert status == 200 and meta["model_spec"] == {"name": "toy", "signature_name": "",
                                                    "version": "3"}
    definitions = meta["metadata"]["signature_def"]["signature_def"]
    echo = definitions["serving_default"]
    assert echo["method_name"] == "tensorflow/serving/predict"
    assert echo["inputs"]["text"]["dtype"] == "DT_STRING"
    assert echo["inputs"]["text"]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert sorted(echo["outputs"]) == ["length", "raw_bytes", "upper"]
    assert [d["size"] for d in definitions["frames"]["inputs"]["frames"]["tensor_shape"]
            ["dim"]] == ["-1", "-1", "2"]


def test_row_and_columnar_forms_give_the_same_numbers(url):
    status, rows = predict(url, "toy", {"instances": ["ab", "caf\u00e9"]})
    assert status == 200
    assert rows["predictions"] == [
        {"length": 2, "upper": "AB", "raw_bytes": {"b64": base64.b64encode(b"ab").decode()}},
        {"length": 5, "upper": "CAF\u00c9".replace("\u00c9", "\u00e9"),
         "raw_bytes": {"b64": base64.b64encode("caf\u00e9".encode()).decode()}}]
    status, columns = predict(url, "toy", {"inputs": {"text": ["ab", "caf\u00e9"]}})
    assert status == 200
    assert columns["outputs"] == {key: [row[key] for row in rows["predictions"]]
                                  for key in ("length", "upper", "raw_bytes")}
    assert predict(url, "toy", {"inputs": ["ab", "caf\u00e9"]})[1] == columns

    frames = [[[1, 2], [3, 4], [100, 100]], [[0.5, 0.5], [1, 1], [1, 1]]]
    row = {"signature_name": "frames",
           "instances": [{"frames": f, "lengths": n} for f, n in zip(frames, [2, 3])]}
    column = {"signature_name": "frames", "inputs": {"frames": frames, "lengths": [2, 3]}}
    assert predict(url, "toy", row) == (200, {"predictions": [10.0, 5.0]})
    assert predict(url, "toy", column) == (200, {"outputs": [10.0, 5.0]})


def test_bytes_in_b64_and_scalars_in_columnar_form(url):
    raw = b"\xff\xfeab"
    status, reply = predict(url, "toy", {"instances": [{"b64": base64.b64encode(raw).decode()}]})
    assert status == 200 and reply["predictions"][0]["length"] == 4
    assert base64.b64decode(reply["predictions"][0]["raw_bytes"]["b64"]) == raw
    status, reply = predict(url, "toy", {"signature_name": "power",
                                         "inputs": {"x": [1.5, 2.0], "power": 2}})
    assert (status, reply) == (200, {"outputs": [2.25, 4.0]})


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 400, "malformed JSON"),
    (b"[1, 2]", 400, "JSON object"),
    ({"instances": ["a"], "inputs": ["a"]}, 400, "exactly one"),
    ({"instances": []}, 400, "non-empty"),
    ({"instances": [{"txt": "a"}]}, 400, "unknown input 'txt'"),
    ({"inputs": {"text": ["a"], "other": [1]}}, 400, "unknown input 'other'"),
    ({"signature_name": "frames", "inputs": {"frames": [[[1, 2]]]}}, 400, "missing input"),
    ({"instances": [3]}, 400, "expected a string"),
    ({"instances": [{"b64": "***"}]}, 400, "DT_STRING"),
    ({"signature_name": "frames", "inputs": {"frames": [[["1", 2]]], "lengths": [1]}},
     400, "expected a number"),
    ({"signature_name": "frames", "inputs": {"frames": [[[1, 2]]], "lengths": [1.5]}},
     400, "whole number"),
    ({"signature_name": "frames", "inputs": {"frames": [[1, 2]], "lengths": [1]}},
     400, "shape [1, 2]; the signature takes [-1, -1, 2]"),
    ({"signature_name": "frames", "inputs": {"frames": [[[1, 2, 3]]], "lengths": [1]}},
     400, "takes [-1, -1, 2]"),
    ({"signature_name": "frames", "inputs": {"frames": [[[1, 2]], [[1, 2], [3, 4]]],
                                             "lengths": [1, 2]}}, 400, "ragged"),
    ({"signature_name": "frames", "inputs": {"frames": [[[1, 2]]], "lengths": [-1]}},
     400, "lengths must be >= 0"),
    ({"signature_name": "power", "instances": [{"x": 1.0, "power": 2}]}, 400, "columnar"),
    ({"signature_name": "nope", "instances": ["a"]}, 400, "'nope' not found"),
    ({"instances": ["x" * 5000]}, 413, "limit of 4096 bytes"),
])
def test_bad_requests_get_one_json_error(url, body, status, words):
    got, reply = predict(url, "toy", body)
    assert got == status and words in reply["error"], reply


@pytest.mark.parametrize("method, path, status, words", [
    ("POST", "/v1/models/missing:predict", 404, "Servable not found for request: Latest("),
    ("GET", "/v1/models/missing", 404, "Servable not found"),
    ("GET", "/v1/models/toy/versions/2", 404, "Specific(toy, 2)"),
    ("GET", "/v1/models/toy/labels/stable", 404, "Labeled(toy, stable)"),
    ("GET", "/v2/anything", 404, "Not Found"),
    ("GET", "/v1/models/toy:predict", 405, "Method Not Allowed"),
    ("POST", "/v1/models/toy:classify", 400, ":predict only"),
])
def test_unknown_models_and_paths(url, method, path, status, words):
    got, reply = http(url, path, b"{}" if method == "POST" else None, method=method)
    assert got == status and words in reply["error"], reply


def test_concurrent_requests_are_batched_and_a_bad_one_fails_alone(url):
    def call(i):
        lengths = -1 if i == 5 else 1
        return predict(url, "toy", {"signature_name": "frames",
                                    "instances": [{"frames": [[i, 1.0]], "lengths": lengths}]})
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(call, range(12)))
    for i, (status, reply) in enumerate(replies):
        if i == 5:
            assert status == 400 and "lengths must be >= 0" in reply["error"]
        else:
            assert (status, reply) == (200, {"predictions": [i + 1.0]})


class Recorder:
    """A signature stand-in that records the batch sizes it is called with."""
    name, batchable = "recorder", True

    def __init__(self):
        self.calls = []

    def __call__(self, inputs):
        self.calls.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2}


@pytest.mark.parametrize("max_batch_size, calls", [(1, [15]), (4, [4, 5, 6]), (64, [1])])
def test_batcher_joins_concurrent_requests(max_batch_size, calls):
    recorder = Recorder()
    batcher = Batcher(threads=1, max_batch_size=max_batch_size, wait=0.05)

    async def main():
        requests = [np.full([1 + i % 2, 3], float(i)) for i in range(10)]  # 15 rows
        return requests, await asyncio.gather(
            *(batcher.run(recorder, {"x": x}, len(x)) for x in requests))
    requests, results = asyncio.run(main())
    batcher.close()
    for x, result in zip(requests, results):
        np.testing.assert_array_equal(result["y"], x * 2)
    assert sum(recorder.calls) == 15 and len(recorder.calls) in calls
    assert max(recorder.calls) <= max_batch_size  # a 2-row request is split for 1
