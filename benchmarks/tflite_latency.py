"""Size and single-input latency of the TFLite export against the SavedModel, per task.

For each ``--run TASK=RUN_FOLDER``: exports the SavedModel and the TFLite model into
a temporary folder, then times ``--requests`` single inputs end to end (raw input →
readable answer) through each, after a warm-up, and prints size, p50 and p99:

- sentiment: one review (SavedModel ``serving_default`` vs ``TFLiteModel``, which
  vectorises in Python);
- frame_tagging: one stream of ``max_length`` frames;
- charlm: one prime continued by ``--chars`` characters, greedy (the SavedModel's
  ``generate`` at temperature 0, its loop in the graph, vs Python around the
  ``step`` model);
- translation, captioning: one sentence / one PNG (the SavedModel's beam search of
  the run's ``beam_width`` vs greedy decoding in Python around the ``step`` model:
  not the same search, so the ratio is indicative only).

    python benchmarks/tflite_latency.py --run sentiment=runs/sentiment \\
        --run frame_tagging=runs/frame_tagging --run charlm=runs/charlm
"""

import argparse
import os
import pathlib
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gallery.cli import main as gallery  # noqa: E402
from gallery.export.tflite_runtime import TFLiteModel  # noqa: E402


def size(path):
    path = pathlib.Path(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() \
        else path.stat().st_size


def timed(call, inputs, warmup=5):
    for item in inputs[:warmup]:
        call(item)
    times = []
    for item in inputs:
        start = time.perf_counter()
        call(item)
        times.append((time.perf_counter() - start) * 1e3)
    return np.percentile(times, 50), np.percentile(times, 99)


def calls(task, saved, lite, args):
    """``(inputs, SavedModel call, TFLite call)`` for one input at a time."""
    serve = saved.signatures["serving_default"]
    if task == "sentiment":
        from rnn_gallery.tasks.sentiment.data import load_sentiment_data

        texts = load_sentiment_data(None).test.texts
        inputs = [texts[i % len(texts)] for i in range(args.requests)]
        return (inputs, lambda t: serve(text=tf.constant([t]))["label"].numpy(),
                lambda t: lite.predict([t]))
    if task == "frame_tagging":
        rng = np.random.default_rng(0)
        shape = (lite.info["frames"], *lite.info["frame_shape"])
        inputs = [rng.normal(size=shape).astype("float32") for _ in range(args.requests)]
        return (inputs, lambda f: serve(frames=tf.constant(f[None]),
                                        lengths=tf.constant([len(f)]))["labels"].numpy(),
                lambda f: lite.predict([f]))
    if task == "charlm":
        generate = saved.signatures["generate"]
        primes = ["def ", "class ", "import ", "return ", "    "]
        inputs = [primes[i % len(primes)] for i in range(args.requests)]
        return (inputs, lambda p: generate(
            prime=tf.constant([p]), length=tf.constant(args.chars),
            temperature=tf.constant(0.0), seed=tf.constant(0))["text"].numpy(),
            lambda p: lite.decoder.generate(p, length=args.chars))
    if task == "translation":
        sources = ["12 March 1999", "the 3rd of May, 2001", "forty-two", "2 June 1987"]
        inputs = [sources[i % len(sources)] for i in range(args.requests)]
        return (inputs, lambda t: serve(text=tf.constant([t]))["translation"].numpy(),
                lambda t: lite.predict([t]))
    if task == "captioning":
        from gallery.data.embedded import mnist_digits
        from rnn_gallery.tasks.captioning.data import compose
        from rnn_gallery.tasks.captioning.task import png_bytes

        digits, labels = mnist_digits()
        images = compose(digits[::7], labels[::7], 20, 0, height=lite.info["height"],
                         width=lite.info["width"]).images
        inputs = [png_bytes(images[i % len(images)]) for i in range(args.requests)]
        return (inputs, lambda b: serve(image=tf.constant([b]))["caption"].numpy(),
                lambda b: lite.predict([b]))
    raise SystemExit(f"no latency recipe for {task}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, metavar="TASK=RUN")
    parser.add_argument("--requests", type=int, default=200, help="single inputs timed")
    parser.add_argument("--chars", type=int, default=50, help="characters per charlm prime")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for item in args.run:
            task, _, run = item.partition("=")
            saved_dir, lite_path = f"{folder}/{task}/1", f"{folder}/{task}.tflite"
            assert gallery(["export", task, "--model", run, "--out", saved_dir]) == 0
            assert gallery(["export", task, "--model", run, "--format", "tflite",
                            "--out", lite_path]) == 0
            saved, lite = tf.saved_model.load(saved_dir), TFLiteModel(lite_path)
            inputs, saved_call, lite_call = calls(task, saved, lite, args)
            lite_size = sum(size(pathlib.Path(folder) / name)
                            for name in (e["file"] for e in lite.info["models"].values()))
            rows.append((task, "SavedModel", size(saved_dir), *timed(saved_call, inputs)))
            rows.append((task, "TFLite", lite_size, *timed(lite_call, inputs)))
    print(f"{'task':14s} {'format':11s} {'size':>10s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for task, kind, nbytes, p50, p99 in rows:
        print(f"{task:14s} {kind:11s} {nbytes / 2**20:8.2f}MB {p50:8.2f} {p99:8.2f}")
    for i in range(0, len(rows), 2):
        print(f"{rows[i][0]}: TFLite/SavedModel p50 {rows[i + 1][3] / rows[i][3]:.2f}x, "
              f"size {rows[i + 1][2] / rows[i][2]:.2f}x")


if __name__ == "__main__":
    main()
