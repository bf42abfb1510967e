"""The explorer's rules, properties and page, without a browser."""

import numpy as np
import pytest

from rnn_gallery.lessons.explorer import hypotheses, page
from rnn_gallery.lessons.explorer.properties import token_properties
from rnn_gallery.lessons.explorer.rules import find_matches, quantise, select_cells
from rnn_gallery.lessons.explorer.traces import Trace


def brute_force_matches(q, cells, start, end, threshold, after=False, top=20):
    """The match rule spelled out: every start, every length, the select rule each time."""
    length, T = end - start, len(q)
    slack = max(1, length // 4)
    places = []
    for s in range(T):
        if s == start:
            continue
        best = None
        for n in range(max(1, length - slack), length + slack + 1):
            chosen = select_cells(q, s, s + n, threshold, after) if s + n <= T else []
            key = (len(set(chosen) & set(cells)), -abs(n - length), -n)
            best = max(best or key, key)
        if best[0]:
            places.append((s, -best[2], best[0]))
    places.sort(key=lambda p: (-p[2], abs(p[1] - length), p[0]))
    return places[:top]


def test_select_rule_by_hand():
    #            t: 0  1  2  3  4
    q = np.array([[0, 9, 9, 9, 0],     # cell 0: on over 1-3, off before and after
                  [9, 9, 9, 9, 9],     # cell 1: on before the span too
                  [0, 9, 9, 0, 0],     # cell 2: off at step 3
                  [0, 0, 9, 9, 9]]).T  # cell 3: turns on later
    assert select_cells(q, 1, 4, 5) == [0]
    assert select_cells(q, 1, 3, 5) == [0, 2]
    assert select_cells(q, 1, 3, 5, after=True) == [2]          # cell 0 is still on at 3
    assert select_cells(q, 0, 2, 5) == [1]                      # no step before step 0
    assert select_cells(q, 2, 5, 5, after=True) == [3]          # no step after the end
    assert select_cells(q, 1, 4, 10) == [] and select_cells(q, 2, 2, 5) == []


def test_match_rule_by_hand():
    q = np.zeros((30, 3), np.int8)
    q[2:6, [0, 1]] = 50        # the selection: cells 0 and 1 on for 4 steps
    q[10:14, [0, 1]] = 50      # both again, same length
    q[20:23, 0] = 50           # cell 0 alone, one step shorter (within ⌊4/4⌋ = 1)
    q[25:29, 2] = 50           # another cell
    cells = select_cells(q, 2, 6, 25)
    assert cells == [0, 1]
    assert find_matches(q, cells, 2, 6, 25) == [(10, 4, 2), (20, 3, 1)]
    assert find_matches(q, cells, 2, 6, 25, top=1) == [(10, 4, 2)]
    q[20:26, 1] = 50           # cell 1 on from 20 for 6 steps: too long only with `after`
    assert find_matches(q, cells, 2, 6, 25) == [(10, 4, 2), (20, 3, 2)]
    assert find_matches(q, cells, 2, 6, 25, after=True) == [(10, 4, 2), (20, 3, 1)]


@pytest.mark.parametrize("seed", range(12))
def test_matches_equal_the_spelled_out_rule(seed):
    rng = np.random.default_rng(seed)
    T, H = int(rng.integers(20, 60)), int(rng.integers(1, 8))
    # Smooth-ish traces so that runs of several steps occur.
    q = np.cumsum(rng.integers(-40, 41, size=(T, H)), axis=0).clip(-127, 127).astype(np.int8)
    start = int(rng.integers(0, T - 2))
    end = int(rng.integers(start + 1, min(T, start + 12) + 1))
    threshold, after = int(rng.integers(-60, 60)), bool(seed % 2)
    cells = select_cells(q, start, end, threshold, after) or list(range(H))
    assert find_matches(q, cells, start, end, threshold, after, top=1000) == \
        brute_force_matches(q, cells, start, end, threshold, after, top=1000)


def test_quantise_and_pack_round_trip():
    a = np.random.default_rng(0).uniform(-0.7, 0.9, size=(50, 6)).astype(np.float32)
    q, scale = quantise(a)
    assert q.dtype == np.int8 and scale == pytest.approx(np.abs(a).max())
    assert np.abs(q * scale / 127 - a).max() <= scale / 254 + 1e-6
    np.testing.assert_array_equal(page.unpack(page.pack(q), 50), q)
    assert quantise(np.zeros((3, 2)))[1] == 1.0


def test_token_properties():
    words = ["it", "is", "not", "very", "good", "at", "all", "but", "fun", "never", "dull",
             ".", "ok"]
    props = token_properties(words, ends=[10, 12], kind="words")
    assert props["negated"].tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0]
    assert props["position"].tolist() == list(range(11)) + [0, 1]
    chars = token_properties(list("a1b22"), ends=[4], kind="chars")
    assert chars["digit"].tolist() == [0, 1, 0, 1, 1]


