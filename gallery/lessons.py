"""Running a registered lesson (``gallery lesson NAME``): its folder and its results.

A lesson is a module registered in the ``rnn_gallery.lessons`` entry-point group
(:mod:`gallery.registry`) with a one-line ``SUMMARY`` and ``run(out_dir, **options)``
returning a JSON-able dict; it prints its numbers and writes its plots to ``out_dir``.
A lesson may also define ``check_options(**options)``, which raises
:class:`~gallery.errors.GalleryError` for options it would refuse, so that a bad
``--set`` ends before the run folder is made.
"""

import inspect
import json
import time

from gallery.errors import GalleryError
from gallery.registry import get_lesson, lesson_names


def lesson_summaries():
    """``{name: summary}`` of every registered lesson."""
    return {name: getattr(get_lesson(name), "SUMMARY", "") for name in lesson_names()}


def run_lesson(name, out_dir=None, **options):
    """Run lesson ``name``; write its plots and ``results.json`` to ``out_dir``.

    ``options`` given as ``None`` are left out; one the lesson does not take is an error
    (e.g. ``--model`` for a lesson that trains its own)."""
    from gallery.runs import prepare_run_folder

    lesson = get_lesson(name)
    options = {key: value for key, value in options.items() if value is not None}
    accepted = inspect.signature(lesson.run).parameters
    for key in options:
        if key not in accepted:
            flag = "set" if key == "overrides" else key.replace("_", "-")
            raise GalleryError(f"lesson {name!r} takes no --{flag}")
    if hasattr(lesson, "check_options"):  # a bad setting is refused before any folder exists
        lesson.check_options(**options)
    out_dir = prepare_run_folder(out_dir or f"runs/lesson-{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    print(f"[lesson {name}] {getattr(lesson, 'SUMMARY', '')}", flush=True)
    results = lesson.run(out_dir, **options)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"[lesson {name}] plots and results.json in {out_dir}", flush=True)
    return out_dir, results
