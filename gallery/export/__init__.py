"""Export formats and their runtimes, in one package.

- :mod:`gallery.export.formats`: the registry of formats (``gallery export --format``):
  each :class:`~gallery.export.formats.Format` names its CLI choice, the Task hooks it
  needs, its writer and its runtime.
- :mod:`gallery.export.saved_model`: SavedModel with a ``serving_default`` over raw
  inputs (Task hook ``serving_function``).
- :mod:`gallery.export.tflite`: ``.tflite`` files with built-in ops only and their side
  file (Task hooks ``tflite_models`` and ``tflite_decoder``).
- :mod:`gallery.export.tflite_runtime`: running a TFLite export with NumPy: the files
  checked, the interpreter, the task's decoder found through the side file.
- :mod:`gallery.export.tflite_decoding`: NumPy helpers the tasks' decoders share.

Importing this package imports nothing else (the runtime stays free of TensorFlow).
"""
