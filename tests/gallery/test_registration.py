"""``import gallery`` is enough to load any task's ``model.keras``; the public API is
exported and free of private Keras symbols (where one is unavoidable, a test here
fails loudly when Keras changes it)."""

import ast
import json
import pathlib
import subprocess
import sys

import pytest

import gallery
import gallery.layers

TASKS = ["sentiment", "captioning", "translation", "frame_tagging", "charlm"]
LOAD_ALL = """
import json, sys
import gallery, keras
loaded = {}
for name, path in json.loads(sys.argv[1]).items():
    model = keras.models.load_model(path)
    loaded[name] = type(model).__name__
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("tasks", "lessons"))
print(json.dumps({"loaded": loaded, "leaked": leaked}))
"""


def test_import_gallery_alone_loads_every_tasks_model(request, tmp_path):
    runs = {task: str(request.getfixturevalue(f"tiny_{task}_run") / "model.keras")
            for task in TASKS}
    done = subprocess.run([sys.executable, "-c", LOAD_ALL, json.dumps(runs)],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(result["loaded"]) == sorted(TASKS)
    assert result["leaked"] == []  # tasks come through the entry points, never by name


def test_import_gallery_does_not_import_tensorflow(tmp_path):
    script = "import sys, gallery; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.stdout.split() == ["False", "False"], done.stderr[-2000:]


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
