"""The contract every registered task keeps, checked the same way for each one.

For the task's ``tiny`` profile: train, evaluate, export, serve the export in a fresh
interpreter with plain TensorFlow (nothing of ours importable), predict from the CLI,
fine-tune; and, in a test of its own, interrupt training and resume it to the same
metrics. The gallery's own tasks come from the registry; ``majority`` is the
third-party task of ``tests/third_party`` (installed by the ``third_party_path``
fixture).
"""

import base64
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import serve_in_fresh_process, write_photo_folder

from gallery import registry
from gallery.cli import main
from gallery.finetune import finetune
from gallery.profiles import make_config
from gallery.runs import load_run, read_json
from gallery.training import train

#: Reads the request (serialized tensors, JSON on stdin), calls ``serving_default`` and
#: prints the response the same way, and whether anything of ours was imported.
SERVE = """
import base64, json, sys
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
request = {key: tf.io.parse_tensor(base64.b64decode(data), tf.as_dtype(dtype))
           for key, (dtype, data) in json.loads(sys.stdin.read()).items()}
response = serve(**request)
ours = sorted(m for m in sys.modules if m.split(".")[0] in ("gallery", "rnn_gallery", "tasks"))
print(json.dumps({"ours": ours, "response": {
    key: [value.dtype.name, base64.b64encode(tf.io.serialize_tensor(value).numpy()).decode()]
    for key, value in response.items()}}))
"""

#: Each case: a registered task with its ``tiny`` profile on its default data, the
#: third-party ``majority``, and captioning's photo path (``photos_tiny`` on a small
#: generated folder of photos).
TASKS = [*registry.task_names(), "majority", "captioning:photos"]


def encode(tensors):
    return {key: [value.dtype.name, base64.b64encode(tf.io.serialize_tensor(value).numpy())
                  .decode()] for key, value in tensors.items()}


def decode(encoded):
    return {key: tf.io.parse_tensor(base64.b64decode(data), tf.as_dtype(dtype)).numpy()
            for key, (dtype, data) in encoded.items()}


class Interrupt(keras.callbacks.Callback):
    """Stops training like Ctrl-C at the start of the second epoch (after the first
    epoch's checkpoint is written)."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


#: Resuming is the generic training loop's, the same for every task: the default tier
#: checks it on sentiment, the slow tier on every case.
RESUME_DEFAULT_TIER = ("sentiment",)


def _case(request):
    """The case's name, the third-party package installed for ``majority``."""
    if request.param == "majority":
        request.getfixturevalue("third_party_path")
    return request.param


#: The photo case builds, exports and serves a whole EfficientNet-Lite0 (a quarter of
#: the contract's CPU time): the slow tier runs it; the default tier trains the photo
#: model (``tiny_photo_run``), round-trips it through ``.keras``
#: (``test_captioning_photos.py``) and serves its export (the web page's photo panel).
CONTRACT_SLOW_TIER = ("captioning:photos",)


@pytest.fixture(params=[pytest.param(name, marks=pytest.mark.slow if name in CONTRACT_SLOW_TIER
                                     else ()) for name in TASKS])
def task_name(request):
    return _case(request)


@pytest.fixture(params=[pytest.param(name, marks=() if name in RESUME_DEFAULT_TIER
                                     else pytest.mark.slow) for name in TASKS])
def resumed_task_name(request):
    return _case(request)


def profile_and_data(task_name, tmp_path):
    """``(task, profile, data source or None, the --data arguments)`` of a case."""
    task_name, _, path = task_name.partition(":")
    task = registry.get_task(task_name)
    profile, data = "tiny", None
    if path == "photos":
        profile, data = "photos_tiny", f"captions:{write_photo_folder(tmp_path / 'photos')}"
    assert profile in task.profiles, "every task has a tiny profile for this test"
    return task, profile, data, ["--data", data] if data else []


def test_the_task_contract(task_name, tmp_path, capsys):
    task, profile, data, data_args = profile_and_data(task_name, tmp_path)
    task_name = task.name
    run, export = tmp_path / "run", tmp_path / "export"

    # 1. train
    assert main(["train", task_name, "--profile", profile, "--out", str(run), *data_args]) == 0
    metrics = read_json(run / "metrics.json")
    assert np.isfinite(metrics[task.metric]) and metrics["epochs_run"] == 2
    meta = read_json(run / "meta.json")
    assert meta["task"] == task_name and meta["data"] == data
    assert meta["task_class"] == registry.task_class_path(task)

    # 2. evaluate: the saved model scores what the trained one scored
    capsys.readouterr()
    assert main(["evaluate", task_name, "--model", str(run)]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated[task.metric] == pytest.approx(metrics[task.metric], abs=1e-6)

    # 3. export, 4. served in a fresh process by plain TensorFlow: what the model serves
    assert main(["export", task_name, "--model", str(run), "--out", str(export)]) == 0
    task, config, model, meta = load_run(run)
    splits = task.load_data(config, data)
    request = task.demo_request(splits)
    served = serve_in_fresh_process(SERVE, export, stdin=json.dumps(encode(request)))
    assert served["ours"] == []
    expected = {key: np.asarray(value) for key, value in
                task.serving_function(config, model, meta)(**request).items()}
    response = decode(served["response"])
    assert response.keys() == expected.keys()
    for key, value in expected.items():
        if value.dtype == object:
            assert response[key].tolist() == value.tolist(), key
        else:
            np.testing.assert_allclose(response[key], value, atol=1e-5, err_msg=key)

    # 5. predict from the CLI: one JSON line per input
    inputs = task.predict_examples(splits, tmp_path)
    capsys.readouterr()
    assert main(["predict", task_name, "--model", str(run), *inputs]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(inputs) and all(isinstance(row, dict) for row in rows)

    # 6. fine-tune (on the task's default data, one epoch): a new run, same model facts
    tuned, tuned_metrics = finetune(run, data, overrides=["epochs=1"], out_dir=tmp_path / "ft")
    tuned_meta = read_json(tuned / "meta.json")
    assert tuned_meta["finetuned_from"] == str(run)
    assert {key: tuned_meta.get(key) for key in task.model_meta_keys} == \
        {key: meta.get(key) for key in task.model_meta_keys}
    assert np.isfinite(tuned_metrics[task.metric])


def test_an_interrupted_run_resumes_to_the_same_metrics(resumed_task_name, tmp_path, capsys):
    """Trained once whole, then interrupted after epoch 1 and resumed by the same
    command: the same final metrics."""
    task, profile, data, data_args = profile_and_data(resumed_task_name, tmp_path)
    task_name = task.name
    run = tmp_path / "run"
    assert main(["train", task_name, "--profile", profile, "--out", str(run), *data_args]) == 0
    metrics = read_json(run / "metrics.json")
    again = tmp_path / "again"
    interrupted = registry.get_task(task_name)
    callbacks = interrupted.callbacks
    interrupted.callbacks = lambda config, model, splits: [*callbacks(config, model, splits),
                                                           Interrupt()]
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, make_config(interrupted, profile), source=data, out_dir=again)
    assert (again / "checkpoint").is_dir() and not (again / "model.keras").exists()
    capsys.readouterr()
    assert main(["train", task_name, "--profile", profile, "--out", str(again), *data_args]) == 0
    assert f"resuming {again} after epoch 1" in capsys.readouterr().out
    resumed = read_json(again / "metrics.json")
    assert resumed["epochs_run"] == metrics["epochs_run"]
    for key, value in metrics.items():
        if isinstance(value, float) and key != "train_seconds":
            assert resumed[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
