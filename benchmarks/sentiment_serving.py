"""Latency and throughput of an exported sentiment SavedModel.

Loads the export with plain ``tf.saved_model.load`` and calls its
``serving_default`` signature on review snippets from the embedded test split:
single requests (p50/p99 latency) and batches of 64 (texts per second).

    python benchmarks/sentiment_serving.py --export saved_models/sentiment/1
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from rnn_gallery.tasks.sentiment.data import load_sentiment_data  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", required=True, help="SavedModel folder")
    parser.add_argument("--requests", type=int, default=500, help="single requests timed")
    parser.add_argument("--batches", type=int, default=30, help="batches of 64 timed")
    args = parser.parse_args(argv)

    serve = tf.saved_model.load(args.export).signatures["serving_default"]
    texts = load_sentiment_data(None).test.texts
    for text in texts[:20]:  # warm up
        serve(text=tf.constant([text]))

    latencies = []
    for i in range(args.requests):
        request = tf.constant([texts[i % len(texts)]])
        start = time.perf_counter()
        serve(text=request)["label"].numpy()
        latencies.append(time.perf_counter() - start)
    latencies = np.array(latencies) * 1e3
    print(f"single requests ({args.requests}): p50 {np.percentile(latencies, 50):.2f} ms, "
          f"p99 {np.percentile(latencies, 99):.2f} ms, mean {latencies.mean():.2f} ms")

    batches = [tf.constant(texts[i * 64:(i + 1) * 64]) for i in range(len(texts) // 64)]
    start = time.perf_counter()
    for i in range(args.batches):
        serve(text=batches[i % len(batches)])["label"].numpy()
    elapsed = time.perf_counter() - start
    print(f"batches of 64 ({args.batches}): {args.batches * 64 / elapsed:.0f} texts/s, "
          f"{elapsed / args.batches * 1e3:.1f} ms per batch")


if __name__ == "__main__":
    main()
