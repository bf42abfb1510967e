"""The gallery's tasks, one package each, installed as ``rnn_gallery.tasks``.

Each package has the same files (``config.py``, ``data.py``, ``model.py``,
``task.py``); its ``task.py`` subclasses :class:`gallery.task.Task` and is registered
in the ``rnn_gallery.tasks`` entry-point group (``pyproject.toml``), which is how
``gallery`` finds it (:mod:`gallery.registry`). See ``docs/adding_a_task.md``.
"""
