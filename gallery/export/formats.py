"""The export formats, by name: what ``gallery export --format NAME`` offers.

A :class:`Format` says everything the command line needs: its choice and help, the
:class:`~gallery.task.Task` hooks a task implements to be exported so, where the
export goes by default, the function that writes it, and the runtime that runs it.
``gallery export`` takes its ``--format`` choices from :data:`FORMATS` and calls the
chosen format's :meth:`Format.export`; adding a format is one :func:`register_format`
call, with no change to ``gallery/cli.py``.

This module imports neither TensorFlow nor a format's code until an export is
written or run, so building the command line stays fast and quiet.
"""

import dataclasses
from collections.abc import Callable

from gallery.errors import GalleryError


@dataclasses.dataclass(frozen=True)
class Format:
    """One export format."""

    name: str  # the choice of `gallery export --format`
    help: str  # one phrase for `gallery export --help`
    hooks: tuple  # the Task methods or attributes a task overrides to be exported so
    default_out: str  # where it goes without --out; {task} is the task's name
    # (task, config, model, meta, out, overwrite) → the line `gallery export` prints
    write: Callable
    runtime: Callable  # path of an export → an object that runs it

    def missing_hooks(self, task):
        """The :attr:`hooks` ``task`` leaves as :class:`~gallery.task.Task` has them."""
        from gallery.task import Task

        return [hook for hook in self.hooks
                if getattr(type(task), hook, None) is getattr(Task, hook, None)]

    def export(self, task, config, model, meta, out=None, overwrite=False):
        """Write the export of a trained run (``out``: default :attr:`default_out`);
        return the line to print. A task without the hooks: one-line ``GalleryError``."""
        missing = self.missing_hooks(task)
        if missing:
            raise GalleryError(f"the {task.name} task has no {self.name} export (it does not "
                               f"define Task.{', Task.'.join(missing)})")
        out = out or self.default_out.format(task=task.name)
        return self.write(task, config, model, meta, out, overwrite)


#: name → :class:`Format`, in the order ``gallery export --help`` lists them.
FORMATS = {}


def register_format(export_format):
    """Add ``export_format`` to :data:`FORMATS` (a name is registered once)."""
    if export_format.name in FORMATS:
        raise ValueError(f"export format {export_format.name!r} is already registered")
    FORMATS[export_format.name] = export_format
    return export_format


def _write_saved_model(task, config, model, meta, out, overwrite):
    from gallery.export.saved_model import export_saved_model, signature_names

    path = export_saved_model(task, config, model, meta, out, overwrite=overwrite)
    names = ", ".join(signature_names(path))
    return f"[{task.name}] exported SavedModel to {path} (signatures {names})"


def _load_saved_model(path):
    import tensorflow as tf

    return tf.saved_model.load(str(path))


def _write_tflite(task, config, model, meta, out, overwrite):
    from gallery.export.tflite import export_tflite

    *models, side = export_tflite(task, config, model, meta, out, overwrite=overwrite)
    return (f"[{task.name}] exported TFLite ({', '.join(map(str, models))}; built-in ops "
            f"only) and its side file ({side})")


def _load_tflite(path):
    from gallery.export.tflite_runtime import TFLiteModel

    return TFLiteModel(path)


register_format(Format(
    "savedmodel", "a SavedModel whose serving_default takes raw inputs (gallery serve, "
    "TF Serving)", ("serving_function",), "saved_models/{task}/1", _write_saved_model,
    _load_saved_model))
register_format(Format(
    "tflite", "a .tflite file with built-in ops only, run with NumPy by "
    "gallery.export.tflite_runtime.TFLiteModel", ("tflite_models", "tflite_decoder"),
    "saved_models/{task}.tflite", _write_tflite, _load_tflite))
