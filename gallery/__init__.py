"""rnn-gallery: recurrent-network applications on Keras 3 / TensorFlow.

``import gallery`` is light: it imports neither Keras, TensorFlow nor any task (the
CLI's ``gallery list`` stays instant). Every custom Keras object registers itself
where it is defined (``keras.saving.register_keras_serializable`` in its module), so
a model loads once the modules that define its classes are imported:

* ``gallery.runs.load_run(RUN)`` imports the run's own task (recorded in its
  ``meta.json``), and with it every class its model uses;
* before a bare ``keras.models.load_model("RUN/model.keras")``, call
  :func:`gallery.register_all` once: it imports the library's layers and every task
  registered in the ``rnn_gallery.tasks`` entry-point group, and a task that cannot be
  imported raises a one-line error naming it.
"""

import os

from gallery.registry import register_all

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
__all__ = ["register_all"]
