"""Peak memory of `gallery predict --input` on a long file: constant, not per line.

Writes review-like lines (``--lines``, default 1,000,000, and a tenth of that as the
reference) to a temporary ``.txt`` file, runs ``gallery predict TASK --model RUN
--input FILE --output OUT`` on each in a child process, and prints the child's peak
RSS (``wait4``'s ``ru_maxrss``), its lines per second, and the ratio of the two
peaks: about 1 when memory does not grow with the number of lines.

    python benchmarks/predict_file_memory.py --model runs/sentiment
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

WORDS = ("the film was a wonderful superb moving story but the acting felt dull and "
         "tedious at times with clumsy dialogue yet charming brilliant moments").split()


def write_lines(path, count, seed=0):
    rng = random.Random(seed)
    with open(path, "w") as handle:
        for _ in range(count):
            handle.write(" ".join(rng.choices(WORDS, k=rng.randint(3, 30))) + "\n")


def run(task, model, path, out, batch_size):
    """``(peak RSS in MB, seconds, lines written)`` of one ``gallery predict``."""
    command = [sys.executable, "-m", "gallery.cli", "predict", task, "--model", model,
               "--input", path, "--output", out, "--batch-size", str(batch_size)]
    start = time.perf_counter()
    child = subprocess.Popen(command, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                             stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"gallery predict failed on {path}")
    with open(out) as handle:
        lines = sum(1 for _ in handle)
    return usage.ru_maxrss / 1024, seconds, lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sentiment")
    parser.add_argument("--model", required=True, help="run or export folder")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)

    peaks = []
    with tempfile.TemporaryDirectory() as folder:
        for count in (args.lines // 10, args.lines):
            path, out = f"{folder}/in-{count}.txt", f"{folder}/out-{count}.jsonl"
            write_lines(path, count)
            peak, seconds, written = run(args.task, args.model, path, out, args.batch_size)
            assert written == count, (written, count)
            peaks.append(peak)
            print(f"{count:>9,d} lines: peak RSS {peak:7.1f} MB, {seconds:7.1f} s, "
                  f"{count / seconds:8.0f} lines/s ({os.path.getsize(path) / 2**20:.1f} MB in)")
            os.remove(out)
    print(f"peak RSS ratio {args.lines:,d} / {args.lines // 10:,d} lines: "
          f"{peaks[1] / peaks[0]:.2f}")


if __name__ == "__main__":
    main()
