"""rnn-gallery: recurrent-network applications on Keras 3 / TensorFlow.

``import gallery`` registers every custom Keras object: the library's (the layers
of :mod:`gallery.layers`, the sequence-to-sequence model, layer and loss of
:mod:`gallery.seq2seq`) and those of every task registered in the
``rnn_gallery.tasks`` entry-point group (their model classes; found through the
entry points, never by name), so ``keras.models.load_model("RUN/model.keras")``
works after ``import gallery`` alone. It does so without importing TensorFlow itself
(the CLI's ``gallery list`` stays instant): if Keras is already imported, the objects
are registered now, otherwise as soon as Keras is.
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys

# Keep TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notes) out of the CLI.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

#: The modules that define (and so register) the library's custom Keras objects.
OBJECT_MODULES = ("gallery.layers", "gallery.seq2seq")


def _task_modules():
    """The modules of the registered tasks, read as :mod:`gallery.registry` reads them
    (the same entries ``gallery list`` shows, a stale source-folder egg-info included)."""
    from gallery.registry import task_modules

    try:
        return task_modules()
    except Exception:  # broken metadata of some installed package: the library still works
        return []


def register_keras_objects():
    """Import :data:`OBJECT_MODULES` and every registered task's module (their Keras
    classes register on import)."""
    for name in (*OBJECT_MODULES, *_task_modules()):
        try:
            importlib.import_module(name)
        except Exception:
            # Keras was first imported from inside a module still being imported (a
            # cycle at this moment): that module, and gallery.layers, register their
            # objects themselves when their import completes. A task that cannot be
            # imported says why when it is used (gallery.registry).
            pass


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """An import hook: runs :func:`register_keras_objects` right after ``keras`` (or
    ``tensorflow``, which may import Keras half-way through its own import) has been
    executed, whoever imports it first. Each package is watched once."""

    watched = {"keras", "tensorflow"}

    def find_spec(self, name, path=None, target=None):
        if name not in self.watched:
            return None
        self.watched = self.watched - {name}
        sys.meta_path.remove(self)  # find the real spec without coming back here
        try:
            spec = importlib.util.find_spec(name)
        finally:
            if self.watched:
                sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            if "keras" in sys.modules:
                register_keras_objects()

        spec.loader.exec_module = exec_then_register
        return spec


if "keras" in sys.modules:
    register_keras_objects()
elif not any(isinstance(f, _RegisterAfterKeras) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterKeras())
