"""`gallery export --format tflite`: built-in ops only, and gallery.tflite's answers
equal the SavedModel's on held-out inputs (labels equal, probabilities within 1e-4)."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import write_caption_folder

from gallery.cli import main
from gallery.errors import GalleryError
from gallery.images import decode_image_batch
from gallery.layers.text import TextToIds
from gallery.runs import load_run
from gallery.tflite import TFLiteModel, text_to_ids
from gallery.tflite_export import builtin_op_names, convert, model_ops
from rnn_gallery.tasks.captioning.model import Captioner
from rnn_gallery.tasks.translation.model import Translator

HELD_OUT = ["a wonderful and superb film", "Dull, TERRIBLE acting!!", "", "   ",
            "the plot's \"twists\" were clumsy; tedious-ish", "caf\u00e9 \u00dcBER moving",
            "unseenword another unseen one", "great " * 150]


def export(task, run, tmp_path):
    out = tmp_path / f"{task}.tflite"
    assert main(["export", task, "--model", str(run), "--format", "tflite",
                 "--out", str(out)]) == 0
    return out


def check_ops(path, loop=True):
    """Every model file's ops are built in (and listed in the side file)."""
    info = json.loads(path.with_suffix(".json").read_text())
    ops = set().union(*(model_ops((path.parent / name).read_bytes())
                        for name in info["models"].values()))
    assert ops == set(info["ops"]) and ops <= builtin_op_names()
    if loop:  # the recurrent loop is TFLite's own WHILE, not unrolled away
        assert "WHILE" in ops
    return info


def test_sentiment_tflite_equals_the_saved_model(tiny_sentiment_run, task_export, tmp_path):
    path = export("sentiment", tiny_sentiment_run, tmp_path)
    check_ops(path)
    served = tf.saved_model.load(str(task_export("sentiment"))).signatures["serving_default"]
    expected = served(text=tf.constant(HELD_OUT))
    got = TFLiteModel(path).predict(HELD_OUT)
    assert [r["label"] for r in got] == [v.decode() for v in expected["label"].numpy()]
    np.testing.assert_allclose([r["probabilities"] for r in got],
                               expected["probabilities"].numpy(), atol=1e-4)


@pytest.mark.parametrize("mode", ["words", "words_punct", "chars"])
def test_python_tokens_match_text_to_ids(mode):
    vocabulary = ["the", "plot", "s", "twists", "were", "caf\u00e9", "great", "Dull", ",", "!",
                  "t", "e", " ", "a", "\"", "-", "ish", "moving", "\u00dcBER", "dull"]
    layer = TextToIds(vocabulary, max_length=40, tokens=mode)
    index = {w: i + 2 for i, w in enumerate(vocabulary)}
    for text in HELD_OUT:
        expected = layer(tf.constant([text])).numpy()[0]
        got = text_to_ids(text, index, 40, mode)[0]
        np.testing.assert_array_equal(got[:len(expected)], expected, err_msg=text)
        assert not got[len(expected):].any()


def test_frame_tagging_tflite_equals_the_saved_model(tiny_frame_tagging_run, task_export,
                                                     tmp_path):
    path = export("frame_tagging", tiny_frame_tagging_run, tmp_path)
    info = check_ops(path)
    served = tf.saved_model.load(str(task_export("frame_tagging"))).signatures[
        "serving_default"]
    model, rng = TFLiteModel(path), np.random.default_rng(7)
    for length in (1, 37, info["frames"]):
        frames = rng.normal(size=(length, *info["frame_shape"])).astype("float32")
        expected = served(frames=tf.constant(frames[None]), lengths=tf.constant([length]))
        (got,) = model.predict([frames])
        assert got["labels"] == [v.decode() for v in expected["labels"].numpy()[0]]
        np.testing.assert_allclose(got["probabilities"], expected["probabilities"].numpy()[0],
                                   atol=1e-4)
    with pytest.raises(ValueError, match="up to"):
        model.predict([np.zeros((info["frames"] + 1, *info["frame_shape"]), np.float32)])


def test_a_model_needing_more_than_builtin_ops_fails(tiny_sentiment_run):
    _, _, model, _ = load_run(tiny_sentiment_run)
    core = [layer for layer in model.layers if isinstance(layer, keras.Model)][0]
    with pytest.raises(GalleryError, match="built-in ops only failed"):
        convert(core)  # a loop over a time axis of unknown length: TensorList ops


def test_export_refuses_to_overwrite(tiny_sentiment_run, tmp_path, capsys):
    (tmp_path / "taken.tflite").write_bytes(b"mine")
    assert main(["export", "sentiment", "--model", str(tiny_sentiment_run), "--format",
                 "tflite", "--out", str(tmp_path / "taken.tflite")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "taken.tflite").read_bytes() == b"mine"


def test_charlm_step_model_decodes_like_generate_at_temperature_zero(tiny_charlm_run,
                                                                    task_export, tmp_path):
    path = export("charlm", tiny_charlm_run, tmp_path)
    check_ops(path, loop=False)  # the cells once each
    generate = tf.saved_model.load(str(task_export("charlm"))).signatures["generate"]
    primes = ["def ", "", "ret", "zz\u00e9 "]
    expected = generate(prime=tf.constant(primes), length=tf.constant(15),
                        temperature=tf.constant(0.0), seed=tf.constant(0))["text"].numpy()
    model = TFLiteModel(path)
    assert [model._char_generator(p, length=15)["text"] for p in primes] == [
        e.decode() for e in expected]


def test_translation_encoder_and_step_decode_like_greedy_search(tiny_translation_run, tmp_path):
    path = export("translation", tiny_translation_run, tmp_path)
    check_ops(path)
    _, config, model, meta = load_run(tiny_translation_run)
    greedy = Translator(model, meta, dataclasses.replace(config, beam_width=1))
    texts = ["12 March 1999", "forty-two", "", "the 3rd of May, 2001", "x" * 150]
    translations, scores, _ = greedy(tf.constant(texts))
    got = TFLiteModel(path).predict(texts)
    assert [r["translation"] for r in got] == [t.decode() for t in translations.numpy()]
    # a score sums up to max_target log-probabilities: float32 (graph) vs float64 sums
    np.testing.assert_allclose([r["score"] for r in got], scores.numpy(), rtol=1e-5, atol=1e-4)


def test_captioning_encoder_and_step_decode_like_greedy_search(tiny_captioning_run, tmp_path):
    path = export("captioning", tiny_captioning_run, tmp_path)
    info = check_ops(path, loop=False)  # a CNN encoder and the cells once each
    _, config, model, meta = load_run(tiny_captioning_run)
    write_caption_folder(tmp_path / "images", count=4)
    images = [(tmp_path / "images" / f"img{i}.png").read_bytes() for i in range(4)]
    pixels, _ = decode_image_batch(tf.constant(images), info["height"], info["width"])
    greedy = Captioner(model, meta["vocabulary"], dataclasses.replace(config, beam_width=1))
    captions, scores = greedy(pixels)
    got = TFLiteModel(path).predict(images)
    assert [r["caption"] for r in got] == [c.decode() for c in captions.numpy()]
    np.testing.assert_allclose([r["score"] for r in got], scores.numpy(), atol=1e-4)


def test_the_runtime_module_imports_no_tensorflow():
    import subprocess
    import sys

    script = ("import sys, gallery.tflite; "
              "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr[-1000:]
