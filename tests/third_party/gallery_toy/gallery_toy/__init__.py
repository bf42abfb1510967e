"""A third-party task for rnn-gallery (see ``docs/adding_a_task.md``)."""
