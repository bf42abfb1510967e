"""Inference speed per task: our SavedModel and our TFLite model against the same
model on Keras's built-in cells, exported and converted the same way, in one process.

For each ``--run TASK=RUN_FOLDER`` (a trained run) the script writes four exports
into a temporary folder: ``gallery export`` as SavedModel and as TFLite of the run,
and the same two of a second copy of the run whose cells are Keras's built-in
``LSTMCell``/``GRUCell``/``SimpleRNNCell`` with the same weights
(``gallery.layers.keras_builtin.use_keras_cells``: Keras's own RNN loop, the model a
Keras user would otherwise ship). Then, in alternating rounds so that a load change
hits every variant alike, it times raw input → readable answer:

- **one request**: p50 and p99 over ``--requests`` single inputs (SavedModel: its
  signature with a batch of one; TFLite: ``TFLiteModel.predict`` with one input,
  TensorFlow's interpreter with its default XNNPACK delegate and its default threads,
  one, or ``--threads`` (a decoder's one-step parts keep one): on 2 cores a second
  thread made every recurrent model slower at a batch of one);
- **batch of 32**: inputs per second, the SavedModel given 32 inputs in one call,
  TFLite (a batch-of-one model) 32 inputs one after another.

Inputs: sentiment, test reviews cut to ``--words`` words; frame_tagging, random
streams of ``--frames`` frames; charlm, a prime continued by ``--chars`` characters
at temperature 0 (``generate``); translation and captioning, test sentences / PNG
images, the SavedModels exported with ``beam_width=1`` so that every variant decodes
greedily (TFLite's decoder does). The script prints the CPU, the load average before
and after, the table, and the ratios of the same run.

    python benchmarks/inference.py --run sentiment=runs/sentiment \\
        --run frame_tagging=runs/frame_tagging --run charlm=runs/charlm
"""

import argparse
import dataclasses
import os
import pathlib
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gallery.errors import GalleryError  # noqa: E402
from gallery.export.formats import FORMATS  # noqa: E402
from gallery.export.tflite_runtime import TFLiteModel  # noqa: E402
from gallery.layers.keras_builtin import use_keras_cells  # noqa: E402
from gallery.runs import load_run  # noqa: E402

VARIANTS = ("SavedModel", "TFLite", "Keras SavedModel", "Keras TFLite")
BATCH = 32


