"""Translation: data, tokens, model masking, decoding, export, CLI, fine-tuning, bad input."""

import gzip
import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from gallery.cli import main
from gallery.config import apply_overrides
from gallery.errors import GalleryError
from gallery.layers.text import TextToIds, join_tokens
from gallery.runs import load_run
from gallery.seq2seq import SmoothedSparseCrossentropy
from rnn_gallery.tasks.translation.config import TranslationConfig
from rnn_gallery.tasks.translation.data import dates_and_numbers, load_translation_data
from rnn_gallery.tasks.translation.model import build_model
from rnn_gallery.tasks.translation.task import TranslationTask


def config(*items):
    return apply_overrides(TranslationConfig(), list(items))


def test_embedded_pairs_hold_out_test_dates_and_numbers():
    splits = dates_and_numbers(config("train_pairs=4000", "val_pairs=200", "test_pairs=400"))
    again = dates_and_numbers(config("train_pairs=4000", "val_pairs=200", "test_pairs=400"))
    assert splits.test.sources == again.test.sources and splits.test.targets == again.test.targets
    # a date or number has one translation: disjoint targets mean disjoint values
    assert not set(splits.test.targets) & set(splits.train.targets)
    assert not set(splits.validation.targets) & set(splits.train.targets)
    pairs = dict(zip(splits.train.sources, splits.train.targets))
    assert any("," in s and s.split(",")[0].endswith("day") for s in pairs)  # weekday form
    assert pairs.get("Tuesday, January 5, 2021", "Dienstag, 5. Januar 2021") == \
        "Dienstag, 5. Januar 2021"
    french = dates_and_numbers(config("target=fr", "train_pairs=10", "val_pairs=2",
                                      "test_pairs=2"))
    assert french.meta["target_lang"] == "fr"


def test_unknown_target_locale_is_a_clear_error():
    with pytest.raises(GalleryError, match="target='xx'"):
        dates_and_numbers(config("target=xx"))


