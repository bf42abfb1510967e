"""The lessons: their numbers, not only that they run."""

import json

import numpy as np
import pytest
import tensorflow as tf

from gallery.cli import main
from gallery.layers import ElmanCell
from rnn_gallery.lessons import activations, contains_one, gradients, tbptt


@pytest.mark.slow  # 500 epochs of the lesson's training
def test_contains_one_reproduces_the_reference_run(tmp_path, capsys):
    """docs/worked_examples.md §5: loss 0.6315 @50, 0.0121 @100, 0.0010 @500 in the reference."""
    results = contains_one.run(tmp_path)
    loss = results["loss_by_epoch"]
    assert 0.3 < loss[50] < 0.7          # still near log 2 after 50 epochs
    assert loss[100] < 0.1               # then it learns to latch
    assert loss[500] < 0.01              # the reference's order (0.0010)
    assert results["final_accuracy"] == 1.0
    printed = capsys.readouterr().out
    assert "0.6315" in printed and "0.0010" in printed
    # After training the second layer latches: high from the first 1 to the end.
    example, h2 = np.array(results["example"]), np.array(results["states_after"][1])
    first = int(np.argmax(example))
    assert abs(h2[first:]).min() > 0.6 > 0.25 > abs(h2[:first]).max()
    assert (tmp_path / "contains_one_states.png").stat().st_size > 10_000


def test_state_gradients_match_the_hand_derived_product():
    """Linear Elman: h_{t+1} = x_t W + h_t U + b, so ∂L/∂h_t = w (Uᵀ)^(T-t) for L = w·h_T."""
    cell = ElmanCell(4, activation=None)
    x = tf.random.stateless_normal([1, 6, 3], seed=[1, 2])
    norms = gradients.state_gradient_norms(cell, x, seed=0)
    u = cell.recurrent_kernel.numpy()
    w = tf.random.stateless_normal([4], seed=[0, 2]).numpy()
    expected = [np.linalg.norm(w @ np.linalg.matrix_power(u.T, 5 - t)) for t in range(6)]
    np.testing.assert_allclose(norms, expected, rtol=1e-5)


@pytest.mark.slow  # the lesson's training runs; its norms: the hand-derived test
def test_gradients_lesson_numbers(tmp_path):
    results = gradients.run(tmp_path, verbose=False)
    ratio = {name: n[0] / n[-1] for name, n in results["norms"].items()}
    assert ratio["Elman tanh, orthogonal"] < 1e-2          # vanishes
    assert ratio["Elman ReLU, random (gain 1.5)"] > 1      # explodes
    assert ratio["LSTM"] < 1e-10 and ratio["GRU"] < 1e-10  # untrained gates forget
    assert ratio["LSTM, forget-gate bias 5"] > 1e3 * ratio["LSTM"]
    unclipped = results["adding_loss"]["no_clipping"]
    clipped = results["adding_loss"]["clipnorm_1"]
    assert clipped[-1] < gradients.BASELINE_MSE < 1 < unclipped[-1]
    assert (tmp_path / "gradient_norms.png").is_file()


@pytest.mark.slow  # trains three models
def test_truncation_shorter_than_the_lag_cannot_learn(tmp_path):
    results = tbptt.run(tmp_path, truncations=(10, 20, 100), verbose=False)
    accuracy = results["accuracy"]
    assert accuracy["10"] < 0.7                       # k < lag: chance
    assert accuracy["20"] > 0.95 and accuracy["100"] > 0.95  # k ≥ lag and full BPTT
    assert (tmp_path / "tbptt.png").is_file()


def test_text_properties_of_python_source():
    text = 'x = f("a(b", [1])\n    s = """q\n(""" # (\n'
    props = activations.text_properties(text)
    inside = [text.index('"a(b"') + i for i in range(5)]
    start = text.index('"""')
    inside += list(range(start, text.index('"""', start + 3) + 3))
    assert np.flatnonzero(props["quote"]).tolist() == inside
    depth = props["bracket depth"]
    assert depth[list('x = f("a(b", [1])').index("[")] == 2   # "(" inside the string ignored
    assert depth[-2] == 0                                     # "(" in a comment ignored
    assert props["indentation"][text.index("s =")] == 1       # 4 spaces


def test_best_units_finds_a_planted_unit():
    rng = np.random.default_rng(0)
    depth = rng.integers(0, 4, 500).astype(float)
    acts = rng.normal(size=(500, 16))
    acts[:, 11] = -0.3 * depth + rng.normal(scale=0.05, size=500)
    acts[:, 3] = 0.0  # a dead unit: no correlation, no warning
    unit, r = activations.best_units(acts, {"depth": depth})["depth"]
    assert unit == 11 and r < -0.98
    assert r == pytest.approx(np.corrcoef(acts[:, 11], depth)[0, 1])


def test_activations_and_lesson_cli(tiny_charlm_run, tmp_path, capsys):
    assert main(["lesson", "activations", "--model", str(tiny_charlm_run),
                 "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["best"]) == set(activations.PROPERTIES)
    assert all(-1 <= b["r"] <= 1 for b in results["best"].values())
    # The tiny model's text has fixed indentation per line; some unit follows it.
    assert abs(results["best"]["indentation"]["r"]) > 0.5
    assert (tmp_path / "activations.html").is_file() and (tmp_path / "activations.png").is_file()
    assert main(["lesson", "list"]) == 0
    assert "tbptt" in capsys.readouterr().out
    assert main(["lesson", "nonsense"]) == 2
    assert "unknown lesson" in capsys.readouterr().err


@pytest.mark.slow  # trains; `gallery lesson`: the activations test
def test_charlm_lesson_reports_bits_per_char(tmp_path):
    from rnn_gallery.lessons import charlm

    results = charlm.run(tmp_path, prime="import ", temperature=0.5,
                         overrides=["epochs=1", "max_chars=30000", "units=32",
                                    "sample_length=20"])
    assert 0 < results["test_bits_per_char"] < 7 and 0 < results["validation_bits_per_char"] < 7
    assert len(results["samples"]["0.5"]) == 20
