"""TensorFlow's start-up notices kept off the terminal, so an error is one line.

Measured with TensorFlow 2.21 (CPU wheel, no GPU driver): ``import tensorflow``
writes 8 lines to stderr (absl's "All log messages before absl::InitializeLog() is
called..." twice, the oneDNN notice twice, "Could not find cuda drivers" twice, the
CPU-feature notice and its continuation), and the first use of a device one more
("failed call to cuInit"). ``TF_CPP_MIN_LOG_LEVEL`` alone removes only 2 of them:
the others are written before TensorFlow reads it. So :func:`import_tensorflow`
sets ``TF_CPP_MIN_LOG_LEVEL=2`` (warnings and notices off, errors on; a value the
user set is kept), then imports TensorFlow and lists its devices with file
descriptor 2 pointed at a temporary file, restores it, and writes back every
captured line that is not a known start-up notice.

One more notice comes later, on a CPU without AVX-512: the first op that oneDNN cannot run
for its dtype (e.g. transposing a bool mask) logs "oneDNN supports DT_BOOL only on
platforms with AVX-512", once per process, as an error. :func:`settle_runtime_notices`
transposes a bool tensor while stderr is captured, so that the notice is written then
(and dropped) instead of in the middle of a command's output. That op starts TensorFlow's
runtime, after which its threads and devices can no longer be set, so it is a call of its
own, made once they are (``gallery.cli.main`` before a command that sets none,
``gallery.distribute.make_strategy`` and ``gallery.reproducibility.deterministic_runtime``
after setting them).
"""

import contextlib
import functools
import os
import re
import sys
import tempfile

#: Lines TensorFlow writes while starting that say nothing about the user's command.
STARTUP_NOTICE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)"
    r"|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\]"                # absl's format: info, warning
    r"|E\d{4} [\d:.]+ +\d+ cuda_\w+\.cc:\d+\]"          # an error that only says: no GPU
    r"|E\d{4} [\d:.]+ +\d+ util\.cc:\d+\] oneDNN supports \w+ only on platforms with"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] "                      # older TF format
    r"|To enable the following instructions: .* rebuild TensorFlow")
#: What the TFLite runtime writes when it makes an interpreter (its CPU delegate).
TFLITE_NOTICE = re.compile(r"INFO: Created TensorFlow Lite \w+ delegate for CPU")


def import_tensorflow():
    """Import TensorFlow (and initialise its devices) without its start-up notices."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    with native_stderr_without(STARTUP_NOTICE):
        _import_and_start()


@contextlib.contextmanager
def native_stderr_without(notice):
    """Run the ``with`` block with file descriptor 2 (where C++ libraries write) pointed
    at a temporary file; afterwards write back every captured line that ``notice``
    (a compiled pattern) does not match."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not notice.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


def _import_and_start():
    import tensorflow as tf

    tf.config.list_physical_devices()  # the device start-up notices come now, not later


@functools.cache
def settle_runtime_notices():
    """Start TensorFlow's runtime with stderr captured, so that oneDNN's once-per-process
    notice of a CPU without AVX-512 ("supports DT_BOOL only on platforms with AVX-512", at
    the first bool transpose) is written now and dropped, not in a command's output. Call
    it after the runtime's threads and devices are set: they cannot change afterwards.
    Once per process, as the notice: a later call (the hmlstm lesson's next seed) does
    nothing."""
    import_tensorflow()
    import tensorflow as tf

    with native_stderr_without(STARTUP_NOTICE):
        tf.transpose(tf.zeros((1, 1), tf.bool))
