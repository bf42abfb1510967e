"""The sentiment model: padding never changes a score; hostile strings get defined outputs."""

import numpy as np
import pytest
import tensorflow as tf

from gallery.config import apply_overrides
from rnn_gallery.tasks.sentiment.config import SentimentConfig
from rnn_gallery.tasks.sentiment.model import build_model

TEXTS = ["a wonderful, moving film", "dull and tedious from start to finish",
         "the plot was not great but the acting was superb and the music was lovely",
         "boring"]


def _model(**settings):
    config = apply_overrides(SentimentConfig(), [f"{k}={v}" for k, v in settings.items()]
                             + ["units=6", "embedding_dim=5", "max_tokens=60"])
    return build_model(config, TEXTS * 3, num_labels=2)


@pytest.mark.parametrize("settings", [
    {}, {"cell": "gru", "pooling": "mean"}, {"cell": "elman", "pooling": "last"},
    {"bidirectional": "false", "num_layers": 2, "pooling": "last"},
    {"bidirectional": "true", "num_layers": 2, "lexicon": "false"},
    {"ensemble": 3, "cell": "gru"},
])
def test_score_alone_equals_score_in_a_batch_of_longer_texts(settings):
    model = _model(**settings)
    batch = np.asarray(model(tf.constant(TEXTS)))
    for i, text in enumerate(TEXTS):
        alone = np.asarray(model(tf.constant([text])))
        np.testing.assert_allclose(batch[i], alone[0], atol=1e-6)


def test_hostile_strings_get_defined_probabilities():
    model = _model()
    hostile = [b"", b"   \t\n ", b"\xff\xfe\x80 invalid utf-8 \xc3", ("word " * 20000).encode(),
               "😀 emoji ünïcödé 中文".encode(), b"\x00\x00"]
    probabilities = np.asarray(model(tf.constant(hostile)))
    assert probabilities.shape == (len(hostile), 2)
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    empty_alone = np.asarray(model(tf.constant([""])))
    np.testing.assert_allclose(empty_alone[0], probabilities[0], atol=1e-6)


def test_long_text_is_cut_to_max_length():
    model = _model(max_length=7)
    ids = model.get_layer("preprocessor")(tf.constant(["word " * 100_000]))
    assert ids.shape == (1, 7)


def test_lexicon_rows_follow_the_vocabulary():
    model = _model()
    vocabulary = model.get_layer("preprocessor").vocabulary
    priors = model.get_layer("core").get_layer("lexicon").get_weights()[0]
    positive = priors[vocabulary.index("wonderful") + 2]
    negative = priors[vocabulary.index("tedious") + 2]
    assert positive[0] == 1.0 and positive[1] == 0.0      # GI Positiv, not Negativ
    assert negative[1] == 1.0 and negative[0] == 0.0
    assert not priors[:2].any()                            # padding and unknown: no prior
    assert not model.get_layer("core").get_layer("lexicon").trainable


def test_ensemble_averages_independent_branches():
    model = _model(ensemble=3)
    core = model.get_layer("core")
    ids = model.get_layer("preprocessor")(tf.constant(TEXTS))
    branches = np.asarray(core(ids))
    assert branches.shape == (len(TEXTS), 3, 2)
    assert not np.allclose(branches[:, 0], branches[:, 1])  # own initialisation each
    np.testing.assert_allclose(np.asarray(model(tf.constant(TEXTS))), branches.mean(axis=1),
                               atol=1e-6)
