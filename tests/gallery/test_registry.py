"""The task registry: entry points only, names that cannot be shadowed, a third-party task."""

import ast
import json
import os
import pathlib
import subprocess
import sys
import tomllib

import pytest

from gallery import registry
from gallery.errors import GalleryError

ROOT = pathlib.Path(__file__).resolve().parents[2]


#: Runs ``gallery.cli.main`` on each argument list of ``sys.argv[1]`` (JSON) and prints
#: ``[[exit code, stdout], ...]`` as JSON; with ``load_run`` it also opens that run.
SCRIPT = """
import contextlib, io, json, sys
from gallery.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        results.append([main(argv), out.getvalue()])
if len(sys.argv) > 2:
    from gallery.runs import load_run
    task = load_run(sys.argv[2])[0]
    results.append([0, type(task).__module__])
print(json.dumps(results))
"""


def gallery_calls(calls, cwd, pythonpath=None, run=None):
    """``gallery`` commands in one fresh interpreter started in ``cwd``, which
    ``python -c`` puts first on ``sys.path`` (as Jupyter, pytest and ``python -m`` do)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    result = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(calls),
                             *([str(run)] if run else [])], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(result.stdout.strip().splitlines()[-1])
    assert [code for code, _ in results] == [0] * len(results), result.stderr[-3000:]
    return [out for _, out in results]


def test_the_gallerys_own_tasks_and_lessons_come_from_entry_points():
    assert {"captioning", "charlm", "frame_tagging", "sentiment",
            "translation"} <= set(registry.task_names())
    assert {"activations", "charlm", "contains_one", "gradients",
            "tbptt"} <= set(registry.lesson_names())
    task = registry.get_task("sentiment")
    assert registry.task_class_path(task) == "rnn_gallery.tasks.sentiment.task:SentimentTask"
    assert type(registry.task_from_path(registry.task_class_path(task))) is type(task)
    with pytest.raises(GalleryError, match="unknown task 'nonsense'; available: captioning"):
        registry.get_task("nonsense")
    with pytest.raises(GalleryError, match="is not a task"):
        registry.task_from_path("json:JSONDecoder")


def _imported_names(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def test_nothing_imports_tasks_or_lessons_by_their_folder_name():
    """``tasks``/``lessons`` are installed as ``rnn_gallery.tasks``/``.lessons``; an
    import of the bare name would load the repository folder (or a user's tasks.py)."""
    offenders = [f"{path.relative_to(ROOT)}: {name}"
                 for folder in ("gallery", "tasks", "lessons", "tests", "benchmarks", "templates")
                 for path in (ROOT / folder).rglob("*.py")
                 for name in _imported_names(path)
                 if name.split(".")[0] in ("tasks", "lessons")
                 or (folder == "gallery" and name.startswith("rnn_gallery"))]
    assert offenders == []


def test_every_package_folder_is_packaged():
    """pyproject.toml lists packages one by one (tasks/ installs as rnn_gallery.tasks),
    and folders that hold only package data with the files they hold."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    names = {"tasks": "rnn_gallery.tasks", "lessons": "rnn_gallery.lessons"}
    found = set()
    for init in ROOT.glob("*/**/__init__.py"):
        parts = init.parent.relative_to(ROOT).parts
        if parts[0] in ("gallery", "tasks", "lessons"):
            found.add(".".join([names.get(parts[0], parts[0]), *parts[1:]]))
    listed = set(setup["packages"])
    assert found <= listed
    for data_only in listed - found:  # folders of data files (the web page's static/)
        assert data_only in setup["package-data"], data_only
        assert (ROOT / data_only.replace(".", "/")).is_dir(), data_only
    assert setup["package-dir"] == {"rnn_gallery.tasks": "tasks",
                                    "rnn_gallery.lessons": "lessons"}


def test_a_users_tasks_and_lessons_modules_do_not_shadow_ours(tiny_sentiment_run, tmp_path):
    """A working folder with its own tasks.py and lessons.py (Celery, Invoke) first on
    sys.path: listing, predicting and load_run still find the gallery's tasks."""
    for name in ("tasks", "lessons"):
        (tmp_path / f"{name}.py").write_text(f"raise SystemExit('the user\\'s {name}.py ran')\n")
    listed, lessons, predicted, loaded = gallery_calls(
        [["list"], ["lesson", "list"],
         ["predict", "sentiment", "--model", str(tiny_sentiment_run), "a wonderful film"]],
        cwd=tmp_path, run=tiny_sentiment_run)
    assert "sentiment" in listed and "translation" in listed
    assert "tbptt" in lessons
    assert json.loads(predicted)["label"] in ("neg", "pos")
    assert loaded == "rnn_gallery.tasks.sentiment.task"
    meta = json.loads((tiny_sentiment_run / "meta.json").read_text())
    assert meta["task_class"] == "rnn_gallery.tasks.sentiment.task:SentimentTask"


@pytest.mark.slow  # 3 subprocesses; the task trained, predicted: test_contract[majority]
def test_a_third_party_task_is_listed_trained_and_predicted(third_party_path, tmp_path):
    """A package installed elsewhere registers ``majority``; nothing here names it. (Its
    export, serving, fine-tuning and resuming: tests/test_contract.py.)"""
    run = tmp_path / "run"
    listed, _, predicted = gallery_calls(
        [["list"], ["train", "majority", "--out", str(run), "--profile", "tiny"],
         ["predict", "majority", "--model", str(run), "aab", "bbbab"]],
        cwd=tmp_path, pythonpath=third_party_path)
    assert "majority" in listed and "sentiment" in listed
    meta = json.loads((run / "meta.json").read_text())
    assert meta["task"] == "majority" and meta["task_class"] == "gallery_toy.task:MajorityTask"
    rows = [json.loads(line) for line in predicted.splitlines()]
    assert [row["text"] for row in rows] == ["aab", "bbbab"]
    assert all(row["label"] in ("a", "b") for row in rows)


def test_a_run_whose_task_cannot_be_imported_says_which(tmp_path):
    with pytest.raises(GalleryError, match="cannot import the run's task 'no_such_pkg.task:T'"):
        registry.task_from_path("no_such_pkg.task:T")
