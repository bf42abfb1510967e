"""`gallery predict --input FOLDER` for the tasks that read files: a folder of images
(captioning) and of stream files (frame tagging), through the run and the export."""

import json

import numpy as np
from conftest import write_caption_folder

from gallery.cli import main


def rows(capsys, *args):
    capsys.readouterr()
    assert main(["predict", *map(str, args)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_folder_of_images(tiny_captioning_run, task_export, tmp_path, capsys):
    export = task_export("captioning")
    write_caption_folder(tmp_path / "made", count=3)
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("img2.png", "img0.png", "img1.png"):
        (folder / name).write_bytes((tmp_path / "made" / name).read_bytes())
    by_run = rows(capsys, "captioning", "--model", tiny_captioning_run, "--input", folder)
    by_export = rows(capsys, "captioning", "--model", export, "--input", folder)
    assert [r["image"].split("/")[-1] for r in by_run] == ["img0.png", "img1.png", "img2.png"]
    assert [r["input"] for r in by_export] == [r["image"] for r in by_run]
    assert [r["caption"] for r in by_export] == [r["caption"] for r in by_run]


def test_folder_of_streams(tiny_frame_tagging_run, task_export, tmp_path, capsys):
    export = task_export("frame_tagging")
    rng = np.random.default_rng(3)
    channels = json.loads((tiny_frame_tagging_run / "meta.json").read_text())["channels"]
    for i, length in enumerate([40, 1, 90]):
        np.save(tmp_path / f"s{i}.npy", rng.normal(size=(length, channels)).astype("float32"))
    by_run = rows(capsys, "frame_tagging", "--model", tiny_frame_tagging_run,
                  "--input", tmp_path)
    by_export = rows(capsys, "frame_tagging", "--model", export, "--input", tmp_path)
    assert [r["frames"] for r in by_run] == [40, 1, 90]
    for run_row, export_row in zip(by_run, by_export):
        labels = export_row["labels"]
        assert len(labels) == run_row["frames"]
        expanded = [label for label, start, end in run_row["segments"]
                    for _ in range(end - start)]
        assert labels == expanded
