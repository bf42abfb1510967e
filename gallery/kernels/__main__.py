"""``python -m gallery.kernels``: build the compiled recurrent kernels now (``make``
runs this at install, so the first training run does not wait for the compiler)."""

import sys

from gallery.quiet import import_tensorflow

import_tensorflow()  # before the kernels' own import of it: no start-up notices in make

from gallery.kernels import build  # noqa: E402

try:
    print(f"recurrent kernels: {build()}")
except Exception as error:  # the layers fall back to the TensorFlow loops
    print(f"recurrent kernels not built ({error}); the TensorFlow loops will run",
          file=sys.stderr)
