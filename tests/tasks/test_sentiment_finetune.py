"""Fine-tuning from a trained run: the template, the CLI, label handling, freezing."""

import importlib.util
import json
import pathlib

import pytest
from conftest import write_review_file

from gallery.cli import main

TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "templates" / "finetune_sentiment.py"


def _template():
    spec = importlib.util.spec_from_file_location("finetune_sentiment", TEMPLATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_template_raises_validation_accuracy(tiny_sentiment_run, tmp_path, capsys):
    data = write_review_file(tmp_path / "mine.tsv", rows=200, seed=11, labels=("bad", "good"))
    template = _template()
    template.SETTINGS = ["epochs=4", "learning_rate=0.01", "patience=4"]
    metrics = template.main(str(tiny_sentiment_run), str(data), str(tmp_path / "tuned"))
    report = metrics["finetune"]
    assert report["validation_accuracy_after"] > report["validation_accuracy_before"] + 0.2
    assert report["validation_accuracy_after"] >= 0.9
    assert "before" in capsys.readouterr().out
    meta = json.loads((tmp_path / "tuned" / "meta.json").read_text())
    assert meta["labels"] == ["bad", "good"]  # new labels, new head


def test_cli_finetune_keeps_head_with_label_map_and_freezes(tiny_sentiment_run, tmp_path):
    data = write_review_file(tmp_path / "mine.csv", rows=120, seed=5, labels=("0", "1"),
                             delimiter=",")
    out = tmp_path / "mapped"
    assert main(["finetune", "sentiment", "--from", str(tiny_sentiment_run), "--data",
                 str(data), "--label-map", "0=neg,1=pos", "--freeze", "embedding,recurrent",
                 "--set", "epochs=1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finetune"]["validation_accuracy_before"] > 0.8  # the old head already works
    assert json.loads((out / "meta.json").read_text())["labels"] == ["neg", "pos"]
    from gallery.runs import load_run
    _, _, model, _ = load_run(out)
    core = model.get_layer("core")
    assert not core.get_layer("embedding").trainable
    assert all(not layer.trainable for layer in core.layers if layer.name.startswith("recurrent"))
    assert core.get_layer("classifier0").trainable


@pytest.mark.parametrize("args,message", [
    (["--freeze", "nothing_like_this"], "matches no layer"),
    (["--label-map", "oops"], "old=new"),
    (["--set", "bogus=1"], "unknown setting"),
])
def test_finetune_bad_options(tiny_sentiment_run, tmp_path, capsys, args, message):
    data = write_review_file(tmp_path / "d.tsv", rows=40)
    assert main(["finetune", "sentiment", "--from", str(tiny_sentiment_run), "--data",
                 str(data), "--out", str(tmp_path / "x"), *args]) == 2
    assert message in capsys.readouterr().err