def write_parallel(folder, pairs, stem="train", src="de", tgt="en", compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    for lang, side in ((src, 0), (tgt, 1)):
        text = "".join(p[side] + "\n" for p in pairs)
        if compress:
            with gzip.open(folder / f"{stem}.{lang}.gz", "wt", encoding="utf-8") as handle:
                handle.write(text)
        else:
            (folder / f"{stem}.{lang}").write_text(text, encoding="utf-8")


WORDS = {"der": "the", "hund": "dog", "katze": "cat", "läuft": "runs", "schläft": "sleeps",
         "ein": "a", "mann": "man", "isst": "eats"}


def sentence_pairs(count, seed=0):
    rng = np.random.default_rng(seed)
    nouns, verbs = ["hund", "katze", "mann"], ["läuft", "schläft", "isst"]
    pairs = []
    for _ in range(count):
        words = ["der", str(rng.choice(nouns)), str(rng.choice(verbs))]
        pairs.append((" ".join(words).capitalize() + ".",
                      " ".join(WORDS[w] for w in words).capitalize() + "."))
    return pairs


def test_parallel_folder_reader(tmp_path):
    write_parallel(tmp_path / "a", sentence_pairs(50))
    write_parallel(tmp_path / "a", sentence_pairs(8, 1), stem="val", compress=False)
    write_parallel(tmp_path / "a", sentence_pairs(8, 2), stem="test")
    splits = load_translation_data(config(), f"multi30k:{tmp_path / 'a'}")
    assert [len(p) for p in (splits.train, splits.validation, splits.test)] == [50, 8, 8]
    assert splits.train.targets[0].endswith(".")
    write_parallel(tmp_path / "b", sentence_pairs(100))  # no val/test files: held out
    splits = load_translation_data(config(), str(tmp_path / "b"))
    assert [len(p) for p in (splits.train, splits.validation, splits.test)] == [90, 5, 5]


def test_parallel_files_with_different_line_counts_or_missing(tmp_path):
    write_parallel(tmp_path, sentence_pairs(20))
    with gzip.open(tmp_path / "train.en.gz", "at", encoding="utf-8") as handle:
        handle.write("one more line\n")
    with pytest.raises(GalleryError, match="has 20 lines but train.en.gz has 21"):
        load_translation_data(config(), f"parallel:{tmp_path}")
    with pytest.raises(GalleryError, match="train.fr"):
        load_translation_data(config("source_lang=fr"), f"parallel:{tmp_path}")
    with pytest.raises(GalleryError, match="does not exist"):
        load_translation_data(config(), f"parallel:{tmp_path / 'nowhere'}")


def test_multi30k_shared_data(shared_data):
    folder = shared_data / "multi30k"
    if not (folder / "train.de.gz").is_file():
        pytest.skip("no Multi30k in the shared data")
    splits = load_translation_data(config(), f"multi30k:{folder}")
    assert [len(p) for p in (splits.train, splits.validation, splits.test)] == [29000, 1014, 1000]
    assert splits.test.targets[0][0].isupper()  # original case kept


def test_tfds_translation_loader_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        splits = load_translation_data(config("train_pairs=5", "test_pairs=3"),
                                       "tfds:ted_hrlr_translate/pt_to_en")
    assert len(splits.train) == 5 and len(splits.test) == 3
    assert (splits.meta["source_lang"], splits.meta["target_lang"]) == ("pt", "en")
    assert all(isinstance(s, str) for s in splits.train.sources)


@pytest.mark.parametrize("mode,expected", [
    ("words", "ein mann läuft"), ("words_punct", "Ein Mann läuft!"),
    ("chars", "Ein Mann läuft!")])
def test_token_modes_round_trip(mode, expected):
    layer = TextToIds.adapt_new(["Ein Mann läuft!", "Ein Hund (klein)."], 100, 40, tokens=mode)
    ids = layer(tf.constant(["Ein Mann läuft!"]))
    words = tf.gather(tf.constant(layer.id_to_token()), ids)
    tokens = tf.ragged.boolean_mask(words, ids > 0)
    assert join_tokens(tokens, mode).numpy()[0].decode() == expected
    assert layer.count_tokens(tf.constant(["Ein Mann läuft!"])).numpy()[0] == ids.shape[1]


def test_smoothed_crossentropy_by_hand():
    logits = tf.constant([[[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]]])
    labels = tf.constant([[0, 2]])
    log_p = tf.nn.log_softmax(logits).numpy()[0]
    nll = -np.array([log_p[0, 0], log_p[1, 2]])
    plain = SmoothedSparseCrossentropy(0.0)(labels, logits).numpy()
    np.testing.assert_allclose(plain, nll.mean(), rtol=1e-6)
    smooth = SmoothedSparseCrossentropy(0.1)(labels, logits).numpy()
    np.testing.assert_allclose(smooth, (0.9 * nll - 0.1 * log_p.mean(axis=1)).mean(), rtol=1e-6)


def test_smoothed_crossentropy_ignores_padding_as_keras_does():
    """``ignore_class=0`` (the captioning decoder's padding): the mean is over the other
    steps; unsmoothed it equals Keras's ``SparseCategoricalCrossentropy(ignore_class=0)``."""
    logits = tf.constant([[[2.0, 0.5, -1.0], [0.0, 1.0, 3.0], [1.0, 1.0, 1.0]],
                          [[0.3, -2.0, 1.5], [4.0, 0.0, 0.0], [0.5, 0.2, 0.1]]])
    labels = tf.constant([[1, 2, 0], [2, 0, 0]])
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    np.testing.assert_allclose(SmoothedSparseCrossentropy(0.0, ignore_class=0)(labels, logits),
                               keras_loss(labels, logits), rtol=1e-6)
    per_step = tf.constant([[2.0, 2.0, 2.0], [0.5, 0.5, 0.5]])
    ours = SmoothedSparseCrossentropy(0.0, ignore_class=0)
    np.testing.assert_allclose(ours(labels, logits, per_step),
                               keras_loss(labels, logits, per_step), rtol=1e-6)
    np.testing.assert_allclose(ours(labels, logits, tf.constant([2.0, 0.5])),  # per sequence
                               ours(labels, logits, per_step), rtol=1e-6)
    log_p = tf.nn.log_softmax(logits).numpy()
    kept = [(0, 0, 1), (0, 1, 2), (1, 0, 2)]
    by_hand = np.mean([-0.8 * log_p[b, t, y] - 0.2 * log_p[b, t].mean() for b, t, y in kept])
    np.testing.assert_allclose(SmoothedSparseCrossentropy(0.2, ignore_class=0)(labels, logits),
                               by_hand, rtol=1e-6)
    restored = SmoothedSparseCrossentropy.from_config(
        SmoothedSparseCrossentropy(0.2, ignore_class=0).get_config())
    assert (restored.smoothing, restored.ignore_class) == (0.2, 0)


def small_model(**meta_items):
    meta = {"source_vocabulary": list("abcdefgh "), "target_vocabulary": list("xyz")}
    return build_model(config("units=16", "embedding_dim=8", "dropout=0"), {**meta, **meta_items})


def test_padding_changes_no_output():
    model = small_model()
    target_in = tf.constant([[5, 2, 3, 4]], tf.int32)  # <start> x y z
    alone = np.asarray(model([tf.constant(["abc"]), target_in]))
    batch = np.asarray(model([tf.constant(["abc", "abcdefgh hgfedcba"]),
                              tf.repeat(target_in, 2, axis=0)]))
    np.testing.assert_allclose(batch[0], alone[0], atol=1e-5)


@pytest.mark.parametrize("attention", ["bahdanau", "none"])
def test_decoder_state_is_named_and_flattens_in_the_step_models_order(attention):
    """``start_states`` gives a ``DecoderState`` (cell states, keys, memory mask by
    name); its flat form, the exported step model's ``state0 … stateN``, steps as the
    named one does."""
    from gallery.seq2seq import DecoderState

    meta = {"source_vocabulary": list("abcdefgh "), "target_vocabulary": list("xyz")}
    model = build_model(config("units=16", "embedding_dim=8", f"attention={attention}"), meta)
    ids = model.source_ids(tf.constant(["abc", "h"]))
    state = model.start_states(ids)
    assert isinstance(state, DecoderState) and [s.shape for s in state.cell] == [(2, 16)]
    if attention == "none":
        assert state.keys == () and state.memory_mask == ()
    else:
        assert state.keys.shape == (2, 3, 16)
        assert state.memory_mask.numpy().tolist() == [[True] * 3, [True, False, False]]
    flat = tf.nest.flatten(state)
    assert DecoderState.from_flat(flat, 1) == state
    tokens = tf.constant([2, 3])
    logits, after = model.decode_step(tokens, state)
    flat_logits, flat_after = model.decode_step_flat(tokens, flat)
    np.testing.assert_array_equal(flat_logits, logits)
    for got, expected in zip(flat_after, tf.nest.flatten(after), strict=True):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("attention", ["bahdanau", "luong", "none"])
def test_step_decoding_matches_the_teacher_forced_graph(attention):
    """Greedy decoding one token at a time (padded memory masked in every step) picks
    what the training graph scores highest."""
    from gallery.decoding import greedy_decode
    from rnn_gallery.tasks.translation.model import target_to_ids

    meta = {"source_vocabulary": list("abcdefgh "), "target_vocabulary": list("xyz")}
    cfg = config("units=16", "embedding_dim=8", f"attention={attention}", "beam_width=1")
    model = build_model(cfg, meta)
    start, end = target_to_ids(cfg, meta).start_id, target_to_ids(cfg, meta).end_id
    ids = model.source_ids(tf.constant(["abc", "h", "abcdefgh hgfedcba ab"]))
    tokens, lengths, _ = greedy_decode(model.decode_step, model.start_states(ids), 3,
                                       start, end, 6)
    target_in = tf.concat([tf.fill([3, 1], start), tokens[:, :-1]], axis=1)
    logits = model.core([ids, target_in], training=False)
    forced = tf.argmax(logits, axis=-1, output_type=tf.int32).numpy()
    for row, n in enumerate(lengths.numpy()):
        np.testing.assert_array_equal(forced[row, :n + 1], tokens.numpy()[row, :n + 1])


@pytest.fixture(scope="module")
def tiny_run(tiny_translation_run):
    return tiny_translation_run  # shared with the serving and TFLite tests


def test_run_folder(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert {"exact_match", "bleu", "examples"} <= set(metrics) and metrics["examples"] == 60
    assert (tiny_run / "attention.png").stat().st_size > 5_000


def test_serving_hostile_and_long_inputs(tiny_run):
    """The export's function on empty, punctuation-only, unknown-script and very long
    inputs (serving the export in a fresh process: tests/test_contract.py)."""
    task, config_, model, meta = load_run(tiny_run)
    texts = ["three hundred and twelve", "January 5, 2021", "", "?!.", "日本語のテキスト",
             "seven " * 10000]
    served = task.serving_function(config_, model, meta)(tf.constant(texts))
    translations = [t.decode() for t in served["translation"].numpy()]
    assert translations == task.translate(config_, model, meta, texts)
    assert translations[2] == ""                                    # empty input: empty output
    assert served["truncated"].numpy().tolist() == [False] * 5 + [True]  # 60,000 characters


def test_predict_and_bad_input(tiny_run, capsys):
    hostile = "caf\udcff \x00"  # how Python passes a non-UTF-8 byte in argv, and NUL
    assert main(["predict", "translation", "--model", str(tiny_run), "four", "", hostile]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["source"] for r in rows] == ["four", "", "caf\ufffd \x00"]
    assert rows[1]["translation"] == "" and rows[1]["score"] is None
    assert main(["train", "translation", "--set", "attention=sideways"]) == 2
    assert "attention" in capsys.readouterr().err


# default tier: fine-tuning translation, its vocabularies kept (model_meta_keys):
# tests/test_contract.py step 6; a folder of parallel files: test_parallel_folder_reader.
# This trains 8 epochs to show the template adapts the model.
@pytest.mark.slow
def test_finetune_template_adapts_to_a_new_domain(tiny_run, tmp_path):
    import importlib.util

    folder = tmp_path / "domain"
    write_parallel(folder, [("one", "eins"), ("two", "zwei"), ("three", "drei")] * 40,
                   src="en", tgt="de", compress=False)
    path = pathlib.Path(__file__).resolve().parents[2] / "templates" / "finetune_translation.py"
    spec = importlib.util.spec_from_file_location("finetune_translation", path)
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    template.SETTINGS = ["epochs=8", "learning_rate=0.01", "patience=8", "beam_width=1"]
    metrics = template.main(str(tiny_run), str(folder), str(tmp_path / "ft"))
    report = metrics["finetune"]
    assert report["validation_exact_match_after"] > report["validation_exact_match_before"]
    assert report["validation_exact_match_after"] >= 0.5
    _, _, _, meta = load_run(tmp_path / "ft")
    assert meta["source_vocabulary"] == load_run(tiny_run)[3]["source_vocabulary"]


def test_real_sentences_bring_the_sentences_profile():
    from gallery.profiles import make_config

    task = TranslationTask()
    assert task.data_profile("multi30k:x") == "sentences" and task.data_profile(None) is None
    config = make_config(task, source="multi30k:x", overrides=["units=64"])
    assert config.source_tokens == "words_punct" and config.units == 64  # --set wins


def numpy_attention_weights(model, ids, tokens, start_id):
    """The decoder's attention weights ``(B, L, S)`` while it is fed ``<start>,
    tokens[:, :-1]``, from the equations: a GRU step (``reset_after``, gates ``z r h``)
    from the start state, then additive ``e_s = scale·tanh(h + k_s)`` or dot
    ``e_s = h·k_s`` scores, masked memory steps at ``-1e9``, softmax over ``s``."""
    state = model.start_states(ids)
    h, keys = np.asarray(state.cell[0], np.float64), np.asarray(state.keys, np.float64)
    mask = np.asarray(state.memory_mask)
    embeddings = np.asarray(model.word_embedding.embeddings, np.float64)
    kernel, recurrent, bias = (np.asarray(w, np.float64) for w in model.decoder.cell.get_weights())
    scale = [np.asarray(w, np.float64) for w in model.attention.get_weights()]
    fed = np.concatenate([np.full((len(tokens), 1), start_id), tokens[:, :-1]], axis=1)
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    rows = []
    for t in range(fed.shape[1]):
        x_z, x_r, x_h = np.split(embeddings[fed[:, t]] @ kernel + bias[0], 3, axis=-1)
        h_z, h_r, h_h = np.split(h @ recurrent + bias[1], 3, axis=-1)
        z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
        h = z * h + (1 - z) * np.tanh(x_h + r * h_h)
        if scale:  # additive (Bahdanau)
            scores = (scale[0] * np.tanh(h[:, None, :] + keys)).sum(-1)
        else:  # dot (Luong)
            scores = np.einsum("bh,bsh->bs", h, keys)
        scores = np.where(mask, scores, scores - 1e9)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        rows.append(weights / weights.sum(-1, keepdims=True))
    return np.stack(rows, axis=1)


@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
def test_attention_weights_follow_the_equations(attention):
    from rnn_gallery.tasks.translation.model import target_to_ids

    meta = {"source_vocabulary": list("abcdefgh "), "target_vocabulary": list("xyz")}
    cfg = config("units=16", "embedding_dim=8", f"attention={attention}", "beam_width=1")
    model, target = build_model(cfg, meta), target_to_ids(cfg, meta)
    rng = np.random.default_rng(0)  # weights far from their start: attention far from uniform
    for layer in (model.word_embedding, model.decoder.cell, model.attention_keys,
                  model.attention):
        layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    ids = model.source_ids(tf.constant(["abc", "h", "abcdefgh hgfedcba ab"]))
    tokens = np.array([[2, 3, 4, 5], [4, 4, 2, 3], [3, 2, 5, 5]], np.int32)
    got = model.attention_weights(ids, tf.constant(tokens), target.start_id)
    np.testing.assert_allclose(got, numpy_attention_weights(model, ids, tokens, target.start_id),
                               atol=1e-5)


def test_attention_signature(tiny_run):
    """The ``attention`` export signature: the source tokens, the words it wrote then
    ``<end>``, and the weights the decoder's equations give for them."""
    from rnn_gallery.tasks.translation.model import target_to_ids

    task, config_, model, meta = load_run(tiny_run)
    texts = ["three hundred and twelve", "January 5, 2021", ""]
    out = {k: v.numpy() for k, v in
           task.extra_endpoints(config_, model, meta)["attention"](tf.constant(texts)).items()}
    translations = task.translate(config_, model, meta, texts)
    target = target_to_ids(config_, meta)
    ids = model.source_ids(tf.constant(texts[:2]))
    for row in range(2):
        s, n = out["source_lengths"][row], out["output_lengths"][row]
        assert [t.decode() for t in out["source_tokens"][row, :s]] == \
            [model.source_ids.id_to_token()[i] for i in np.asarray(ids)[row, :s]]
        tokens = [t.decode() for t in out["output_tokens"][row, :n]]
        ended = n <= config_.max_target
        assert tokens[-1] == "<end>" if ended else n == config_.max_target + 1
        written = tokens[:-1] if ended else tokens
        assert join_tokens(tf.constant([written], tf.string),
                           config_.target_tokens).numpy()[0].decode() \
            == translations[row]
        table = target.id_to_token()
        fed = np.array([[table.index(t) for t in tokens]], np.int32)
        expected = numpy_attention_weights(model, ids[row:row + 1], fed, target.start_id)
        np.testing.assert_allclose(out["weights"][row, :n, :s], expected[0, :, :s], atol=1e-5)
    assert out["source_lengths"][2] == out["output_lengths"][2] == 0
