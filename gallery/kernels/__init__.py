"""Compiled CPU kernels: the fused LSTM, GRU and Elman time loops (``recurrent_loop.cc``).

The kernels are built on first use with the C++ compiler and TensorFlow's own
headers (``tf.sysconfig``) into a cache folder, then loaded with
``tf.load_op_library``. The cache key holds the source, TensorFlow's version, the
compiler and its flags, and the CPU's instruction-set flags: a home folder shared by
machines with different CPUs never loads a ``-march=native`` build made for another
CPU (which could crash with SIGILL). Where the build fails (no compiler, another
platform), :func:`recurrent_ops` returns ``None`` and the layers use the TensorFlow
loops instead, with a one-line warning; with a GPU visible it returns ``None`` too
(these are CPU kernels). ``make`` builds them at install (``python -m
gallery.kernels``), so the first training run does not wait. Set
``GALLERY_KERNELS=0`` to switch the compiled path off, ``GALLERY_KERNEL_CACHE`` to
choose the cache folder (default ``~/.cache/rnn-gallery``).
"""

import functools
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("recurrent_loop.cc")
_loaded = {}


def enabled():
    return os.environ.get("GALLERY_KERNELS", "1").lower() not in ("0", "false", "no", "off")


def _compiler():
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")


@functools.lru_cache(maxsize=None)
def native_target(compiler):
    """What ``-march=native`` means to ``compiler`` here (``-Q --help=target``), or ""."""
    try:
        done = subprocess.run([compiler, "-march=native", "-Q", "--help=target"],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


def _flags():
    import tensorflow as tf

    compile_flags = ["-O3", "-march=native", "-fPIC", "-shared"]
    # The Eigen bundled with TensorFlow does not compile its AVX512-FP16 half-precision
    # packets with GCC 12 ("expected initializer before '<'" in PacketMathFP16.h); the
    # kernels are float32, so those instructions are switched off where -march=native
    # would switch them on.
    compiler = _compiler()
    if compiler and re.search(r"-mavx512fp16\s+\[enabled\]", native_target(compiler)):
        compile_flags.append("-mno-avx512fp16")
    return [*compile_flags, *tf.sysconfig.get_compile_flags()], tf.sysconfig.get_link_flags()


def cpu_features(compiler=None):
    """What identifies this CPU's instruction set: the ``flags`` line of
    ``/proc/cpuinfo`` (Linux), else what ``-march=native`` resolves to
    (``g++ -march=native -Q --help=target``), else the processor's name."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.split(":")[0].strip() in ("flags", "Features"):
                    return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    compiler = compiler or _compiler()
    return (compiler and native_target(compiler)) or platform.processor() or platform.machine()


def _library_path(compile_flags, link_flags):
    import tensorflow as tf

    key = hashlib.sha256()
    compiler = _compiler() or ""
    for part in (SOURCE.read_bytes(), tf.__version__.encode(), platform.machine().encode(),
                 compiler.encode(), " ".join(compile_flags + link_flags).encode(),
                 cpu_features(compiler).encode()):
        key.update(part + b"\0")
    cache = Path(os.environ.get("GALLERY_KERNEL_CACHE")
                 or Path.home() / ".cache" / "rnn-gallery")
    return cache / f"recurrent_loop-{key.hexdigest()[:16]}.so"


def build(compile_flags=None, link_flags=None):
    """Compile ``recurrent_loop.cc`` (if not cached) and return the library's path."""
    default_compile, default_link = _flags()
    compile_flags = compile_flags or default_compile
    link_flags = link_flags or default_link
    target = _library_path(compile_flags, link_flags)
    if target.exists():
        return target
    compiler = _compiler()
    if compiler is None:
        raise RuntimeError("no C++ compiler (g++) found")
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"[gallery] compiling the recurrent kernels into {target} (once, ~1 min)",
          file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        partial = Path(scratch) / target.name
        done = subprocess.run([compiler, *compile_flags, str(SOURCE), "-o", str(partial),
                               *link_flags], capture_output=True, text=True)
        if done.returncode != 0:  # the errors, not pages of deprecation warnings
            errors = [line for line in done.stderr.splitlines() if "error" in line]
            raise RuntimeError(f"{compiler} failed: "
                               + ("\n".join(errors[:5]) or done.stderr.strip()[-2000:]))
        os.replace(partial, target)  # atomic: a concurrent build never sees half a file
    return target


def recurrent_ops():
    """The loaded op library (``gallery_recurrent_loop_forward``/``_backward``), or
    ``None`` when the kernels are switched off or cannot be built here."""
    if not enabled():
        return None
    if "ops" not in _loaded:
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            _loaded["ops"] = None
            return None
        try:
            _loaded["ops"] = tf.load_op_library(str(build()))
        except Exception as error:  # no compiler, wrong platform: the TF loop still works
            print(f"[gallery] compiled recurrent kernels unavailable ({error}); "
                  "using the TensorFlow loop", file=sys.stderr)
            _loaded["ops"] = None
    return _loaded["ops"]

