"""`gallery demo` (the main job of `make run`) on tiny presets (conftest's
``preset_root``, built once): each preset measured, exported, reloaded and served,
one live run with its progress, the summary and the serve line; a missing preset or a
bad task name is one line."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from serving_helpers import http

from gallery.cli import main
from gallery.preset_store import ROOT_ENV
from gallery.serving.ui import demo_exports
from gallery.serving.ui.examples import read_examples

TASKS = ("sentiment", "charlm")  # conftest's PRESET_TASKS; charlm is the live run


def _summary_rows(printed):
    lines = printed.split("\nSummary: the presets")[1].splitlines()
    assert lines[1].split() == ["task", "metric", "value", "card", "seconds", "export"]
    return {line.split()[0]: line.split() for line in lines[2:] if line.split()
            and line.split()[0] in TASKS}


def test_the_demo_shows_the_presets_then_trains_live(use_presets, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--tasks", *TASKS, "--out", str(out), "--live-profile", "tiny"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Worked examples")  # the layers' worked examples first
    rows = _summary_rows(printed)
    for name in TASKS:
        card = json.loads((use_presets / name / "card.json").read_text())
        export = out / "exports" / name / "1"
        # task, metric, the value measured again on the whole test split = the card's
        assert rows[name][:4] == [name, card["metric"], f"{card['value']:.4f}", "same"]
        assert rows[name][5] == str(export) and (export / "saved_model.pb").is_file()
        assert f"[{name}] test split: {card['test_examples']:,d}: {card['metric']} " \
            f"{card['value']:.4f}, the card's value" in printed
        assert f"[{name}] served by the reloaded SavedModel:" in printed
        assert read_examples(export)  # held-out examples for the web page
    assert demo_exports(out) == {name: out / "exports" / name / "1" for name in sorted(TASKS)}
    assert read_examples(out / "exports" / "sentiment" / "1")[0]["labels"]
    # the live run: charlm's tiny profile, its progress printed epoch by epoch
    live = printed.split("[live] training charlm from scratch (2 epochs, profile tiny)")[1]
    assert "Epoch 1/2" in live and "Epoch 2/2" in live and " - loss: " in live
    assert (out / "live" / "charlm" / "model.keras").is_file()
    assert "\nLive run: charlm from scratch, profile tiny, 2 epochs in " in printed
    times = next(line for line in printed.splitlines() if line.startswith("Times: "))
    for phase in ("worked examples", "load", "evaluate", "export", "serve", "live run",
                  "in all"):
        assert f"{phase} " in times
    assert printed.strip().splitlines()[-1].startswith(
        f"Try these models in your browser: `gallery serve --demo {out}`")

    # again, --quick: the card's slice of the test split; the exports of the same
    # presets are reused; no live run
    written = (out / "exports" / "charlm" / "1" / "saved_model.pb").stat().st_mtime_ns
    assert main(["demo", "--tasks", "charlm", "--out", str(out), "--live", "none",
                 "--quick"]) == 0
    printed = capsys.readouterr().out
    card = json.loads((use_presets / "charlm" / "card.json").read_text())
    assert f"[charlm] the first {card['slice_examples']:,d} of the test split's " \
        f"{card['test_examples']:,d}: " \
        f"bits_per_char {card['value_slice']:.4f}, the card's value" in printed
    assert _summary_rows(printed)["charlm"][2:4] == [f"{card['value_slice']:.4f}", "same"]
    assert "export " + str(out / "exports" / "charlm" / "1") + " is of this preset: reused" \
        in printed and "[live]" not in printed
    assert (out / "exports" / "charlm" / "1" / "saved_model.pb").stat().st_mtime_ns == written
    _serve_demo(out)


def _serve_demo(out):
    """``gallery serve --demo OUT`` (a real process) serves the demo's exports and the
    web page's held-out examples."""
    process = subprocess.Popen([sys.executable, "-m", "gallery.cli", "serve", "--demo",
                                str(out), "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        line = process.stdout.readline()
        while line and " at http://" not in line:  # the web page's line comes first
            line = process.stdout.readline()
        assert " at http://" in line, process.stderr.read()[-2000:]
        url = "http://" + line.split(" at http://")[1].split()[0]
        assert http(url, "/ui/models") == (200, {"models": sorted(TASKS)})
        status, reply = http(url, "/v1/models/sentiment:predict",
                             {"instances": ["a fine film"]})
        assert status == 200 and reply["predictions"][0]["label"] in ("negative", "positive")
        status, reply = http(url, "/ui/examples/charlm")
        assert status == 200 and reply["examples"]
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_the_demo_without_presets_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ROOT_ENV, str(tmp_path / "no-presets"))
    assert main(["demo", "--tasks", "sentiment", "--out", str(tmp_path / "d")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing ran, not even the worked examples
    (line,) = captured.err.splitlines()
    assert line.startswith("gallery: error: no preset 'sentiment'") and "make presets" in line
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("damage, says", [
    (lambda folder: (folder / "model.keras").write_bytes(b"not a model"),
     "preset 'charlm': model.keras is damaged"),
    (lambda folder: (folder / "card.json").unlink(), "preset 'charlm' has no card.json"),
], ids=["damaged-model", "no-card"])
def test_the_demo_with_a_damaged_preset_is_one_line(preset_root, tmp_path, monkeypatch,
                                                   capsys, damage, says):
    copy = shutil.copytree(preset_root, tmp_path / "presets")
    damage(copy / "charlm")
    monkeypatch.setenv(ROOT_ENV, str(copy))
    assert main(["demo", "--out", str(tmp_path / "d"), "--tasks", "sentiment", "charlm"]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert captured.out == "" and says in line and "make presets" in line
    assert not (tmp_path / "d").exists()


def test_demo_of_an_unknown_task_is_one_line(tmp_path, capsys):
    assert main(["demo", "--tasks", "sentiment", "nonsense", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gallery: error:") and "\n" not in err
    assert not pathlib.Path(tmp_path / "d").exists()  # nothing was trained first
