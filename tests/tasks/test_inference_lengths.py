"""The exports run the recurrent loop over the input's real length, and give the Keras
model's answers at every length: one token or frame, a few, the longest the model
takes, and longer (cut as the model cuts it). TFLite and the SavedModel are each
compared with the ``.keras`` model (probabilities to 1e-5, the same labels/tokens)."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from gallery.export.tflite_runtime import TFLiteModel
from gallery.runs import load_run
from rnn_gallery.tasks.translation.model import Translator

WORDS = "the film was really quite moving and its story great".split()


def texts_of_lengths(lengths):
    return [" ".join(WORDS[i % len(WORDS)] for i in range(n)) for n in lengths]


def test_sentiment_at_every_length(tiny_sentiment_run, task_export, task_tflite):
    _, config, model, _ = load_run(tiny_sentiment_run)
    lite = TFLiteModel(task_tflite("sentiment"), num_threads=2)
    served = tf.saved_model.load(str(task_export("sentiment"))).signatures["serving_default"]
    longest = lite.info["text"]["max_length"]
    texts = texts_of_lengths([1, 2, 7, 20, longest, longest + 30]) + [""]
    for text in texts:
        expected = model(tf.constant([text])).numpy()[0]
        saved = served(text=tf.constant([text]))["probabilities"].numpy()[0]
        np.testing.assert_allclose(saved, expected, atol=1e-5, err_msg=text)
        ids = lite.decoder.ids_for("classify", "token_ids", text)
        assert ids.shape == (1, min(max(len(text.split()), 1), longest))  # no padding
        (got,) = lite.predict([text])
        np.testing.assert_allclose(got["probabilities"], expected, atol=1e-5, err_msg=text)
    assert "WHILE" in lite.info["ops"]


def test_frame_tagging_at_every_length(tiny_frame_tagging_run, task_export, task_tflite):
    _, config, model, _ = load_run(tiny_frame_tagging_run)
    lite = TFLiteModel(task_tflite("frame_tagging"), num_threads=2)
    served = tf.saved_model.load(str(task_export("frame_tagging"))).signatures[
        "serving_default"]
    rng = np.random.default_rng(3)
    shape = tuple(lite.info["frame_shape"])
    for length in (1, 2, 9, lite.info["frames"]):
        frames = rng.normal(size=(length, *shape)).astype("float32")
        expected = model([frames[None], np.array([length], np.int32)]).numpy()[0]
        saved = served(frames=tf.constant(frames[None]), lengths=tf.constant([length]))
        np.testing.assert_allclose(saved["probabilities"].numpy()[0], expected, atol=1e-5)
        (got,) = lite.predict([frames])
        np.testing.assert_allclose(got["probabilities"], expected, atol=1e-5)
        labels = lite.info["labels"]
        assert got["labels"] == [labels[k] for k in expected.argmax(-1)]


@pytest.mark.slow
def test_translation_at_every_length(tiny_translation_run, task_tflite):
    _, config, model, meta = load_run(tiny_translation_run)
    lite = TFLiteModel(task_tflite("translation"), num_threads=2)
    greedy = Translator(model, meta, dataclasses.replace(config, beam_width=1))
    longest = lite.info["text"]["max_length"]
    texts = ["7", "12 March 1999", "1" * longest, "1 2 " * longest]
    assert [lite.decoder.ids_for("encoder", "source_ids", t).shape[1] for t in texts][-1] \
        == longest  # cut to the longest the model takes, not padded to it below
    translations, _, _ = greedy(tf.constant(texts))
    assert [r["translation"] for r in lite.predict(texts)] == [
        t.decode() for t in translations.numpy()]
