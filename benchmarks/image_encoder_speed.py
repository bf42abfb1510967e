"""Feature-extraction speed of the captioning image encoders, and their TFLite form.

For each ``--encoder`` (``gallery.vision.encoders.image_encoder`` specs; Keras models
are built with ``weights=None``: the speed does not depend on the weights, and
nothing is downloaded), times one batch of ``--batch`` 224×224 images through each
Keras model (a ``tf.function``, after one warm-up batch) in ``--rounds`` alternating
rounds, so a change of load hits every encoder alike, and prints each one's median
images/s and its ratio to the first encoder. With ``--tflite``, converts the first
encoder with built-in ops only (``gallery.vision.tflite_encoder.TFLiteEncoder``),
times its batches in the same rounds, and prints its size, its ops, its largest
difference from Keras, and the p50/p99 latency of one image through the TFLite
interpreter against the Keras model on one image (alternating).

    python benchmarks/image_encoder_speed.py --tflite
"""

import argparse
import os
import platform
import subprocess
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gallery.export.tflite_runtime import interpreter  # noqa: E402
from gallery.vision.encoders import LITE0, image_encoder  # noqa: E402
from gallery.vision.tflite_encoder import TFLiteEncoder  # noqa: E402


def cpu_name():
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def batch_pixels(batch, seed=0):
    pixels = np.random.default_rng(seed).uniform(0, 255, (batch, 224, 224, 3))
    return pixels.astype("float32")


def batch_runner(model, pixels):
    """A call running ``pixels`` through the Keras ``model`` (a ``tf.function``), warmed up."""
    pixels = tf.constant(pixels)
    run = tf.function(lambda x: model(x, training=False))
    run(pixels).numpy()  # trace and warm up
    return lambda: run(pixels).numpy()


def median_images_per_second(runners, batch, rounds):
    """``[median images/s]`` per runner, timed in alternating rounds."""
    seconds = [[] for _ in runners]
    for _ in range(rounds):
        for times, run in zip(seconds, runners):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return [batch / float(np.median(times)) for times in seconds]


def paired_percentiles(calls, items, warmup=3):
    """``[(p50, p99) ms]`` per call, the calls alternating on each item."""
    for item in items[:warmup]:
        for call in calls:
            call(item)
    times = [[] for _ in calls]
    for item in items:
        for column, call in zip(times, calls):
            start = time.perf_counter()
            call(item)
            column.append((time.perf_counter() - start) * 1e3)
    return [(np.percentile(t, 50), np.percentile(t, 99)) for t in times]


def tflite_report(model, encoder, pixels, requests, threads):
    """Size, ops and accuracy of the TFLite ``encoder`` of ``model``, and one image's
    latency through TFLite and Keras."""
    keras_call = tf.function(lambda x: model(x, training=False))
    diff = float(np.abs(encoder(pixels) - keras_call(tf.constant(pixels)).numpy()).max())
    lite = interpreter(encoder.tflite_bytes, num_threads=threads)
    (inp,), (out,) = lite.get_input_details(), lite.get_output_details()

    def lite_call(x):
        lite.set_tensor(inp["index"], x)
        lite.invoke()
        return lite.get_tensor(out["index"])

    rng = np.random.default_rng(1)
    items = [rng.uniform(0, 255, (1, 224, 224, 3)).astype("float32") for _ in range(requests)]
    (lite_p50, lite_p99), (keras_p50, keras_p99) = paired_percentiles(
        [lite_call, lambda x: keras_call(x).numpy()], items)
    print(f"TFLite (float32, built-in ops only): {len(encoder.tflite_bytes) / 2**20:.1f} MiB, "
          f"ops {sorted(encoder.ops)}; largest |TFLite - Keras| on a batch: {diff:.2e}")
    print(f"one image: TFLite p50 {lite_p50:.1f} ms (p99 {lite_p99:.1f}), Keras p50 "
          f"{keras_p50:.1f} ms (p99 {keras_p99:.1f}); TFLite/Keras p50 ratio "
          f"{lite_p50 / keras_p50:.2f} ({threads or 'default'} interpreter threads)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", action="append",
                        help=f"an encoder spec (repeatable); default: {LITE0}, "
                             "keras:EfficientNetB0, keras:MobileNetV3Small")
    parser.add_argument("--batch", type=int, default=32, help="images per batch (32)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating rounds, one batch per encoder each (5)")
    parser.add_argument("--tflite", action="store_true", help="also the TFLite form")
    parser.add_argument("--requests", type=int, default=30,
                        help="single images timed for the TFLite latency (30)")
    parser.add_argument("--threads", type=int, default=None,
                        help="TFLite interpreter threads (its default)")
    args = parser.parse_args(argv)
    specs = args.encoder or [LITE0, "keras:EfficientNetB0", "keras:MobileNetV3Small"]
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; TensorFlow {tf.__version__}; "
          f"batch {args.batch} of 224x224 images, median of {args.rounds} alternating rounds")
    models = [image_encoder(spec, weights="imagenet" if spec == LITE0 else None)
              for spec in specs]
    pixels = batch_pixels(args.batch)
    labels = list(specs)
    runners = [batch_runner(model, pixels) for model, _ in models]
    if args.tflite:
        start = time.perf_counter()
        encoder = TFLiteEncoder(models[0][0], num_threads=args.threads)
        print(f"converting {specs[0]} to TFLite took {time.perf_counter() - start:.1f} s")
        encoder(pixels)  # allocate for the batch and warm up
        labels.append(f"{specs[0]} (TFLite)")
        runners.append(lambda: encoder(pixels))
    rates = median_images_per_second(runners, args.batch, args.rounds)
    grids = [grid for _, grid in models] + [models[0][1]] * args.tflite
    for label, grid, rate in zip(labels, grids, rates):
        print(f"{label:30s} grid {str(grid):14s} {rate:7.1f} images/s  "
              f"ratio {rate / rates[0]:.2f}")
    for spec, (model, _) in zip(specs, models):
        print(f"{spec}: {model.count_params() / 1e6:.2f} M parameters")
    if args.tflite:
        tflite_report(models[0][0], encoder, pixels, args.requests, args.threads)

if __name__ == "__main__":
    main()
