"""One module per application; ``tasks/base.py`` is the interface they implement."""

import importlib

from gallery.errors import GalleryError

#: task name → "module:Class"; imported only when used (each task pulls its own data code).
TASKS = {
    "sentiment": "tasks.sentiment.task:SentimentTask",
    "captioning": "tasks.captioning.task:CaptioningTask",
    "charlm": "tasks.charlm.task:CharLMTask",
    "frame_tagging": "tasks.frame_tagging.task:FrameTaggingTask",
    "translation": "tasks.translation.task:TranslationTask",
}


def get_task(name):
    """The task object for ``name``, or a one-line error listing the known tasks."""
    if name not in TASKS:
        raise GalleryError(f"unknown task {name!r}; available: {', '.join(sorted(TASKS))}")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)()
