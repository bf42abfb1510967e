"""gallery.quiet: which lines count as TensorFlow's notices.

In a real process, on a CPU without AVX-512 (where oneDNN's notice comes), the whole of
stderr of ``gallery predict`` is checked by ``tests/gallery/test_presets.py``
(``test_predict_without_model_uses_the_preset_and_says_so_once``).
"""

from gallery.quiet import STARTUP_NOTICE

#: The line TensorFlow 2.21's oneDNN build logs once per process on a CPU without AVX-512.
ONEDNN_DT_BOOL = ("E0000 00:00:1796314734.832517   20021 util.cc:131] oneDNN supports DT_BOOL "
                  "only on platforms with AVX-512. Falling back to the default Eigen-based "
                  "implementation if present.")


def test_the_onednn_dtype_notice_is_a_known_notice_and_real_errors_are_not():
    assert STARTUP_NOTICE.match(ONEDNN_DT_BOOL)
    assert not STARTUP_NOTICE.match("E0000 00:00:1796314734.832517   20021 util.cc:131] "
                                    "something else went wrong")
