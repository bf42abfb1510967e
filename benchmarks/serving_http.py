"""HTTP load test of `gallery serve`: throughput and latency with and without batching.

Starts ``gallery serve`` on the sentiment export twice, once with server-side
batching off (``--max-batch-size 1``) and once on (the defaults), and sends each the
same bounded load: ``--requests`` single-review predict requests (row format) from
``--concurrency`` concurrent clients (aiohttp), after a warm-up. Prints requests/s,
p50/p99 latency and the number of errors (non-200 answers; must be 0), and the
throughput ratio of batching to no batching.

    python benchmarks/serving_http.py --export saved_models/sentiment/1
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time

import aiohttp
import numpy as np


async def load(url, texts, requests, concurrency):
    """``(seconds, latencies in ms, errors)`` for ``requests`` POSTs, ``concurrency``
    at a time."""
    latencies, errors, next_index = [], 0, iter(range(requests))

    async def client(session):
        nonlocal errors
        for i in next_index:
            body = {"instances": [texts[i % len(texts)]]}
            start = time.perf_counter()
            async with session.post(url, json=body) as response:
                await response.read()
                errors += response.status != 200
            latencies.append((time.perf_counter() - start) * 1e3)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        return time.perf_counter() - start, np.array(latencies), errors


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def run_server(export, flags):
    process = subprocess.Popen(
        [sys.executable, "-m", "gallery.cli", "serve", "--model", f"sentiment={export}",
         "--port", "0", *flags], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    line = process.stdout.readline()
    if " at http://" not in line:
        process.kill()
        sys.exit(f"the server did not start: {line!r}")
    return process, line.split(" at ")[1].split()[0]


def measure(export, flags, texts, args):
    process, base = run_server(export, flags)
    try:
        url = f"{base}/v1/models/sentiment:predict"
        asyncio.run(load(url, texts, 200, args.concurrency))  # warm up
        return asyncio.run(load(url, texts, args.requests, args.concurrency))
    finally:
        process.terminate()
        process.wait(60)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", default="saved_models/sentiment/1", help="SavedModel")
    parser.add_argument("--requests", type=int, default=2000, help="requests per setting")
    parser.add_argument("--concurrency", type=int, default=16, help="clients at once")
    for flag in ("--max-batch-size", "--batch-wait-ms", "--threads"):  # default: the server's
        parser.add_argument(flag, help="passed to gallery serve with batching on")
    args = parser.parse_args(argv)

    from rnn_gallery.tasks.sentiment.data import load_sentiment_data

    texts = load_sentiment_data(None).test.texts
    batching = [item for flag in ("max_batch_size", "batch_wait_ms", "threads")
                if getattr(args, flag) is not None
                for item in ("--" + flag.replace("_", "-"), getattr(args, flag))]
    settings = {"no batching": ["--max-batch-size", "1"], "batching": batching}
    print(f"{args.requests} requests of one review, {args.concurrency} concurrent clients, "
          f"export {args.export}; CPU {cpu_model()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}")
    throughput = {}
    for name, flags in settings.items():
        seconds, latencies, errors = measure(args.export, flags, texts, args)
        throughput[name] = args.requests / seconds
        print(f"{name:12s} ({' '.join(flags) or 'the defaults'}): "
              f"{throughput[name]:7.1f} requests/s, "
              f"p50 {np.percentile(latencies, 50):6.1f} ms, "
              f"p99 {np.percentile(latencies, 99):6.1f} ms, errors {errors}")
    print(f"batching / no batching throughput: "
          f"{throughput['batching'] / throughput['no batching']:.2f}x; load average "
          f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
