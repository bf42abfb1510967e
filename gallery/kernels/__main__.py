"""``python -m gallery.kernels``: build the compiled recurrent kernels now (``make``
runs this at install, so the first training run does not wait for the compiler)."""

import sys

from gallery.kernels import build

try:
    print(f"recurrent kernels: {build()}")
except Exception as error:  # the layers fall back to the TensorFlow loops
    print(f"recurrent kernels not built ({error}); the TensorFlow loops will run",
          file=sys.stderr)
