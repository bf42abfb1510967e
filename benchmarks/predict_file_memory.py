"""Peak memory of `gallery predict --input`: flat in the number of lines, and flat on a
line that never ends.

Runs ``gallery predict TASK --model RUN`` in child processes and prints each child's
peak RSS (``wait4``'s ``ru_maxrss``) and its wall time:

* review-like files of ``--lines // 10`` and ``--lines`` lines (``--input FILE
  --output OUT``): the ratio of the two peaks is about 1 when memory does not grow
  with the number of lines;
* one line of ``--line-gib`` GiB (default 1) without a line end, as a ``.txt.gz``
  (about 1 MB on disk, written streamed: the GiB is never on disk or in memory) and
  piped to stdin (``--input -``): refused in one line naming ``--max-line-bytes``
  (exit 2), at the peak of the short file.

    python benchmarks/predict_file_memory.py --model runs/sentiment
"""

import argparse
import gzip
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

WORDS = ("the film was a wonderful superb moving story but the acting felt dull and "
         "tedious at times with clumsy dialogue yet charming brilliant moments").split()
MIB = 1 << 20


def write_lines(path, count, seed=0):
    rng = random.Random(seed)
    with open(path, "w") as handle:
        for _ in range(count):
            handle.write(" ".join(rng.choices(WORDS, k=rng.randint(3, 30))) + "\n")


def write_one_line_gz(path, gib):
    """``gib`` GiB of ``a`` and no line end, gzip'ed a MiB at a time."""
    block = b"a" * MIB
    with gzip.open(path, "wb", compresslevel=9) as handle:
        for _ in range(int(gib * 1024)):
            handle.write(block)


def feed(pipe, gib):
    """Write ``gib`` GiB of ``a`` to ``pipe`` until done or the reader exits."""
    block = b"a" * MIB
    try:
        for _ in range(int(gib * 1024)):
            pipe.write(block)
        pipe.close()
    except BrokenPipeError:
        pass


def run(command, stdin_gib=None):
    """``(exit code, peak RSS in MB, seconds, last stderr line)`` of one child."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                             stdin=subprocess.PIPE if stdin_gib else subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    writer = None
    if stdin_gib:
        writer = threading.Thread(target=feed, args=(child.stdin, stdin_gib), daemon=True)
        writer.start()
    stderr = child.stderr.read().decode("utf-8", "replace")  # ends when the child does
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if writer is not None:
        writer.join()
    lines = stderr.strip().splitlines()
    return (child.returncode, usage.ru_maxrss / 1024, time.perf_counter() - start,
            lines[-1] if lines else "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sentiment")
    parser.add_argument("--model", required=True, help="run or export folder")
    parser.add_argument("--lines", type=int, default=20_000,
                        help="lines of the longer review file (the shorter has a tenth)")
    parser.add_argument("--line-gib", type=float, default=1.0,
                        help="GiB of the line that never ends (.txt.gz and stdin)")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)
    predict = [sys.executable, "-m", "gallery.cli", "predict", args.task, "--model",
               args.model, "--batch-size", str(args.batch_size), "--input"]

    peaks = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in (args.lines // 10, args.lines):
            path, out = f"{folder}/in-{count}.txt", f"{folder}/out-{count}.jsonl"
            write_lines(path, count)
            code, peak, seconds, last = run(predict + [path, "--output", out])
            if code != 0:
                raise SystemExit(f"gallery predict failed on {path}: {last}")
            with open(out) as handle:
                assert sum(1 for _ in handle) == count
            peaks[f"{count:,d} lines"] = peak
            print(f"{count:>9,d} lines: peak RSS {peak:7.1f} MB, {seconds:7.1f} s, "
                  f"{count / seconds:8.0f} lines/s ({os.path.getsize(path) / MIB:.1f} MB in)")
            os.remove(out)
        gz = f"{folder}/one-line.txt.gz"
        write_one_line_gz(gz, args.line_gib)
        for name, command, stdin_gib in (
                (f"{args.line_gib:g} GiB line, .txt.gz ({os.path.getsize(gz) / MIB:.1f} MB)",
                 predict + [gz], None),
                (f"{args.line_gib:g} GiB line, stdin", predict + ["-"], args.line_gib)):
            code, peak, seconds, last = run(command, stdin_gib)
            peaks[name] = peak
            print(f"{name}: exit {code}, peak RSS {peak:7.1f} MB, {seconds:7.1f} s: {last}")
    reference = f"{args.lines // 10:,d} lines"
    for name, peak in peaks.items():
        if name != reference:
            print(f"peak RSS ratio {name} / {reference}: {peak / peaks[reference]:.2f}")


if __name__ == "__main__":
    main()
