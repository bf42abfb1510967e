"""Presets: built (tiny profile) into a folder of their own, loaded by name, checked
before use, refused in one line when damaged, missing or of another version, never
written into by fine-tuning."""

import io
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile

import h5py
import keras
import numpy as np
import pytest
from cli_driver import run_cases
from conftest import PRESET_TASKS, write_review_file

from gallery import preset_store, presets
from gallery.cli import main
from gallery.errors import GalleryError
from gallery.finetune import finetune
from gallery.preset_exports import RECORD, export_presets
from gallery.preset_metrics import first_items, measure, slice_size
from gallery.registry import get_lesson
from gallery.runs import load_run

ROOT = preset_store.PACKAGE_ROOT.parents[1]
TASKS = PRESET_TASKS  # their tiny presets: conftest's preset_root, built once


@pytest.fixture
def preset_copy(preset_root, tmp_path, monkeypatch):
    """A copy of the tiny presets the test may damage, set as ``GALLERY_PRESETS_DIR``."""
    copy = shutil.copytree(preset_root, tmp_path / "presets")
    monkeypatch.setenv(preset_store.ROOT_ENV, str(copy))
    return copy


def snapshot(folder):
    """Every entry below ``folder`` with its bytes and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None,
                                         p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def gallery(*args, root):
    """``python -m gallery.cli ARGS`` in a new process with ``GALLERY_PRESETS_DIR=root``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", preset_store.ROOT_ENV: str(root)}
    return subprocess.run([sys.executable, "-m", "gallery.cli", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)


def test_pyproject_ships_the_presets():
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "preset-files/*/*" in setup["package-data"]["gallery"]
    assert preset_store.PACKAGE_ROOT == ROOT / "gallery" / "preset-files"


@pytest.mark.parametrize("name", TASKS)
def test_a_preset_reloads_with_its_cards_metric(use_presets, name):
    folder = use_presets / name
    card = json.loads((folder / "card.json").read_text())
    task, config, model, meta = load_run(f"preset:{name}")
    splits = task.load_data(config, meta["data"])
    assert task.evaluate(config, model, splits.test, meta)[task.metric] == card["value"]
    assert card["task"] == name and card["metric"] == task.metric and card["split"] == "test"
    assert card["command"] == f"gallery presets build --tasks {name} --profile tiny"
    assert card["gallery_version"] == preset_store.gallery_version()
    assert card["format"] == preset_store.FORMAT and card["weights_dtype"] == "float16"
    assert set(card["files"]) == set(preset_store.RUN_FILES)
    for file_name, facts in card["files"].items():
        assert preset_store.file_digest(folder / file_name) == facts["sha256"]
    assert card["bytes"] == sum((folder / n).stat().st_size for n in card["files"])
    assert card["date"] and card["data"] == meta["source"]
    assert json.loads((folder / "metrics.json").read_text())[task.metric] == card["value"]
    assert abs(card["value"] - card["value_float32"]) <= presets.FLOAT16_TOLERANCE
    # the fast check: the first tenth of the test split, its size and value on the card
    assert card["test_examples"] == len(splits.test)
    assert card["slice_examples"] == slice_size(len(splits.test)) < len(splits.test)
    assert measure(task, config, model, meta, splits.test,
                   card["slice_examples"])[task.metric] == card["value_slice"]


def test_float16_weights_load_into_float32_variables(use_presets):
    """The stored arrays are float16; the loaded model's variables float32; it predicts
    and, compiled, fits on raw texts."""
    with zipfile.ZipFile(use_presets / "sentiment" / "model.keras") as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
        stored = []
        weights.visititems(lambda name, item: stored.append(item.dtype)
                           if isinstance(item, h5py.Dataset) else None)
    assert stored and set(stored) == {np.dtype("float16")}
    model = presets.load("sentiment")
    assert isinstance(model, keras.Model)
    assert {w.dtype for w in model.weights} == {"float32"}
    texts = np.array(["a fine film", "dull"], dtype=object)
    rows = model.predict(texts, verbose=0)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, rtol=1e-5)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # then fit
    assert np.isfinite(model.fit(texts, np.array([1, 0]), verbose=0).history["loss"][0])


