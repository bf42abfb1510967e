"""The hmlstm lesson: its true boundaries, its scores, its parameter matching, and a
tiny run of the whole lesson (the full one is ``slow``)."""

import json

import numpy as np
import pytest

from gallery.config import apply_overrides
from gallery.errors import GalleryError
from rnn_gallery.lessons import hmlstm
from rnn_gallery.lessons import hmlstm_text as texts
from rnn_gallery.lessons.hmlstm import Settings


def test_word_boundaries_are_the_characters_before_a_space_or_punctuation():
    text = "To be, or not."
    ends = [i for i, g in enumerate(texts.word_boundaries(text)) if g]
    assert [text[i] for i in ends] == ["o", "e", ",", "r", "t", "."]


def test_token_boundaries_end_every_token():
    text = "def f(x):\n    return x + 10  # ten\n"
    ends = [i for i, g in enumerate(texts.token_boundaries(text)) if g]
    assert [text[i] for i in ends] == ["f", "f", "(", "x", ")", ":", "\n",
                                       "n", "x", "+", "0", "n", "\n"]


def test_token_boundaries_stop_quietly_at_a_cut():
    text = 'x = 1\ns = """never closed\n'
    ends = [i for i, g in enumerate(texts.token_boundaries(text)) if g]
    assert [text[i] for i in ends] == ["x", "=", "1", "\n", "s", "="]  # not the string


def test_precision_recall_f1_by_hand():
    scores = texts.precision_recall_f1([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert scores == {"precision": 2 / 3, "recall": 2 / 3, "f1": pytest.approx(2 / 3)}
    assert texts.precision_recall_f1([0, 0], [1, 0])["f1"] == 0.0


def test_random_boundaries_fire_at_the_rate():
    assert texts.random_boundaries(0.25, 40_000, seed=0).mean() == pytest.approx(0.25, abs=0.01)


def test_the_lstm_has_the_parameter_count_of_the_hmlstm():
    s = hmlstm.Settings(units=16, embedding=8)
    hm_model, _, _ = hmlstm.build_hmlstm(30, s)
    units = hmlstm.matched_lstm_units(30, hm_model.count_params(), s)
    lstm = hmlstm.build_lstm(30, units, s)
    assert lstm.count_params() == hmlstm.lstm_parameters(30, units, s)
    assert abs(lstm.count_params() / hm_model.count_params() - 1) < 0.03


def test_held_out_windows_score_a_contiguous_stretch():
    s = hmlstm.Settings(seq_len=3)
    windows = hmlstm.held_out_windows(np.arange(20), s)
    scored = windows[:, 3:-1].reshape(-1)  # inputs whose next character is scored
    np.testing.assert_array_equal(scored, np.arange(3, 3 + len(scored)))


@pytest.mark.slow  # trains two models on two texts
def test_tiny_lesson_writes_results_config_and_picture(tmp_path):
    results = hmlstm.run(tmp_path, hmlstm.TINY)
    assert set(results["texts"]) == {"Hamlet", "Python"}
    for r in results["texts"].values():
        assert 0 < r["bpc_hmlstm"] < 8 and 0 < r["bpc_lstm"] < 8
        assert len(r["boundary_rate"]) == 3 and all(0 <= v <= 1 for v in r["boundary_rate"])
        assert 0 <= r["boundary_f1"]["f1"] <= 1 and 0 <= r["random_f1"]["f1"] <= 1
        assert abs(r["parameters_lstm"] / r["parameters_hmlstm"] - 1) < 0.05
        assert r["final_slope"] == pytest.approx(1.0 + 0.02 * (hmlstm.TINY.steps - 1))
        assert list(r["boundary_rate_by_step"]) == [1, 2]  # step 1, then every 2
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["slope_rate"] == 0.02 and config["steps"] == hmlstm.TINY.steps
    assert (tmp_path / "boundaries.png").stat().st_size > 5_000


@pytest.mark.slow
def test_full_lesson_through_the_cli(tmp_path):
    from gallery.cli import main

    assert main(["lesson", "hmlstm", "--out", str(tmp_path / "run")]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    for r in results["texts"].values():
        assert r["bpc_hmlstm"] < 3.5 and r["bpc_lstm"] < 3.5


def test_set_overrides_take_per_layer_targets_and_refuse_bad_values():
    settings = apply_overrides(Settings(), ["boundary_rate_target=0.3,0.1,0.05",
                                            "boundary_gradient=hard_sigmoid", "steps=600"])
    assert settings.boundary_rate_target == (0.3, 0.1, 0.05)
    assert (settings.boundary_gradient, settings.steps) == ("hard_sigmoid", 600)
    assert apply_overrides(Settings(), ["boundary_rate_target=0.25"]).boundary_rate_target == 0.25
    for bad in ["boundary_rate_target=0.3,0.1", "boundary_rate_target=a", "steps=0",
                "boundary_gradient=step", "units=1.5"]:
        with pytest.raises(GalleryError):
            apply_overrides(Settings(), [bad])
