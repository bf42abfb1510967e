"""Same command, same numbers: a TensorFlow runtime that takes one path on any CPU, and
the CPU's name to record beside what it measured.

What can make two runs of the same training differ, and what :func:`deterministic_runtime`
does about it:

* kernels that sum in whatever order threads finish (some reductions, scatter-adds):
  ``tf.config.experimental.enable_op_determinism()`` picks deterministic kernels or refuses;
* how an op's work is split between threads: Eigen partitions a matmul or reduction by
  the thread pool's size, which by default is the number of cores, so a 2-core and a
  16-core machine sum in different orders; one intra-op and one inter-op thread fix the
  split (and cost little for the small matmuls of a character model);
* XLA's fusion choices, which depend on the CPU it compiles for: not handled here; the
  caller compiles without XLA (``jit_compile=False``).

What remains between CPUs is the instruction set: the same kernel may use FMA or
another vector width on another CPU, so float32 sums can round differently; hence
:func:`cpu_model`, recorded with each measurement so that two can be compared.
"""

import platform

from gallery.quiet import settle_runtime_notices


def cpu_model():
    """The CPU's model name: ``model name`` of ``/proc/cpuinfo`` (what ``lscpu`` shows as
    ``Model name``), else :func:`platform.processor`, else the machine type."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:  # not Linux: fall back on what Python knows
        pass
    return platform.processor() or platform.machine() or "unknown"


def deterministic_runtime(seed):
    """Seed Python, NumPy and TensorFlow with ``seed``; deterministic kernels; one
    intra-op and one inter-op thread.

    The thread counts can only be set before TensorFlow's runtime starts (its first op):
    call this first thing in the process (``gallery lesson`` does). Once the runtime has
    started with other thread counts, TensorFlow raises ``RuntimeError``.
    """
    import keras
    import tensorflow as tf

    threading = tf.config.threading
    threading.set_intra_op_parallelism_threads(1)
    threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    settle_runtime_notices()  # the threads are set: the runtime may start
    keras.utils.set_random_seed(seed)
