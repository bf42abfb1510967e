"""Output folders: export and training replace or delete only what the gallery wrote."""

import json
import shutil

import pytest
from conftest import TINY_SENTIMENT, write_review_file

from gallery.cli import main
from gallery.errors import GalleryError
from gallery.export_folders import check_export_target
from gallery.runs import (
    CHECKPOINT_MARK,
    RUN_MANIFEST,
    check_run_folder,
    mark_checkpoint_folder,
    remove_checkpoint_folder,
)


def snapshot(folder):
    """Every file below ``folder`` with its bytes: proof that nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("gallery: error:"), err
    return err


def train_args(data, out, *extra, epochs=1):
    args = ["train", "sentiment", "--data", str(data), "--out", str(out), *extra]
    for item in TINY_SENTIMENT + [f"epochs={epochs}"]:
        args += ["--set", item]
    return args


# -- export ------------------------------------------------------------------------------
def test_export_overwrite_refuses_what_is_not_an_export(tiny_sentiment_run, tmp_path, capsys):
    run = shutil.copytree(tiny_sentiment_run, tmp_path / "run")
    versions = tmp_path / "saved_models" / "sentiment"
    (versions / "1").mkdir(parents=True)
    (versions / "1" / "saved_model.pb").write_bytes(b"an earlier export")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.txt").write_text("four years of work")
    for target, shown in ((run, "config.json"), (versions, "1"), (notes, "thesis.txt")):
        before = snapshot(tmp_path)
        assert main(["export", "sentiment", "--model", str(run), "--out", str(target),
                     "--overwrite"]) == 2
        err = error_line(capsys)
        assert "is not a SavedModel version folder" in err and shown in err
        assert snapshot(tmp_path) == before, target


def test_export_overwrite_replaces_an_export_or_an_empty_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    check_export_target(empty, overwrite=True)
    version = tmp_path / "1"
    (version / "variables").mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"")
    check_export_target(version, overwrite=True)
    (version / "assets.extra").mkdir()  # TF Serving's extras (the demo's web examples)
    check_export_target(version, overwrite=True)
    (version / "README.txt").write_text("mine")  # an export the user wrote into
    with pytest.raises(GalleryError, match="README.txt"):
        check_export_target(version, overwrite=True)
    with pytest.raises(GalleryError, match="--overwrite"):
        check_export_target(empty, overwrite=False)


def test_abandoned_staging_folders_are_removed_only_when_marked(tmp_path):
    from gallery.export.saved_model import _remove_abandoned_staging
    from gallery.export_folders import mark_staging

    ours, theirs = tmp_path / ".1-999999999-abc", tmp_path / ".1-999999998-notes"
    ours.mkdir()
    mark_staging(ours)
    theirs.mkdir()
    (theirs / "keep.txt").write_text("x")
    _remove_abandoned_staging(tmp_path, "1")
    assert not ours.exists() and (theirs / "keep.txt").is_file()


# -- training ----------------------------------------------------------------------------
def test_user_folders_are_refused_and_left_alone(tmp_path, capsys):
    data = write_review_file(tmp_path / "r.tsv", rows=40)
    project = tmp_path / "proj"
    (project / "checkpoint").mkdir(parents=True)
    (project / "checkpoint" / "my.ckpt").write_text("w")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "model.keras").write_text("not ours")
    for folder, named in ((project, "checkpoint"), (notes, "model.keras")):
        before = snapshot(folder)
        assert main(train_args(data, folder)) == 2
        assert f"holds files the gallery did not write ({named})" in error_line(capsys)
        assert snapshot(folder) == before


def test_a_finished_run_is_replaced_only_with_overwrite_and_only_when_complete(
        tiny_sentiment_run, tmp_path, capsys, monkeypatch):
    second = write_review_file(tmp_path / "second.tsv", rows=60, seed=2)
    run = shutil.copytree(tiny_sentiment_run, tmp_path / "run")  # a finished `gallery train`
    manifest = json.loads((run / RUN_MANIFEST).read_text())["entries"]
    assert {"model.keras", "meta.json", "metrics.json"} <= set(manifest)
    assert "checkpoint" not in manifest and not (run / "checkpoint").exists()
    old = snapshot(run)

    assert main(train_args(second, run)) == 2
    assert "holds a finished run; pass --overwrite" in error_line(capsys)
    assert snapshot(run) == old

    # The replacement dies after its first epoch: the old run is untouched.
    import gallery.training

    def dies(*args, **kwargs):
        raise KeyboardInterrupt
    with monkeypatch.context() as patch:
        patch.setattr(gallery.training.plots, "training_curves", dies)
        assert main(train_args(second, run, "--overwrite")) == 130
    assert snapshot(run) == old
    assert (tmp_path / ".run.new" / "checkpoint" / CHECKPOINT_MARK).is_file()

    # Run again: it resumes in the staging folder and then swaps.
    assert main(train_args(second, run, "--overwrite")) == 0
    assert json.loads((run / "meta.json").read_text())["source"] == str(second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "second.tsv"]


def test_user_files_in_a_finished_run_block_its_replacement(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model.keras", "meta.json"):
        (run / name).write_text("{}")
    (run / RUN_MANIFEST).write_text(json.dumps({"entries": ["model.keras", "meta.json"]}))
    assert check_run_folder(run, overwrite=True) == "replace"
    (run / "notes.txt").write_text("mine")
    with pytest.raises(GalleryError, match=r"did not write \(notes.txt\)"):
        check_run_folder(run, overwrite=True)


def test_only_marked_checkpoint_files_are_deleted(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "state.json").write_text("{}")
    remove_checkpoint_folder(theirs)
    assert (theirs / "state.json").is_file()  # no mark: not ours

    ours = tmp_path / "ours"
    mark_checkpoint_folder(ours / "worker-1")
    mark_checkpoint_folder(ours)
    for name in ("state.json", "state-3.npz", "worker-1/state-3.npz"):
        (ours / name).write_bytes(b"")
    (ours / "my.ckpt").write_text("a user's file dropped in")
    remove_checkpoint_folder(ours)
    assert sorted(p.name for p in ours.rglob("*")) == ["my.ckpt"]
