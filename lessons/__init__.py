"""Runnable lessons on how recurrent networks behave (``gallery lesson NAME``).

Each lesson trains on real or precisely specified data, prints its numbers and
writes its plots (and ``results.json``) to a run folder. Each module has a one-line
``SUMMARY`` and ``run(out_dir, ...)``, and is registered in the ``rnn_gallery.lessons``
entry-point group (``pyproject.toml``); ``gallery.lessons.run_lesson`` runs it.
"""
