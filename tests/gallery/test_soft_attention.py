"""Show, Attend and Tell: attention, the gate β and the regulariser against NumPy;
beam scores against teacher-forced log-probabilities; padding invariance; .keras."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gallery.decoding import beam_search_all
from gallery.layers.soft_attention import ShowAttendTell, attention_regulariser

B, S, D, V = 3, 5, 6, 11


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.fixture
def decoder():
    layer = ShowAttendTell(V, units=7, embedding_dim=4, attention_units=8, dropout=0.0,
                           regulariser=0.5, seed=3)
    layer.build((None, S, D), (None, None))
    for weight in layer.weights:  # larger weights than the initialisers: a sharper test
        weight.assign(np.random.default_rng(len(weight.path)).normal(
            0, 0.5, weight.shape).astype("float32"))
    return layer


def numpy_read(layer, features, caption_in):
    """The module's equations step by step in NumPy: logits, α, β of each step."""
    get = {name: [v.numpy() for v in getattr(layer, name).weights] for name in
           ("init_h", "init_c", "keys", "query", "score", "beta", "embedding", "cell",
            "out_h", "out_z", "word_logits")}
    mean = features.mean(1)
    h = np.tanh(mean @ get["init_h"][0] + get["init_h"][1])
    c = np.tanh(mean @ get["init_c"][0] + get["init_c"][1])
    keys = features @ get["keys"][0]
    kernel, recurrent, bias = get["cell"]
    logits, alphas, betas = [], [], []
    for t in range(caption_in.shape[1]):
        e = np.tanh(keys + (h @ get["query"][0] + get["query"][1])[:, None]) @ get["score"][0]
        e = e[..., 0]
        alpha = np.exp(e - e.max(1, keepdims=True))
        alpha /= alpha.sum(1, keepdims=True)
        beta = sigmoid(h @ get["beta"][0] + get["beta"][1])
        z = beta * (alpha[..., None] * features).sum(1)
        words = get["embedding"][0][caption_in[:, t]]
        gates = np.concatenate([words, z], 1) @ kernel + h @ recurrent + bias
        i, f, g, o = np.split(gates, 4, axis=1)
        c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h_new = sigmoid(o) * np.tanh(c_new)
        real = (caption_in[:, t] != 0)[:, None]
        h, c = np.where(real, h_new, h), np.where(real, c_new, c)
        deep = np.tanh(words + h @ get["out_h"][0] + z @ get["out_z"][0] + get["out_z"][1])
        logits.append(deep @ get["word_logits"][0] + get["word_logits"][1])
        alphas.append(alpha)
        betas.append(beta[:, 0])
    return np.stack(logits, 1), np.stack(alphas, 1), np.stack(betas, 1)


def inputs(rng, length=4):
    features = rng.normal(size=(B, S, D)).astype("float32")
    caption_in = rng.integers(1, V, size=(B, length)).astype("int32")
    return features, caption_in


def test_attention_gate_and_logits_follow_the_equations(decoder):
    features, caption_in = inputs(np.random.default_rng(0))
    logits, alpha, beta = decoder.read(tf.constant(features), tf.constant(caption_in))
    want_logits, want_alpha, want_beta = numpy_read(decoder, features, caption_in)
    np.testing.assert_allclose(alpha, want_alpha, atol=1e-5)
    np.testing.assert_allclose(beta, want_beta, atol=1e-5)
    np.testing.assert_allclose(logits, want_logits, atol=1e-4)
    np.testing.assert_allclose(np.asarray(alpha).sum(-1), 1.0, atol=1e-5)


def test_the_regulariser_is_lambda_sum_over_cells_of_one_minus_attention_squared():
    rng = np.random.default_rng(1)
    alpha = rng.dirichlet(np.ones(S), size=(B, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], bool)
    want = np.mean([np.sum((1 - alpha[b][mask[b]].sum(0)) ** 2) for b in range(B)]) * 0.3
    got = attention_regulariser(tf.constant(alpha), tf.constant(mask), 0.3)
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_the_regulariser_is_added_in_training_only(decoder):
    features, caption_in = inputs(np.random.default_rng(2))
    model = keras.Model(*_functional(decoder))
    model([features, caption_in], training=False)
    assert not model.losses
    model([features, caption_in], training=True)
    _, alpha, _ = decoder.read(tf.constant(features), tf.constant(caption_in))
    want = attention_regulariser(alpha, tf.ones(caption_in.shape, tf.bool), 0.5)
    np.testing.assert_allclose(float(model.losses[0]), float(want), rtol=1e-5)


def _functional(decoder):
    features = keras.Input((S, D))
    caption_in = keras.Input((None,), dtype="int32")
    return [features, caption_in], decoder(features, caption_in)


def test_padding_changes_nothing_on_the_real_steps(decoder):
    features, caption_in = inputs(np.random.default_rng(3), length=5)
    lengths = [5, 3, 1]
    padded = caption_in.copy()
    for row, n in enumerate(lengths):
        padded[row, n:] = 0
    logits, alpha, _ = decoder.read(tf.constant(features), tf.constant(padded))
    for row, n in enumerate(lengths):
        alone, alone_alpha, _ = decoder.read(tf.constant(features[row:row + 1]),
                                             tf.constant(padded[row:row + 1, :n]))
        np.testing.assert_allclose(logits[row, :n], alone[0], atol=1e-5)
        np.testing.assert_allclose(alpha[row, :n], alone_alpha[0], atol=1e-6)


def test_beam_scores_are_the_teacher_forced_log_probabilities(decoder):
    features, _ = inputs(np.random.default_rng(4))
    start_id, end_id, length = 1, 2, 6
    tokens, lengths, scores = beam_search_all(decoder.step, decoder.start(tf.constant(features)),
                                              B, start_id, end_id, length, beam_width=3)
    tokens, lengths, scores = tokens.numpy(), lengths.numpy(), scores.numpy()
    for k in range(3):
        seq = tokens[:, k]
        fed = np.concatenate([np.full((B, 1), start_id), seq[:, :-1]], 1).astype("int32")
        logits, _, _ = decoder.read(tf.constant(features), tf.constant(fed))
        log_p = tf.nn.log_softmax(logits).numpy()
        for b in range(B):
            steps = min(lengths[b, k] + 1, length)  # the words and the end token
            want = sum(log_p[b, t, seq[b, t]] for t in range(steps))
            np.testing.assert_allclose(scores[b, k], want, rtol=1e-4, atol=1e-4)


def test_step_gives_the_logits_of_the_whole_caption(decoder):
    features, caption_in = inputs(np.random.default_rng(5))
    logits, _, _ = decoder.read(tf.constant(features), tf.constant(caption_in))
    state = decoder.start(tf.constant(features))
    for t in range(caption_in.shape[1]):
        step_logits, state = decoder.step(tf.constant(caption_in[:, t]), state)
        np.testing.assert_allclose(step_logits, logits[:, t], atol=1e-5)


def test_the_decoder_round_trips_keras(decoder, tmp_path):
    model = keras.Model(*_functional(decoder))
    features, caption_in = inputs(np.random.default_rng(6))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again([features, caption_in]), model([features, caption_in]),
                               atol=1e-6)
