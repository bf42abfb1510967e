"""The task and lesson registry: the library owns it, installed packages fill it.

A task is found through the Python entry-point group ``rnn_gallery.tasks``: each
entry maps a task name to ``module:Class``, a subclass of :class:`gallery.task.Task`.
Lessons are found the same way in ``rnn_gallery.lessons`` (name → a module with a
``SUMMARY`` line and ``run(out_dir, **options)``). The gallery's own tasks and lessons
register in ``pyproject.toml`` like any other package would::

    [project.entry-points."rnn_gallery.tasks"]
    sentiment = "rnn_gallery.tasks.sentiment.task:SentimentTask"

so ``gallery/`` never imports ``tasks`` or ``lessons`` by name, and a task installed
by another package shows up in ``gallery list`` without any change here. Modules are
imported only when a task or lesson is used (each task pulls in its own data code).
"""

import importlib
import importlib.metadata

from gallery.errors import GalleryError

TASK_GROUP = "rnn_gallery.tasks"
LESSON_GROUP = "rnn_gallery.lessons"


def _entries(group):
    """``{name: EntryPoint}`` of ``group``; the first on ``sys.path`` wins a name.

    Every distribution's metadata is read, not only the first of each name: an
    editable install leaves ``rnn_gallery.egg-info`` in the source folder, and when
    that folder is the working folder (tests, ``python -m``) its copy, possibly older
    than the installed one, comes first on ``sys.path``.
    """
    found = {}
    for dist in importlib.metadata.distributions():
        for entry in dist.entry_points.select(group=group):
            found.setdefault(entry.name, entry)
    return found


def is_object_path(path):
    """Whether ``path`` is a ``"module:Qualified.Name"`` string."""
    module, _, qualname = path.partition(":") if isinstance(path, str) else ("", "", "")
    return bool(module and qualname)


def import_object(path):
    """The object a ``"module:Qualified.Name"`` path names (a run's ``task_class``, a
    TFLite side file's ``decoder``; check the form with :func:`is_object_path` first).
    Whatever importing the module raises is raised."""
    module, _, qualname = path.partition(":")
    found = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def import_reason(error):
    """One line for an exception raised while importing a module: its type and the
    first line of its message (a SyntaxError's names the file and line)."""
    lines = str(error).splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _load(entry, what):
    """The object ``entry`` names. Whatever its module raises while being imported (a
    missing dependency, a SyntaxError, an error at import time) is re-raised as a
    one-line :class:`GalleryError` naming the task or lesson; the original exception is
    kept as its ``__cause__``."""
    try:
        return entry.load()
    except Exception as error:
        raise GalleryError(f"{what} {entry.name!r} is registered as {entry.value!r}, which "
                           f"cannot be imported: {import_reason(error)}") from error


def task_names():
    """Names of the registered tasks, sorted."""
    return sorted(_entries(TASK_GROUP))


def task_class_path(task):
    """``"module:Class"`` of a task object: what a run's ``meta.json`` records."""
    cls = type(task)
    return f"{cls.__module__}:{cls.__qualname__}"


def _task_class(cls, where):
    from gallery.task import Task

    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise GalleryError(f"{where} is not a task (a subclass of gallery.task.Task)")
    return cls


def get_task(name):
    """The task object registered as ``name``, or a one-line error listing the tasks."""
    entries = _entries(TASK_GROUP)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none are installed"
        raise GalleryError(f"unknown task {name!r}; available: {known}")
    return _task_class(_load(entries[name], "task"), f"task {name!r}")()


def task_from_path(path):
    """The task object of a ``"module:Class"`` path (a run folder's ``task_class``):
    a run can be opened even when its task is not registered, as long as the module
    is importable. Only a :class:`~gallery.task.Task` subclass is instantiated."""
    if not is_object_path(path):
        raise GalleryError(f"task_class {path!r} is not of the form module:Class")
    try:
        obj = import_object(path)
    except Exception as error:  # whatever the module raised: said in one line, kept as cause
        raise GalleryError(f"cannot import the run's task {path!r}: "
                           f"{import_reason(error)}") from error
    return _task_class(obj, repr(path))()


#: The library's modules that define custom Keras objects (each registers its classes
#: with ``keras.saving.register_keras_serializable`` where it defines them).
LIBRARY_OBJECT_MODULES = ("gallery.layers", "gallery.seq2seq")


def register_all():
    """Import every module that defines a custom Keras object: the library's
    (:data:`LIBRARY_OBJECT_MODULES`) and every registered task's, so that a bare
    ``keras.models.load_model("RUN/model.keras")`` of any task's model works. Returns
    ``{task name: task class}``.

    Nothing calls this implicitly: ``import gallery`` imports neither Keras nor any
    task, and :func:`gallery.runs.load_run` imports only the run's own task. A task
    whose module cannot be imported raises a one-line :class:`GalleryError` naming it.
    """
    for name in LIBRARY_OBJECT_MODULES:
        importlib.import_module(name)
    return {name: _load(entry, "task") for name, entry in _entries(TASK_GROUP).items()}


def lesson_names():
    """Names of the registered lessons, sorted."""
    return sorted(_entries(LESSON_GROUP))


def get_lesson(name):
    """The lesson module registered as ``name`` (``SUMMARY``, ``run(out_dir, ...)``)."""
    entries = _entries(LESSON_GROUP)
    if name not in entries:
        raise GalleryError(f"unknown lesson {name!r}; available: {', '.join(sorted(entries))}")
    lesson = _load(entries[name], "lesson")
    if not callable(getattr(lesson, "run", None)):
        raise GalleryError(f"lesson {name!r} ({entries[name].value}) has no run() function")
    return lesson