def test_hypothesis_is_the_cell_the_rule_selects_most_often():
    on = np.zeros(40, bool)
    on[[5, 6, 7, 20, 21, 22, 23, 30, 31]] = True
    q = np.zeros((40, 3), np.int8)
    q[:, 1] = np.where(on, -90, 20)     # goes down where the property holds
    q[[5, 6, 7], 2] = 50                # on over the first span only
    acts = q / 127.0
    found = {"quote": (2, 0.5), "position": (0, 0.1)}
    h, position = hypotheses.hypotheses(q, acts, {"quote": on.astype(float),
                                                  "position": np.arange(40.0)}, found)
    assert (h["unit"], h["sign"], h["threshold"]) == (1, -1, 80)   # highest ℓ that works
    assert (h["start"], h["end"], h["selected"], h["spans"]) == (5, 8, 3, 3)
    assert h["r"] == pytest.approx(np.corrcoef(acts[:, 1], on)[0, 1], abs=1e-4)
    assert position["start"] is None and position["unit"] == 0
    assert h["initial"] and "initial" not in position
    assert 1 in select_cells(-q.astype(int), h["start"], h["end"], h["threshold"])
    quality = hypotheses.match_quality(q, h, {"quote": on, "never": np.zeros(40, bool)})
    assert quality["cells"] == [1] and quality["matches"] == [[20, 3, 1], [30, 2, 1]]
    assert quality["inside"] == {"quote": 2, "never": 0}
    # Spans of 3 inside the property: starts 5, 20, 21 of the 38 possible.
    assert quality["base_rate"] == {"quote": 3 / 38, "never": 0}


def test_page_is_self_contained_and_escapes_the_text():
    tokens = list("</script>{{SCRIPT}}<b>&")
    trace = Trace(tokens, [len(tokens) - 1], np.zeros((len(tokens), 2)), "chars", "layer")
    q, scale = quantise(np.linspace(-1, 1, 2 * len(tokens)).reshape(-1, 2))
    text = page.explorer_html(trace, q, scale, [], "a <title>", "about")
    assert text.lower().count("<script") == 2 and text.count("</script>") == 2
    assert "http://" not in text.replace("http://www.w3.org/", "") and "https://" not in text
    assert "<title>a &lt;title&gt;</title>" in text
    data = page.page_data(text)
    assert data["tokens"] == tokens
    np.testing.assert_array_equal(page.unpack(data["q"], len(tokens)), q)


def test_explorer_of_a_sentiment_run(tiny_sentiment_run, tmp_path):
    from rnn_gallery.lessons import activations

    results = activations.run(tmp_path, tiny_sentiment_run, steps=100, verbose=False)
    assert results["kind"] == "words" and results["task"] == "sentiment"
    assert set(results["best"]) == {"position", "negated"}
    assert 90 < results["steps"] <= 100             # whole 6-word reviews, up to the budget
    data = page.page_data((tmp_path / "activations.html").read_text(encoding="utf-8"))
    assert len(data["ends"]) == results["steps"] // 6
    assert data["ends"][-1] == len(data["tokens"]) - 1
    assert data["units"] == 16                      # 8 units, bidirectional
    assert results["page_bytes"] == (tmp_path / "activations.html").stat().st_size


def test_translation_encoder_is_found_by_type_not_name():
    """The probe stops at the encoder's top layer: the decoder needs the target too."""
    import keras
    import tensorflow as tf

    from rnn_gallery.lessons.explorer.traces import text_encoder, trace_texts
    from rnn_gallery.tasks.translation.config import TranslationConfig
    from rnn_gallery.tasks.translation.model import build_model

    config = TranslationConfig(units=8, embedding_dim=4, num_layers=2)
    model = build_model(config, {"source_vocabulary": list("abcdef "),
                                 "target_vocabulary": list("uvwxyz ")})
    to_ids, probe, layer = text_encoder(model)
    stacks = [x for x in probe.layers if isinstance(x, keras.layers.Bidirectional)]
    assert len(stacks) == 2 and "2 recurrent layer(s)" in layer
    assert not any(isinstance(x, keras.layers.RNN) for x in probe.layers)  # no decoder
    trace = trace_texts(to_ids, probe, ["abc", "fed cab", "zz"], steps=100)
    assert trace.tokens == list("abc") + list("fed cab") + ["[UNK]"] * 2
    assert trace.ends == [2, 9, 11] and trace.activations.shape == (12, 8)
    core = next(x for x in model.layers if isinstance(x, keras.Model))
    x = next(x for x in core.layers if isinstance(x, keras.layers.Embedding))(
        to_ids(tf.constant(["fed cab"])))          # the source embedding comes first
    for bidirectional in stacks:                   # dropout is off at inference
        x = bidirectional(x)
    np.testing.assert_allclose(trace.activations[3:10], np.asarray(x)[0], atol=1e-5)


def test_the_probe_stops_below_a_layer_that_returns_its_last_step_only():
    from rnn_gallery.lessons.explorer.traces import text_encoder
    from rnn_gallery.tasks.sentiment.config import SentimentConfig
    from rnn_gallery.tasks.sentiment.model import build_model

    config = SentimentConfig(units=4, embedding_dim=4, num_layers=2, pooling="last",
                             pretrained=False, lexicon=False, extend_vocabulary=False)
    model = build_model(config, ["a good film", "a bad film"], 2)
    _, probe, layer = text_encoder(model)
    assert "1 recurrent layer(s)" in layer and probe.output.shape[1:] == (None, 8)


def test_a_run_without_a_text_encoder_is_one_line(tiny_captioning_run, capsys):
    """Captioning's recurrent layer is a decoder that needs an image: refused, exit 2."""
    from gallery.cli import main

    assert main(["lesson", "activations", "--model", str(tiny_captioning_run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "captioning run has no recurrent layer reading text" in err
