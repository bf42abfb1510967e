"""The character language model: seed example §6, stateful TBPTT, sampling, export, CLI."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from gallery.cli import main
from gallery.config import apply_overrides
from gallery.runs import load_run
from gallery.training import ResetRecurrentStates
from rnn_gallery.tasks.charlm.characters import UNKNOWN_ID, CharacterIds
from rnn_gallery.tasks.charlm.config import CharLMConfig
from rnn_gallery.tasks.charlm.model import CharStepper, build_model
from rnn_gallery.tasks.charlm.task import chunk_batches, encode_text


def config(*items, **changes):
    return apply_overrides(CharLMConfig(), list(items) + [f"{k}={v}" for k, v in changes.items()])


@pytest.mark.slow  # 150 epochs of training
def test_hello_worked_example_6():
    """docs/worked_examples.md §6: after training on "hello", h→e, he→l, hel→l, hell→o."""
    vocabulary = ["e", "h", "l", "o"]
    cfg = config(units=16, embedding_dim=8, batch_size=1, learning_rate=0.05)
    model = build_model(cfg, len(vocabulary))
    core = model.core
    core.compile(keras.optimizers.Adam(0.05),
                 keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = encode_text("hell", vocabulary)[None]
    y = encode_text("ello", vocabulary)[None]
    core.fit(x, y, epochs=150, batch_size=1, verbose=0, callbacks=[ResetRecurrentStates()])
    stepper = CharStepper(model, vocabulary)
    logits, _ = stepper.run(tf.constant(x), stepper.zero_state(1))
    predicted = stepper.decode(tf.argmax(logits, -1, output_type=tf.int32)).numpy()[0]
    assert predicted.decode() == "ello"  # the same input "l" → "l", then "o"
    greedy = stepper.generate(tf.constant(["h"]), 4, 0.0, 0).numpy()[0].decode()
    assert greedy == "ello"


def test_the_saved_models_text_ids_are_the_character_layouts():
    """CharStepper's text ⇄ ids (in the graph) asks CharacterIds: the same ids, the
    unknown id for characters outside the vocabulary, its table back to text."""
    vocabulary = ["a", "b", "é", " "]
    owner = CharacterIds(vocabulary)
    model = build_model(config(units=4, embedding_dim=2, batch_size=1), len(vocabulary))
    stepper = CharStepper(model, vocabulary)
    text = "ab éz?"
    ids, lengths = stepper.encode(tf.constant([text]))
    np.testing.assert_array_equal(ids.numpy()[0], owner.encode(text))
    assert owner.encode("z")[0] == UNKNOWN_ID and int(lengths[0]) == len(text)
    shown = stepper.decode(ids).numpy()[0].decode()
    assert shown == "".join(owner.id_to_char()[i] for i in owner.encode(text)) == "ab é\ufffd\ufffd"


def test_chunks_continue_each_stream():
    ids = np.arange(1, 203, dtype=np.int32)  # 2 streams of 101: 10 chunks + 1 target
    x, y = chunk_batches(ids, batch=2, length=10)
    assert x.shape == y.shape == (10, 2, 10)
    np.testing.assert_array_equal(y, x + 1)  # targets: the next character
    np.testing.assert_array_equal(x[1, 0, 0], x[0, 0, -1] + 1)  # batch i+1 continues batch i
    np.testing.assert_array_equal(x[0, 1, 0], 102)  # stream 1 starts halfway


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
def test_stateful_chunks_equal_one_pass_over_the_stream(cell):
    """Carrying the state across chunks (TBPTT) computes what one long pass computes."""
    cfg = config(cell=cell, units=12, embedding_dim=6, batch_size=2, num_layers=2)
    model = build_model(cfg, 20)
    core = model.core
    stream = np.random.default_rng(0).integers(0, 21, (2, 40)).astype("int32")
    ResetRecurrentStates().set_model(core)
    reset = ResetRecurrentStates()
    reset.set_model(core)
    reset.on_epoch_begin(0)
    chunked = np.concatenate([np.asarray(core(stream[:, i:i + 10])) for i in range(0, 40, 10)],
                             axis=1)
    stepper = CharStepper(model, [chr(65 + i) for i in range(20)])
    whole, _ = stepper.run(tf.constant(stream), stepper.zero_state(2))
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    reset.on_epoch_begin(1)  # and a reset starts from zero again
    np.testing.assert_allclose(core(stream[:, :10]), whole[:, :10], atol=1e-5)


@pytest.fixture
def tiny_run(tiny_charlm_run):
    return tiny_charlm_run


def test_run_folder_and_metrics(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert 0 < metrics["bits_per_char"] < 3  # the text repeats: far below log2(V)
    assert "temperature 0.5" in (tiny_run / "samples.txt").read_text()


def test_sampling_is_seeded_and_temperature_zero_is_greedy(tiny_run):
    task, cfg, model, meta = load_run(tiny_run)
    a = task.generate(cfg, model, meta, ["def ", "ret"])
    assert a == task.generate(cfg, model, meta, ["def ", "ret"])
    assert all(len(t) == cfg.sample_length for t in a)
    greedy = apply_overrides(cfg, ["temperature=0", "sample_length=30"])
    text = task.generate(greedy, model, meta, ["def add(a, b):\n    return"])[0]
    assert text.startswith(" a + b")  # learnt the repeated text


def test_predict_cli_with_settings(tiny_run, capsys):
    assert main(["predict", "charlm", "--model", str(tiny_run), "--set", "temperature=0",
                 "--set", "sample_length=5", "def add", "", "\udcff\udcfe"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [len(r["text"]) for r in rows] == [5, 5, 5] and rows[0]["temperature"] == 0.0
    assert rows[2]["prime"] == "\ufffd\ufffd"  # argv bytes that are not UTF-8


SERVE = """
import json, sys
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
primes = tf.constant([b"def ", b"", "\\u263a\\u4e2d".encode(), b"\\xff\\xfe", b"x" * 10000])
out = loaded.signatures["serving_default"](prime=primes)
gen = loaded.signatures["generate"](prime=primes[:1], length=tf.constant(7),
                                    temperature=tf.constant(0.0), seed=tf.constant(3))