def test_sentiments_vocabulary_is_cut_to_the_words_of_its_data():
    """The cut model keeps every word of the texts, and gives exactly the outputs of
    the whole model on them; a word the data never has becomes [UNK]."""
    from gallery.data.text import LabelledText
    from gallery.layers.text import TextToIds
    from gallery.profiles import make_config
    from gallery.registry import get_task
    from gallery.task import Splits

    task = get_task("sentiment")
    config = make_config(task, "tiny", overrides=["extend_vocabulary=true"])
    train = ["a fine film", "a dull plot", "fine acting", "dull and slow"]
    splits = Splits(*(LabelledText(texts, ["positive"] * len(texts))
                      for texts in (train, ["fine plot"], ["a slow film"])),
                    {"labels": ["negative", "positive"]})
    model = task.build_model(config, splits)
    small = task.preset_model(config, model, {}, splits)
    (before,) = [layer for layer in model.layers if isinstance(layer, TextToIds)]
    (after,) = [layer for layer in small.layers if isinstance(layer, TextToIds)]
    assert len(before.vocabulary) > len(after.vocabulary)  # the lexicons' extra words went
    assert set(after.vocabulary) == {"a", "fine", "film", "dull", "plot", "acting", "and",
                                     "slow"}
    texts = np.array(train + ["fine plot", "a slow film"], dtype=object)
    np.testing.assert_array_equal(model.predict(texts, verbose=0),
                                  small.predict(texts, verbose=0))