def cpu_name():
    """The CPU's model name (``/proc/cpuinfo``), or what ``platform`` says."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def requests(task, config, meta, run_args, count):
    """``(items, saved_call, lite_call)``: ``count`` single inputs of ``task``, a call
    ``(signatures, items) → answer`` for a SavedModel and ``(TFLiteModel, items) →
    answers`` for a TFLite model."""
    if task == "sentiment":
        from rnn_gallery.tasks.sentiment.data import load_sentiment_data

        texts = [" ".join(t.split()[:run_args.words]) for t in
                 load_sentiment_data(None).test.texts if len(t.split()) >= run_args.words]
        items = [texts[i % len(texts)] for i in range(count)]
        return (items, lambda s, x: s["serving_default"](text=tf.constant(x))["label"].numpy(),
                lambda m, x: m.predict(x))
    if task == "frame_tagging":
        from rnn_gallery.tasks.frame_tagging.model import frame_shape

        rng = np.random.default_rng(0)
        shape = (run_args.frames, *frame_shape(meta))
        items = [rng.normal(size=shape).astype("float32") for _ in range(count)]
        return (items, lambda s, x: s["serving_default"](
            frames=tf.constant(np.stack(x)), lengths=tf.constant([len(f) for f in x]))[
                "labels"].numpy(), lambda m, x: m.predict(x))
    if task == "charlm":
        primes = ["def ", "class ", "import ", "return ", "    "]
        items = [primes[i % len(primes)] for i in range(count)]
        return (items, lambda s, x: s["generate"](
            prime=tf.constant(x), length=tf.constant(run_args.chars),
            temperature=tf.constant(0.0), seed=tf.constant(0))["text"].numpy(),
            lambda m, x: [m.decoder.generate(p, length=run_args.chars) for p in x])
    if task == "translation":
        from rnn_gallery.tasks.translation.data import load_translation_data

        sources = list(load_translation_data(config).test.sources)
        items = [sources[i % len(sources)] for i in range(count)]
        return (items, lambda s, x: s["serving_default"](text=tf.constant(x))[
            "translation"].numpy(), lambda m, x: m.predict(x))
    if task == "captioning":
        from gallery.data.embedded import mnist_digits
        from rnn_gallery.tasks.captioning.data import compose
        from rnn_gallery.tasks.captioning.task import png_bytes

        digits, labels = mnist_digits()
        images = compose(digits[::7], labels[::7], 64, 0, height=config.height,
                         width=config.width).images
        items = [png_bytes(images[i % len(images)]) for i in range(count)]
        return (items, lambda s, x: s["serving_default"](image=tf.constant(x))[
            "caption"].numpy(), lambda m, x: m.predict(x))
    raise SystemExit(f"no inference recipe for {task}")


def size_mb(paths):
    """The MiB (2**20 bytes) the files of ``paths`` (files or folders) take."""
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    return sum(f.stat().st_size for f in files) / 2**20


def exports(task, config, model, meta, folder, name):
    """``(SavedModel signatures, its MiB, TFLite path or the reason it cannot be made,
    its MiB)``."""
    saved_dir, lite_path = folder / name / "1", folder / f"{name}.tflite"
    FORMATS["savedmodel"].export(task, config, model, meta, saved_dir)
    signatures = tf.saved_model.load(str(saved_dir)).signatures
    try:
        files = FORMATS["tflite"].export(task, config, model, meta, lite_path)
    except GalleryError as error:
        return signatures, size_mb([saved_dir]), str(error), None
    lite_files = [p for p in pathlib.Path(folder).glob(f"{name}*.tflite")]
    assert lite_path in lite_files, files
    return signatures, size_mb([saved_dir]), lite_path, size_mb(lite_files)


def measure(task_name, run, args, root):
    """``{variant: (p50 ms, p99 ms, inputs/s, MiB) or reason}`` for one run, its exports
    written under ``root``."""
    task, config, model, meta = load_run(run, task_name)
    if hasattr(config, "beam_width"):  # greedy everywhere, as TFLite's decoders are
        config = dataclasses.replace(config, beam_width=1)
    _, _, reference, _ = load_run(run, task_name)
    replaced = use_keras_cells(reference)
    folder = pathlib.Path(root) / task_name
    made, sizes = {}, {}
    for prefix, keras_model in (("", model), ("Keras ", reference)):
        try:
            saved, saved_mb, lite, lite_mb = exports(task, config, keras_model, meta, folder,
                                                     prefix.strip() or "ours")
        except Exception as error:  # Keras's own loop may not export this model
            if not prefix:
                raise
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            said = next((line for line in lines if "structure" in line), None) or next(
                (line for line in lines if "Error:" in line), type(error).__name__)
            reason = f"export failed: {said.replace(chr(27) + '[1m', '')[:160]}"
            made.update({f"{prefix}SavedModel": ("failed", reason),
                         f"{prefix}TFLite": ("failed", reason)})
            continue
        made[f"{prefix}SavedModel"] = ("saved", saved)
        made[f"{prefix}TFLite"] = (("lite", TFLiteModel(lite, num_threads=args.threads))
                                   if isinstance(lite, pathlib.Path) else ("failed", lite))
        sizes[f"{prefix}SavedModel"], sizes[f"{prefix}TFLite"] = saved_mb, lite_mb
    items, saved_call, lite_call = requests(task_name, config, meta, args, args.requests)
    calls = {name: (lambda x, kind=kind, obj=obj: (saved_call if kind == "saved" else
                                                   lite_call)(obj, x))
             for name, (kind, obj) in made.items() if kind != "failed"}
    for call in calls.values():  # warm up: traces, allocations, caches
        for item in items[:5]:
            call([item])
        call(items[:BATCH])
    latencies = {name: [] for name in calls}
    throughput = {name: [] for name in calls}
    per_round = max(1, len(items) // args.rounds)
    for r in range(args.rounds):
        chunk = items[r * per_round:(r + 1) * per_round]
        for name, call in calls.items():
            for item in chunk:
                start = time.perf_counter()
                call([item])
                latencies[name].append((time.perf_counter() - start) * 1e3)
            batch = [items[(r * BATCH + i) % len(items)] for i in range(BATCH)]
            start = time.perf_counter()
            call(batch)
            throughput[name].append(BATCH / (time.perf_counter() - start))
    results = {name: (float(np.percentile(latencies[name], 50)),
                      float(np.percentile(latencies[name], 99)),
                      float(np.median(throughput[name])), sizes[name]) for name in calls}
    results.update({name: obj for name, (kind, obj) in made.items() if kind == "failed"})
    return results, replaced


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="TASK=RUN",
                        help="a task and its trained run folder or preset:NAME (repeatable)")
    parser.add_argument("--requests", type=int, default=300, help="single inputs timed")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--threads", type=int, default=None,
                        help="TFLite interpreter threads (default: the runtime's, one)")
    parser.add_argument("--words", type=int, default=20, help="words per sentiment review")
    parser.add_argument("--frames", type=int, default=100, help="frames per tagged stream")
    parser.add_argument("--chars", type=int, default=50, help="characters per charlm prime")
    args = parser.parse_args(argv)

    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical cores; TensorFlow {tf.__version__}; "
          f"TFLite threads {args.threads or 'default'}")
    print(f"before: {load_average()}")
    table = []
    with tempfile.TemporaryDirectory(prefix="inference-") as root:
        for item in args.run:
            task, _, run = item.partition("=")
            results, replaced = measure(task, run, args, root)
            table.append((task, results, replaced))
    print(f"after:  {load_average()}")
    print(f"\n| task | variant | p50 ms | p99 ms | inputs/s at batch {BATCH} | MiB |")
    print("|---|---|---:|---:|---:|---:|")
    for task, results, _ in table:
        for name in VARIANTS:
            value = results[name]
            if isinstance(value, str):
                print(f"| {task} | {name} | - | - | - | - |  ({value})")
            else:
                print(f"| {task} | {name} | {value[0]:.2f} | {value[1]:.2f} | {value[2]:.0f} "
                      f"| {value[3]:.2f} |")
    print()
    for task, results, replaced in table:
        ours, lite = results["SavedModel"], results["TFLite"]
        head = f"{task} ({replaced} cell(s) swapped for Keras's): "
        line = [f"TFLite/SavedModel p50 {lite[0] / ours[0]:.2f}x"]
        for name in ("SavedModel", "TFLite"):
            keras_value = results[f"Keras {name}"]
            if not isinstance(keras_value, str):
                line.append(f"{name} ours/Keras p50 {results[name][0] / keras_value[0]:.2f}x, "
                            f"batch {BATCH} throughput {results[name][2] / keras_value[2]:.2f}x")
        print(head + "; ".join(line))


if __name__ == "__main__":
    main()
