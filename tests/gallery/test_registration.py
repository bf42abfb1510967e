"""Registration is explicit: ``import gallery`` is light and installs no import hook;
every Keras class registers where it is defined; ``gallery.register_all()`` is the one
call that makes a bare ``keras.models.load_model`` work for any task's model, and a task
that cannot be imported is named in one line. The public API is exported and free of
private Keras symbols (where one is unavoidable, a test here fails loudly when Keras
changes it)."""

import ast
import json
import os
import pathlib
import subprocess
import sys

import pytest

import gallery
import gallery.layers

TASKS = ["sentiment", "captioning", "translation", "frame_tagging", "charlm"]
#: One fresh interpreter for the two tests below (one TensorFlow start-up): first what
#: ``import gallery`` and then ``import keras`` import, then ``register_all`` and a bare
#: ``keras.models.load_model`` of every task's model.
FRESH = """
import json, os, sys
hooks = list(sys.meta_path)
import gallery
imported = {"hooks_kept": sys.meta_path == hooks,
            "log_level_set": "TF_CPP_MIN_LOG_LEVEL" in os.environ,
            "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}
import keras
imported["after_keras"] = sorted(m for m in sys.modules
                                 if ".tasks." in m or m.startswith("gallery.layers"))
registered = sorted(gallery.register_all())
loaded = {}
for name, path in json.loads(sys.argv[1]).items():
    model = keras.models.load_model(path)
    loaded[name] = type(model).__name__
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("tasks", "lessons"))
print(json.dumps({"imported": imported, "registered": registered, "loaded": loaded,
                  "leaked": leaked}))
"""


@pytest.fixture(scope="module")
def fresh(request, tmp_path_factory):
    """What :data:`FRESH` printed, run with no ``TF_CPP_*`` variable set."""
    runs = {task: str(request.getfixturevalue(f"tiny_{task}_run") / "model.keras")
            for task in TASKS}
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    done = subprocess.run([sys.executable, "-c", FRESH, json.dumps(runs)],
                          capture_output=True, text=True, timeout=900,
                          cwd=tmp_path_factory.mktemp("fresh"), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_register_all_then_load_model_loads_every_tasks_model(fresh):
    assert set(TASKS) <= set(fresh["registered"])
    assert sorted(fresh["loaded"]) == sorted(TASKS)
    assert fresh["leaked"] == []  # tasks come through the entry points, never by name


def test_import_gallery_is_light_and_installs_no_hook(fresh):
    """No import hook, no TensorFlow log level forced (``gallery.quiet`` sets its own), no
    TensorFlow; and importing Keras afterwards imports no task and no gallery layer."""
    assert fresh["imported"] == {"hooks_kept": True, "log_level_set": False,
                                 "tensorflow": False, "keras": False, "after_keras": []}


def broken_task_site(folder):
    """A throwaway installed package whose registered task has a SyntaxError: the
    package and its ``.dist-info`` (entry point ``broken``) written into ``folder``."""
    package = folder / "broken_task"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "task.py").write_text("class BrokenTask(:\n    pass\n")
    info = folder / "broken_task-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-task\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[rnn_gallery.tasks]\nbroken = broken_task.task:BrokenTask\n")
    return folder


def broken_task_env(tmp_path):
    site = broken_task_site(tmp_path / "site")
    return {**{k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")},
            "PYTHONPATH": str(site)}


# `gallery list` imports every task as `gallery train` does: the slow tier checks it
# too (default tier: the train case).
@pytest.mark.parametrize("argv", [["train", "broken", "--profile", "tiny"],
                                  pytest.param(["list"], marks=pytest.mark.slow)],
                         ids=["train", "list"])
def test_a_task_with_a_syntax_error_is_one_line_naming_it(tmp_path, argv):
    env = broken_task_env(tmp_path)
    script = pathlib.Path(sys.executable).with_name("gallery")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "gallery.cli"]
    expected = ("gallery: error: task 'broken' is registered as 'broken_task.task:BrokenTask', "
                "which cannot be imported: SyntaxError: ")
    done = subprocess.run([*command, *argv], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(done.stderr.splitlines()) == 1, done.stderr[-2000:]
    assert done.stderr.startswith(expected) and "task.py, line 1" in done.stderr


def test_register_all_names_a_task_with_a_syntax_error(tmp_path):
    env = broken_task_env(tmp_path)
    library = ("import gallery\n"
               "try:\n    gallery.register_all()\n"
               "except gallery.errors.GalleryError as error:\n"
               "    print(type(error.__cause__).__name__, error)\n")
    done = subprocess.run([sys.executable, "-c", library], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.startswith("SyntaxError task 'broken'"), done.stderr[-2000:]


def test_every_public_layer_is_exported_and_registered():
    import keras

    layers_dir = pathlib.Path(gallery.layers.__file__).parent
    defined = set()
    for path in layers_dir.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {ast.unparse(b) for b in node.bases}
                if bases & {"keras.layers.Layer", "keras.layers.RNN", "keras.layers.Wrapper",
                            "RecurrentCell", "keras.callbacks.Callback"}:
                    defined.add(node.name)
    assert defined <= set(gallery.layers.__all__)
    for name in defined - {"RecurrentCell", "SlopeAnnealing"}:
        assert keras.saving.get_registered_object(f"gallery>{name}") is getattr(
            gallery.layers, name), name


def test_no_private_keras_api_in_the_library():
    """``keras.src`` is Keras's private package: the library uses the public API only."""
    root = pathlib.Path(gallery.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        text = path.read_text()
        for marker in ("keras.src", "_maybe_config_dropout_masks", "_flatten_layers",
                       "_initial_epoch"):
            if marker in text and "noqa: private-keras" not in text:
                offenders.append(f"{path.relative_to(root)}: {marker}")
    if offenders:
        pytest.fail("private Keras API in gallery/: " + ", ".join(offenders))


def test_the_private_keras_hooks_distribute_needs_still_exist():
    """gallery/distribute.py mends MultiWorkerMirroredStrategy support through two private
    Keras hooks (no public one exists; keras-team/keras#20585). If Keras renames or
    reshapes them, this fails here rather than in a multi-worker run."""
    import inspect

    import keras
    from keras.src.backend.tensorflow import trainer

    assert list(inspect.signature(trainer.reduce_per_replica).parameters) == [
        "values", "strategy", "reduction"]
    assert "data_batch" in inspect.signature(keras.Model._maybe_symbolic_build).parameters
