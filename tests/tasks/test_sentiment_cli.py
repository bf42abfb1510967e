"""`gallery` CLI on the sentiment task: the run folder, predict, evaluate, bad input."""

import json

import pytest
from conftest import cli_train, write_review_file

from gallery.cli import main


def test_run_folder_has_everything(tiny_sentiment_run):
    names = {p.name for p in tiny_sentiment_run.iterdir()}
    assert {"model.keras", "config.json", "meta.json", "metrics.json", "history.json",
            "training_curves.png"} <= names
    metrics = json.loads((tiny_sentiment_run / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.9  # the synthetic labels follow the sentiment words
    config = json.loads((tiny_sentiment_run / "config.json").read_text())
    assert config["units"] == 8 and config["epochs"] == 3
    assert json.loads((tiny_sentiment_run / "meta.json").read_text())["labels"] == ["neg", "pos"]


def test_predict_prints_label_and_probability(tiny_sentiment_run, capsys):
    assert main(["predict", "sentiment", "--model", str(tiny_sentiment_run),
                 "a wonderful and superb film", "dull terrible acting", ""]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in rows[:2]] == ["pos", "neg"]
    assert all(0.5 <= r["probability"] <= 1.0 for r in rows)


def test_predict_takes_arguments_that_are_not_utf8(tiny_sentiment_run, capsys):
    """Bytes 0xFF 0xFE in argv reach Python as lone surrogates: a defined answer, with
    the bytes shown as U+FFFD, not a traceback."""
    assert main(["predict", "sentiment", "--model", str(tiny_sentiment_run),
                 "\udcff\udcfe superb film"]) == 0
    row = json.loads(capsys.readouterr().out.strip())
    assert row["text"] == "\ufffd\ufffd superb film" and 0.5 <= row["probability"] <= 1


def test_evaluate_prints_metrics(tiny_sentiment_run, capsys):
    assert main(["evaluate", "sentiment", "--model", str(tiny_sentiment_run)]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] > 0.9


def test_evaluate_on_data_with_other_labels(tiny_sentiment_run, tmp_path, capsys):
    path = tmp_path / "other.tsv"
    path.write_text("text\tlabel\n" + "".join(f"t{i}\t{'abc'[i % 3]}\n" for i in range(30)))
    assert main(["evaluate", "sentiment", "--model", str(tiny_sentiment_run),
                 "--data", str(path)]) == 2
    assert "labels the model does not know: ['a', 'b', 'c']" in _error_line(capsys)


def test_list(capsys):
    assert main(["list"]) == 0
    assert "sentiment" in capsys.readouterr().out


def _error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("gallery: error:"), err
    return err


@pytest.mark.parametrize("args,message", [
    (["train", "sentiment", "--set", "colour=blue"], "unknown setting 'colour'"),
    (["train", "sentiment", "--set", "units=many"], "units takes a int"),
    (["train", "sentiment", "--set", "learning_rate=nan"], "learning_rate takes a finite"),
    (["train", "sentiment", "--set", "dropout=inf"], "dropout takes a finite"),
    (["train", "sentiment", "--set", "cell=transformer"], "cell must be lstm, gru or elman"),
    (["train", "sentiment", "--data", "/no/such/file.tsv"], "data file not found"),
    (["train", "nonsense"], "unknown task 'nonsense'"),
    (["predict", "sentiment", "--model", "/no/such/run", "hi"], "no trained model"),
    (["export", "sentiment", "--model", "/no/such/run"], "no trained model"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    assert main(args) == 2
    assert message in _error_line(capsys)


def test_csv_without_label_column(tmp_path, capsys):
    path = tmp_path / "nolabel.csv"
    path.write_text("text,stars\ngood,5\nbad,1\n")
    assert main(["train", "sentiment", "--data", str(path)]) == 2
    assert "missing label" in _error_line(capsys)


def test_malformed_csv(tmp_path, capsys):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"text,label\n\"never closed,1\n" + b"\x00" * 10)
    assert main(["train", "sentiment", "--data", str(path)]) == 2
    _error_line(capsys)


def test_run_of_another_task_or_corrupt_model(tiny_sentiment_run, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("meta.json", "config.json"):
        (broken / name).write_text((tiny_sentiment_run / name).read_text())
    (broken / "model.keras").write_bytes(b"not a zip file")
    assert main(["predict", "sentiment", "--model", str(broken), "hi"]) == 2
    assert "cannot load" in _error_line(capsys)


# default tier: two trainings with the same settings give the same numbers in
# tests/test_contract.py::test_an_interrupted_run_resumes_to_the_same_metrics[sentiment]
# and tests/gallery/test_presets.py::test_the_same_build_gives_the_same_weights.
@pytest.mark.slow
def test_training_is_reproducible(tmp_path):
    from conftest import TINY_SENTIMENT

    data = write_review_file(tmp_path / "r.tsv", rows=120, seed=3)
    results = []
    for name in ("a", "b"):
        cli_train("sentiment", tmp_path / name, TINY_SENTIMENT + ["epochs=1"], data)
        results.append((tmp_path / name / "history.json").read_text())
    assert results[0] == results[1]


def test_training_with_weight_averaging(tmp_path):
    from conftest import TINY_SENTIMENT

    data = write_review_file(tmp_path / "r.tsv", rows=120, seed=4)
    args = ["train", "sentiment", "--data", str(data), "--out", str(tmp_path / "ema")]
    for item in TINY_SENTIMENT + ["ema=0.9", "epochs=2"]:
        args += ["--set", item]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "ema" / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and 0.0 <= metrics["accuracy"] <= 1.0