ours = any(m.startswith(("gallery", "tasks")) for m in sys.modules)
print(json.dumps({"text": [t.decode("utf-8", "replace") for t in out["text"].numpy()],
                  "greedy": gen["text"].numpy()[0].decode(), "ours": ours}))
"""


def test_export_generates_in_a_fresh_process(tiny_run, task_export):
    out = task_export("charlm")  # `gallery export charlm` of the tiny run, shared
    result = subprocess.run([sys.executable, "-c", SERVE, str(out)], capture_output=True,
                            text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            cwd=pathlib.Path(out).anchor, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["ours"] is False
    task, cfg, model, meta = load_run(tiny_run)
    assert [len(t) for t in served["text"]] == [cfg.sample_length] * 5
    assert served["text"][0] == task.generate(cfg, model, meta, ["def "])[0]
    greedy = apply_overrides(cfg, ["temperature=0", "sample_length=7"])
    assert served["greedy"] == task.generate(greedy, model, meta, ["def "])[0]


def test_bad_text_files(tmp_path, capsys):
    short = tmp_path / "short.txt"
    short.write_text("too short")
    for data in (short, tmp_path / "missing.txt", "tfds:imdb_reviews"):
        assert main(["train", "charlm", "--data", str(data), "--out", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("gallery: error:") and "\n" not in err


# trains; default tier: fine-tuning charlm: tests/test_contract.py step 6; a text file
# as data: the tiny run (conftest's tiny_charlm_run); `gallery finetune`'s command line:
# tests/tasks/test_sentiment_finetune.py
@pytest.mark.slow
def test_finetune_on_new_text_lowers_its_bits_per_char(tiny_run, tmp_path):
    text = tmp_path / "other.txt"
    text.write_text(("while x < 10:\n    x += 1\n" * 400)[:6000])
    assert main(["finetune", "charlm", "--from", str(tiny_run), "--data", str(text),
                 "--out", str(tmp_path / "tuned"), "--set", "epochs=2"]) == 0
    tuned = json.loads((tmp_path / "tuned" / "metrics.json").read_text())["finetune"]
    assert tuned["validation_bits_per_char_after"] < tuned["validation_bits_per_char_before"]
