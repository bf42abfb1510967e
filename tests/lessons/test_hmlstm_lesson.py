"""The hmlstm lesson: its true boundaries, its scores, its parameter matching, its
summary over seeds and collapsed layers, and tiny runs of the whole lesson in a fresh
process (the same command twice gives the same results.json; those are ``slow``)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gallery.config import apply_overrides
from gallery.errors import GalleryError
from gallery.reproducibility import cpu_model
from rnn_gallery.lessons import hmlstm
from rnn_gallery.lessons import hmlstm_models as models
from rnn_gallery.lessons import hmlstm_report as report
from rnn_gallery.lessons import hmlstm_text as texts
from rnn_gallery.lessons.hmlstm import Settings

TINY_STEPS = hmlstm.PROFILES["tiny"]["steps"]


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
    hm_model, _, _ = models.build_hmlstm(30, s)
    units = models.matched_lstm_units(30, hm_model.count_params(), s)
    lstm = models.build_lstm(30, units, s)
    assert lstm.count_params() == models.lstm_parameters(30, units, s)
    assert abs(lstm.count_params() / hm_model.count_params() - 1) < 0.03


def test_held_out_windows_score_a_contiguous_stretch():
    s = hmlstm.Settings(seq_len=3)
    windows = models.held_out_windows(np.arange(20), s)
    scored = windows[:, 3:-1].reshape(-1)  # inputs whose next character is scored
    np.testing.assert_array_equal(scored, np.arange(3, 3 + len(scored)))


def run_cli(out, *args):
    """``gallery lesson hmlstm --out OUT ARGS`` in a fresh process (the lesson sets
    TensorFlow's thread counts, which only a process whose runtime has not started can)."""
    return subprocess.run([sys.executable, "-m", "gallery.cli", "lesson", "hmlstm", "--out",
                           str(out), *args], capture_output=True, text=True, timeout=900)


@pytest.mark.slow  # two tiny lessons in fresh processes
def test_same_command_twice_gives_the_same_results_json(tmp_path):
    args = ["--profile", "tiny", "--set", "seeds=2", "--set", "texts=Hamlet"]
    first, second = run_cli(tmp_path / "a", *args), run_cli(tmp_path / "b", *args)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    a = (tmp_path / "a" / "results.json").read_text()
    assert a == (tmp_path / "b" / "results.json").read_text()
    results = json.loads(a)
    assert results["cpu"] == cpu_model() and f"CPU: {cpu_model()}" in first.stdout
    hamlet = results["texts"]["Hamlet"]
    assert sorted(hamlet["seeds"]) == ["0", "1"]
    assert hamlet["seeds"]["0"]["bpc_hmlstm"] != hamlet["seeds"]["1"]["bpc_hmlstm"]
    for seed, r in hamlet["seeds"].items():
        assert 0 < r["bpc_hmlstm"] < 8 and 0 < r["bpc_lstm"] < 8
        assert r["collapsed_layers"] == report.collapsed_layers(r["boundary_rate"])
        for layer in r["collapsed_layers"]:
            assert f"[Hamlet seed {seed}] layer {layer} collapsed" in first.stdout
        assert r["final_slope"] == pytest.approx(1.0 + 0.02 * (TINY_STEPS - 1))
        assert list(r["boundary_rate_by_step"]) == ["1", "2"]  # step 1, then every 2
    bpc = [r["bpc_hmlstm"] for r in hamlet["seeds"].values()]
    assert hamlet["summary"]["bpc_hmlstm"]["mean"] == pytest.approx(np.mean(bpc))
    assert hamlet["summary"]["bpc_hmlstm"]["sd"] == pytest.approx(np.std(bpc, ddof=1))
    assert (tmp_path / "a" / "boundaries.png").stat().st_size > 5_000
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["seeds"] == 2 and config["steps"] == TINY_STEPS


@pytest.mark.slow  # both texts, two worker processes
def test_workers_do_not_change_the_numbers(tmp_path):
    args = ["--profile", "tiny", "--set", "baseline=false"]
    alone = run_cli(tmp_path / "a", *args)
    side_by_side = run_cli(tmp_path / "b", *args, "--set", "workers=2")
    assert alone.returncode == 0 and side_by_side.returncode == 0, side_by_side.stderr
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    assert set(a["texts"]) == {"Hamlet", "Python"} and a["texts"] == b["texts"]


@pytest.mark.slow
def test_full_lesson_through_the_cli(tmp_path):
    result = run_cli(tmp_path / "run")
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    for r in results["texts"].values():
        assert r["summary"]["bpc_hmlstm"]["mean"] < 3.5 and r["summary"]["bpc_lstm"]["mean"] < 3.5


def test_collapsed_layers_are_those_firing_never_or_always():
    assert report.collapsed_layers([0.0, 0.2, 1.0]) == [1, 3]
    assert report.collapsed_layers([0.0009, 0.0011, 0.9991]) == [1, 3]
    assert report.collapsed_layers([0.3, 0.1, 0.05]) == []


def test_a_collapsed_layer_is_said_in_the_output(capsys):
    report.print_collapsed("Python", 2, {"boundary_rate": [0.2, 0.0, 1.0],
                                         "collapsed_layers": [2, 3]})
    assert capsys.readouterr().out.splitlines() == [
        "[Python seed 2] layer 2 collapsed: boundary rate 0.0000 on held-out text "
        "(never a boundary)",
        "[Python seed 2] layer 3 collapsed: boundary rate 1.0000 on held-out text "
        "(always a boundary)"]


def seed_results(bpc, rates, f1, random_f1):
    return {"bpc_hmlstm": bpc, "bpc_lstm": bpc + 0.5, "boundary_rate": rates,
            "collapsed_layers": report.collapsed_layers(rates), "gold_rate": 0.2,
            "boundary_f1": {"precision": f1, "recall": f1, "f1": f1},
            "random_f1": {"precision": 0.2, "recall": 0.2, "f1": random_f1}}


def test_summary_is_mean_and_sample_sd_over_seeds(capsys):
    summary = report.summarise({"0": seed_results(2.0, [0.2, 0.1, 0.0], 0.4, 0.2),
                                "1": seed_results(2.2, [0.3, 0.1, 0.05], 0.3, 0.1),
                                "2": seed_results(2.4, [0.1, 0.1, 0.05], 0.5, 0.25)})
    assert summary["bpc_hmlstm"] == pytest.approx(
        {"mean": 2.2, "sd": 0.2, "min": 2.0, "max": 2.4})
    assert summary["f1_over_random"]["mean"] == pytest.approx((2 + 3 + 2) / 3)
    assert summary["rate_z1"]["sd"] == pytest.approx(0.1)
    assert summary["collapsed"] == {"0": [3]}
    report.print_summary({"Hamlet": summary}, seeds=3)
    out = capsys.readouterr().out
    assert "mean ± sd over 3 seeds" in out and "2.200 ± 0.200" in out
    assert "[Hamlet] seed 0: layer(s) 3 collapsed" in out


def test_profiles_and_their_refusals():
    assert hmlstm.settings_for(profile="full").seeds == 3
    assert hmlstm.settings_for(profile="tiny").steps == TINY_STEPS < 10
    assert hmlstm.settings_for(profile="full", overrides=["seeds=2"]).seeds == 2
    assert hmlstm.settings_for() == Settings()
    with pytest.raises(GalleryError, match="unknown profile 'long'"):
        hmlstm.check_options(profile="long")
    for bad in ["seeds=0", "seeds=11", "workers=0", "texts=Hamlet,French", "compile=xla",
                "speeches_chars=-1", "layer_norm=maybe", "rate_gradient=straight"]:
        with pytest.raises(GalleryError):
            hmlstm.check_options(overrides=[bad])


def test_english_text_puts_the_speeches_before_hamlet():
    hamlet = texts.hamlet_text()
    english = texts.english_text(hamlet, 5_000)
    assert english.endswith(hamlet) and len(english) == 5_000 + 1 + len(hamlet)
    assert english.startswith("BARACK OBAMA: Thank you.") and "\xa0" not in english
    assert texts.english_text(hamlet, 0) == hamlet


def test_set_overrides_take_per_layer_targets_and_refuse_bad_values():
    settings = apply_overrides(Settings(), ["boundary_rate_target=0.3,0.1,0.05",
                                            "boundary_gradient=hard_sigmoid", "steps=600"])
    assert settings.boundary_rate_target == (0.3, 0.1, 0.05)
    assert (settings.boundary_gradient, settings.steps) == ("hard_sigmoid", 600)
    assert apply_overrides(Settings(), ["boundary_rate_target=0.25"]).boundary_rate_target == 0.25
    for bad in ["boundary_rate_target=0.3,0.1", "boundary_rate_target=a", "steps=0",
                "boundary_gradient=step", "units=1.5", "boundary_input=input"]:
        with pytest.raises(GalleryError):
            apply_overrides(Settings(), [bad])


def test_a_diverged_seed_writes_strict_json():
    """A seed whose loss went to NaN still leaves a results.json every JSON reader takes."""
    per_seed = {0: {"bpc_hmlstm": 2.5, "boundary_rate": [0.2, 0.1, 0.05],
                    "boundary_f1": {"precision": 0.3, "recall": 0.2, "f1": 0.24},
                    "random_f1": {"f1": 0.12}, "gold_rate": 0.2, "collapsed_layers": []},
                1: {"bpc_hmlstm": float("nan"), "boundary_rate": [0.0, 0.0, 0.0],
                    "boundary_f1": {"precision": 0.0, "recall": 0.0, "f1": 0.0},
                    "random_f1": {"f1": 0.0}, "gold_rate": 0.2, "collapsed_layers": [1, 2, 3]}}
    text = report.to_json({"per_seed": per_seed, "summary": report.summarise(per_seed)})
    parsed = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert parsed["per_seed"]["1"]["bpc_hmlstm"] is None
    assert parsed["summary"]["bpc_hmlstm"]["mean"] is None