def test_presets_list_prints_the_cards(use_presets, capsys):
    assert main(["presets", "list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["preset", "task", "metric", "value", "size", "date"]
    for line, name in zip(lines[1:], TASKS[::-1]):  # sorted by name
        card = json.loads((use_presets / name / "card.json").read_text())
        assert line.split()[:4] == [name, name, card["metric"], f"{card['value']:.4f}"]
        assert card["date"][:10] in line
    assert lines[-1].split()[0] == "all" and lines[-1].endswith("(at most 25.0 MB)")


@pytest.mark.parametrize("args", [["list", "--tasks", "charlm"], ["list", "--profile", "tiny"],
                                  ["slices", "--profile", "tiny"]])
def test_presets_flags_of_another_action_are_one_line(args, capsys):
    assert main(["presets", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gallery: error:") and "is for `gallery presets build`" in err
    assert "\n" not in err


def test_predict_without_model_uses_the_preset_and_says_so_once(preset_root):
    done = gallery("predict", "sentiment", "a fine film", "dull", root=preset_root)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["text"] for line in done.stdout.splitlines()] == \
        ["a fine film", "dull"]
    assert done.stderr.splitlines() == ["gallery: no --model: predicting with "
                                        "preset:sentiment (the task's trained default "
                                        "run, shipped with the gallery)"]


def test_gallery_evaluate_in_a_new_process_prints_the_cards_metric(preset_root):
    """charlm's bits/char is a mean of float losses: the same number only with the
    kernels the card's value was measured with (deterministic ones)."""
    card = json.loads((preset_root / "charlm" / "card.json").read_text())
    done = gallery("evaluate", "charlm", "--model", "preset:charlm", root=preset_root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bits_per_char"] == card["value"]


@pytest.fixture(scope="module")
def refusals(preset_root, tmp_path_factory):
    """``(folder, {case: {"code", "stdout", "stderr"}})``: the refused commands below,
    each with ``GALLERY_PRESETS_DIR`` at its own folder (empty, or a copy of the tiny
    presets damaged), run in one new process (tests/gallery/cli_driver.py: one
    TensorFlow start-up for them all)."""
    folder = tmp_path_factory.mktemp("refusals")
    roots = {"none": folder / "none"}
    roots["none"].mkdir()
    for name, damage in (("damaged", _damage_model), ("other_version", _other_version)):
        roots[name] = shutil.copytree(preset_root, folder / name)
        damage(roots[name])
    commands = {"none": ["predict", "sentiment", "a fine film"],
                "damaged": ["evaluate", "sentiment", "--model", "preset:sentiment"],
                "other_version": ["evaluate", "sentiment", "--model", "preset:sentiment"]}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    results = run_cases([{"argv": argv, "env": {preset_store.ROOT_ENV: str(roots[name])},
                          "cwd": str(ROOT)} for name, argv in commands.items()],
                        folder, env, ROOT)
    return roots, dict(zip(commands, results))


def test_predict_without_model_and_without_preset_is_one_line(refusals):
    roots, results = refusals
    done = results["none"]
    assert done["code"] == 2 and done["stdout"] == ""
    assert done["stderr"].splitlines() == [
        f"gallery: error: no preset 'sentiment' in {roots['none']} (presets: none are "
        "built); build them with `make presets`"]


def _damage_model(root):
    path = root / "sentiment" / "model.keras"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _other_version(root):
    path = root / "sentiment" / "card.json"
    path.write_text(path.read_text().replace(f'"gallery_version": '
                                             f'"{preset_store.gallery_version()}"',
                                             '"gallery_version": "0.0.1"'))


# (a missing preset in a real process: test_predict_without_model_and_without_preset...)
@pytest.mark.parametrize("case, says", [
    ("damaged", "model.keras is damaged (its sha256 differs"),
    ("other_version", "was built by rnn-gallery 0.0.1"),
])
def test_a_bad_preset_is_one_line_and_exit_2(refusals, case, says):
    done = refusals[1][case]  # `gallery evaluate sentiment --model preset:sentiment`
    assert done["code"] == 2 and done["stdout"] == ""
    (line,) = done["stderr"].splitlines()  # exactly one line: no traceback
    assert line.startswith("gallery: error: ") and says in line, line
    assert "preset 'sentiment'" in line
    assert "make presets" in line


@pytest.mark.parametrize("card, says", [
    ("{not json", "card.json is damaged"),
    ('{"files": {}}', "not a card the gallery wrote"),
    (None, "has no card.json"),
])
def test_an_unreadable_card_is_refused(preset_copy, card, says):
    path = preset_copy / "sentiment" / "card.json"
    path.unlink() if card is None else path.write_text(card)
    with pytest.raises(GalleryError, match=says) as caught:
        load_run("preset:sentiment")
    assert "\n" not in str(caught.value) and "make presets" in str(caught.value)


def test_a_missing_file_and_a_bad_name_are_refused(preset_copy):
    (preset_copy / "charlm" / "meta.json").unlink()
    with pytest.raises(GalleryError, match="preset 'charlm': meta.json is missing"):
        load_run("preset:charlm")
    with pytest.raises(GalleryError, match="no preset 'nope' in .* build them with `make"):
        load_run("preset:nope")
    with pytest.raises(GalleryError, match="is not a preset name"):
        load_run("preset:../charlm")


def test_finetune_from_a_preset_never_writes_into_it(use_presets, tmp_path):
    before = snapshot(use_presets)
    data = write_review_file(tmp_path / "reviews.tsv", rows=80)
    run, metrics = finetune("preset:sentiment", str(data), overrides=["epochs=1"],
                            out_dir=tmp_path / "tuned", verbose=0)
    assert (run / "model.keras").is_file() and metrics["finetune"]["from"] == "preset:sentiment"
    for inside in (use_presets / "tuned", use_presets / "sentiment"):
        with pytest.raises(GalleryError, match="inside the presets folder"):
            finetune("preset:sentiment", str(data), overrides=["epochs=1"], out_dir=inside,
                     verbose=0, overwrite=True)
    assert snapshot(use_presets) == before


def test_the_activations_lesson_reads_a_preset(use_presets, tmp_path):
    results = get_lesson("activations").run(tmp_path, model="preset:charlm", steps=40,
                                            verbose=False)
    assert results["model"] == "preset:charlm"


# -- replacing a preset folder: only one the gallery wrote ----------------------------------
def _staged(tmp_path):
    staging = tmp_path / ".sentiment.new"
    staging.mkdir()
    (staging / "model.keras").write_bytes(b"new")
    return staging


def test_a_build_replaces_only_a_preset_it_wrote(preset_root, tmp_path):
    target = shutil.copytree(preset_root / "sentiment", tmp_path / "sentiment")
    presets._swap_in(_staged(tmp_path), target)
    assert [p.name for p in target.iterdir()] == ["model.keras"]
    assert [p.name for p in tmp_path.iterdir()] == ["sentiment"]  # the old one is gone


def test_a_build_keeps_a_folder_it_did_not_write(preset_root, tmp_path):
    for foreign in ("notes.txt", None):
        target = shutil.copytree(preset_root / "sentiment", tmp_path / "sentiment")
        if foreign:
            (target / foreign).write_text("mine")
        else:
            (target / "card.json").write_text("{}")
        before = snapshot(target)
        staging = _staged(tmp_path)
        with pytest.raises(GalleryError, match="did not write; both are kept"):
            presets._swap_in(staging, target)
        assert snapshot(target) == before and (staging / "model.keras").is_file()
        shutil.rmtree(target)
        shutil.rmtree(staging)


def test_the_same_build_gives_the_same_weights(preset_root, tmp_path, monkeypatch, capsys):
    """``gallery presets build`` again (here charlm's, into another folder): the same
    weights and the same card metric; its progress names the task and the preset."""
    monkeypatch.setenv(preset_store.ROOT_ENV, str(tmp_path / "again"))
    assert main(["presets", "build", "--tasks", "charlm", "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "[presets] charlm (1/1): training its default run from scratch (profile tiny)" in out
    assert f"in {tmp_path / 'again' / 'charlm'} (" in out
    again = load_run("preset:charlm")[2]
    monkeypatch.setenv(preset_store.ROOT_ENV, str(preset_root))
    first = load_run("preset:charlm")[2]
    for a, b in zip(first.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    cards = [json.loads((root / "charlm" / "card.json").read_text())
             for root in (preset_root, tmp_path / "again")]
    assert cards[0]["value"] == cards[1]["value"]


def test_presets_build_refuses_an_unknown_task_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(preset_store.ROOT_ENV, str(tmp_path / "presets"))
    assert main(["presets", "build", "--tasks", "charlm", "nonsense"]) == 2
    assert "unknown task 'nonsense'" in capsys.readouterr().err
    assert not (tmp_path / "presets").exists()


# -- the presets shipped in the package (after `make presets`) ---------------------------
def shipped():
    """Names of the presets in the package's own folder (none before `make presets`)."""
    root = preset_store.PACKAGE_ROOT
    return sorted(p.name for p in root.iterdir() if (p / "card.json").is_file()) \
        if root.is_dir() else []


@pytest.mark.parametrize("name", shipped() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no presets in gallery/preset-files yet (make presets)"))])
def test_a_shipped_preset_matches_its_card(name, monkeypatch):
    monkeypatch.delenv(preset_store.ROOT_ENV, raising=False)
    folder = preset_store.preset_folder(f"preset:{name}")  # card, version, checksums
    assert folder == preset_store.PACKAGE_ROOT / name


@pytest.mark.skipif(not shipped(), reason="no presets in gallery/preset-files yet")
def test_the_shipped_presets_fit_their_budget():
    assert presets.total_bytes(preset_store.PACKAGE_ROOT) <= presets.BUDGET_BYTES


@pytest.mark.parametrize("name", shipped() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no presets in gallery/preset-files yet (make presets)"))])
def test_a_shipped_preset_reproduces_its_cards_metric_on_a_slice(name, monkeypatch):
    """Fast: the first tenth of the test split (``slice_examples`` items) gives the
    card's ``value_slice``."""
    monkeypatch.delenv(preset_store.ROOT_ENV, raising=False)
    card = json.loads((preset_store.PACKAGE_ROOT / name / "card.json").read_text())
    if card.get("value_slice") is None:
        pytest.skip(f"preset {name!r}'s card has no value_slice (built before the cards "
                    "recorded one): `gallery presets slices` adds it")
    task, config, model, meta = load_run(f"preset:{name}")
    test = task.load_data(config, meta["data"]).test
    assert card["slice_examples"] == slice_size(len(test))
    assert measure(task, config, model, meta, test,
                   card["slice_examples"])[task.metric] == card["value_slice"]


@pytest.mark.slow
@pytest.mark.parametrize("name", shipped() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no presets in gallery/preset-files yet (make presets)"))])
def test_a_shipped_preset_reproduces_its_cards_metric(name, monkeypatch):
    monkeypatch.delenv(preset_store.ROOT_ENV, raising=False)
    card = json.loads((preset_store.PACKAGE_ROOT / name / "card.json").read_text())
    task, config, model, meta = load_run(f"preset:{name}")
    splits = task.load_data(config, meta["data"])
    # deterministic kernels, as the card's value was measured
    assert measure(task, config, model, meta, splits.test)[task.metric] == card["value"]


def test_the_slice_is_the_first_items_of_every_aligned_field():
    """Texts and labels, arrays, a text's characters are cut; other fields kept."""
    from gallery.data.text import LabelledText
    from gallery.registry import get_task

    data = LabelledText(["a", "b", "c"], ["x", "y", "z"])
    assert first_items(data, 2) == LabelledText(["a", "b"], ["x", "y"])
    assert [slice_size(n) for n in (0, 1, 10, 11, 1281)] == [0, 1, 1, 2, 129]
    task = get_task("charlm")
    text = task.load_data(task.config_class(max_chars=60_000)).test
    assert first_items(text, 100).text == text.text[:100]
    with pytest.raises(GalleryError, match="a dataclass of aligned fields"):
        first_items(["a", "b"], 1)


def test_a_killed_builds_staging_folder_is_reused_only_if_ours(tmp_path):
    staging = tmp_path / ".sentiment.new"
    staging.mkdir()
    for name in ("model.keras", ".tmp-model.keras", ".meta.json.tmp"):
        (staging / name).write_bytes(b"half")
    assert presets._staging(tmp_path / "sentiment") == staging
    assert list(staging.iterdir()) == []
    (staging / "notes.txt").write_text("mine")
    with pytest.raises(GalleryError, match="did not write; move it away"):
        presets._staging(tmp_path / "sentiment")
    assert (staging / "notes.txt").read_text() == "mine"


def test_serve_presets_exports_each_preset_once(use_presets, tmp_path, capsys):
    """``gallery serve --presets``'s exports: the demo's layout with held-out examples,
    reused while the preset is the same, exported again when it is not."""
    (export,) = export_presets(tmp_path, ["sentiment"]).values()
    assert export == tmp_path / "exports" / "sentiment" / "1"
    assert json.loads((export / "assets.extra" / "gallery_examples.json").read_text())
    written = (export / "saved_model.pb").stat().st_mtime_ns
    assert export_presets(tmp_path, ["sentiment"])["sentiment"] == export
    assert (export / "saved_model.pb").stat().st_mtime_ns == written  # reused
    (export / RECORD).write_text('{"preset": "sentiment", "model_sha256": "another"}')
    export_presets(tmp_path, ["sentiment"])
    assert (export / "saved_model.pb").stat().st_mtime_ns != written
    assert main(["serve", "--presets", str(tmp_path), "--demo"]) == 2
    assert "give one of --presets, --demo and --model" in capsys.readouterr().err


def test_presets_slices_adds_the_fast_check_to_an_older_card(preset_copy, capsys):
    """A card written before cards recorded ``value_slice`` gets the value a build
    gives, and nothing else in the folder changes; a card with one is left alone."""
    path = preset_copy / "charlm" / "card.json"
    built = json.loads(path.read_text())
    older = {k: v for k, v in built.items()
             if k not in ("value_slice", "slice_examples", "test_examples")}
    path.write_text(json.dumps(older))
    before = snapshot(preset_copy)
    assert main(["presets", "slices"]) == 0
    assert "[presets] charlm: bits_per_char" in capsys.readouterr().out
    assert json.loads(path.read_text()) == built
    after = snapshot(preset_copy)
    assert set(after) == set(before)  # files: only the card changed (folders' times did)
    assert {k for k in after if after[k][0] is not None and after[k] != before[k]} == \
        {"charlm/card.json"}
    assert main(["presets", "slices", "--tasks", "charlm"]) == 0
    assert snapshot(preset_copy) == after and "added" not in capsys.readouterr().out
