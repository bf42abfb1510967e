"""`gallery demo` (the main job of `make run`): one task end to end, and a bad task name."""

import pathlib

from gallery.cli import main
from gallery.serving.ui.examples import read_examples


def test_demo_trains_exports_and_serves_one_task(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--tasks", "frame_tagging", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "served by the reloaded SavedModel" in printed
    summary = printed.split("Summary")[1].splitlines()
    row = next(line for line in summary if line.startswith("frame_tagging"))
    assert 0.0 <= float(row.split()[2]) <= 1.0
    assert (out / "exports" / "frame_tagging" / "1" / "saved_model.pb").is_file()
    assert (out / "frame_tagging" / "model.keras").is_file()
    examples = read_examples(out / "exports" / "frame_tagging" / "1")  # for the web page
    assert examples and examples[0]["labels"] and examples[0]["inputs"]["lengths"] > 0
    assert printed.strip().splitlines()[-1].startswith(
        f"Try these models in your browser: `gallery serve --demo {out}`")


def test_demo_of_an_unknown_task_is_one_line(tmp_path, capsys):
    assert main(["demo", "--tasks", "sentiment", "nonsense", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gallery: error:") and "\n" not in err
    assert not pathlib.Path(tmp_path / "d").exists()  # nothing was trained first
