"""The exported SavedModel serves raw strings (in a fresh process: tests/test_contract.py)."""

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from gallery.cli import main
from gallery.predicting import predict_batches
from gallery.runs import load_run

REQUESTS = ["a wonderful and superb film", "dull terrible acting", "", "   ",
            "caf\ufffd \u00fcber", "word " * 30000]


@pytest.fixture(scope="module")
def export_dir(task_export):
    """The session's SavedModel of the tiny sentiment run (read only)."""
    return task_export("sentiment")


# default tier: test_export_serves_what_the_model_gives_on_hostile_strings calls
# serving_default with its string input `text` and reads label, probability and
# probabilities (in a fresh interpreter: tests/test_contract.py step 4); this adds
# TensorFlow's own tool, a process that imports all of TensorFlow.
@pytest.mark.slow
def test_saved_model_cli_lists_the_signature(export_dir):
    cli = pathlib.Path(sys.executable).parent / "saved_model_cli"
    if not cli.exists():
        pytest.skip("saved_model_cli is not installed beside this Python")
    result = subprocess.run([str(cli), "show", "--dir", str(export_dir), "--all"],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "signature_def['serving_default']" in out
    assert "inputs['text']" in out and "dtype: DT_STRING" in out
    for name in ("label", "probability", "probabilities"):
        assert f"outputs['{name}']" in out


def test_existing_version_is_not_overwritten(export_dir, tiny_sentiment_run, tmp_path, capsys):
    export_dir = shutil.copytree(export_dir, tmp_path / "sentiment" / "1")  # written into
    before = sorted(p.name for p in export_dir.iterdir())
    assert main(["export", "sentiment", "--model", str(tiny_sentiment_run),
                 "--out", str(export_dir)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in export_dir.iterdir()) == before
    capsys.readouterr()
    assert main(["export", "sentiment", "--model", str(tiny_sentiment_run),
                 "--out", str(export_dir), "--overwrite"]) == 0
    assert not [p for p in export_dir.parent.iterdir() if p.name.startswith(".")]
    # the line names every signature written, read back from saved_model.pb
    assert capsys.readouterr().out.strip() == (f"[sentiment] exported SavedModel to {export_dir} "
                                               "(signatures serving_default, prefixes)")


def test_export_serves_what_the_model_gives_on_hostile_strings(export_dir, tiny_sentiment_run):
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    texts = [text.encode("utf-8") for text in REQUESTS] + [b"\xff\xfe invalid utf-8", b"\x80\x81"]
    out = serve(text=tf.constant(texts))
    _, _, model, meta = load_run(tiny_sentiment_run)
    np.testing.assert_allclose(out["probabilities"], predict_batches(model, texts), atol=1e-6)
    labels = [label.decode() for label in out["label"].numpy()]
    assert labels[:2] == ["pos", "neg"] and set(labels) <= set(meta["labels"])
    assert np.isfinite(out["probability"].numpy()).all()


def test_prefix_signature_equals_the_model_on_each_cut_text(export_dir, tiny_sentiment_run):
    """``prefixes`` row ``t`` is what the Keras model says for the first ``t + 1`` words."""
    served = tf.saved_model.load(str(export_dir)).signatures["prefixes"]
    texts = ["a wonderful and superb film", "dull Terrible, acting", ""]
    out = {k: v.numpy() for k, v in served(text=tf.constant(texts)).items()}
    _, _, model, meta = load_run(tiny_sentiment_run)
    vocabulary = set(model.get_layer("preprocessor").vocabulary)
    assert out["label_names"].tolist() == [[n.encode() for n in meta["labels"]]] * 3
    for row, text in enumerate(texts):
        words = text.lower().replace(",", "").split()
        n = out["lengths"][row]
        assert n == len(words)
        assert [t.decode() for t in out["tokens"][row, :n]] == \
            [w if w in vocabulary else "[UNK]" for w in words]
        if n:
            cut = predict_batches(model, [" ".join(words[:t + 1]) for t in range(n)])
            np.testing.assert_allclose(out["probabilities"][row, :n], cut, atol=1e-5)
            np.testing.assert_allclose(out["probabilities"][row, n:],
                                       np.repeat(cut[-1:], len(out["tokens"][row]) - n, 0),
                                       atol=1e-5)
