"""gallery.quiet: TensorFlow's notices stay off stderr, in a real process."""

import os
import subprocess
import sys

from gallery.quiet import STARTUP_NOTICE

#: The line TensorFlow 2.21's oneDNN build logs once per process on a CPU without AVX-512.
ONEDNN_DT_BOOL = ("E0000 00:00:1796314734.832517   20021 util.cc:131] oneDNN supports DT_BOOL "
                  "only on platforms with AVX-512. Falling back to the default Eigen-based "
                  "implementation if present.")


def test_the_onednn_dtype_notice_is_a_known_notice_and_real_errors_are_not():
    assert STARTUP_NOTICE.match(ONEDNN_DT_BOOL)
    assert not STARTUP_NOTICE.match("E0000 00:00:1796314734.832517   20021 util.cc:131] "
                                    "something else went wrong")


def test_bool_ops_after_import_tensorflow_write_nothing_to_stderr():
    """On a CPU without AVX-512 the first bool transpose logs oneDNN's notice; after
    ``import_tensorflow`` it has been written (and dropped) already."""
    code = ("from gallery.quiet import import_tensorflow\n"
            "import_tensorflow()\n"
            "import tensorflow as tf\n"
            "mask = tf.constant([[True, False]])\n"
            "tf.transpose(mask)\n"
            "tf.function(lambda m: tf.transpose(tf.logical_not(m)))(mask)\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items()
                                            if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"
    assert done.stderr == ""
