"""Training speed with length bucketing vs padding every batch to the longest text.

Same model (the default sentiment core), same examples (the embedded Rotten
Tomatoes training split), same batch size; one pipeline groups examples by length
(``gallery.masking.bucket_by_length``), the other pads every batch to the longest
text of the data set. Prints real (non-padding) tokens trained per second for both
and the ratio, over alternating timed epochs in one process.

    python benchmarks/bucketing_speed.py [--epochs 2] [--set key=value ...]
"""

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from gallery.config import apply_overrides  # noqa: E402
from gallery.registry import get_task  # noqa: E402
from gallery.training import make_optimizer, seed_everything  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per pipeline")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    task = get_task("sentiment")
    config = apply_overrides(task.config_class(), args.set)
    seed_everything(config.seed)
    splits = task.load_data(config)
    model = task.build_model(config, splits)
    core = task.core_of(model)
    task.compile_core(config, core, make_optimizer(config))
    bucketed, _ = task.datasets(config, model, splits)
    examples = task.examples(model, splits.train, splits.meta["labels"])
    longest = max(int(x.shape[0]) for x, _ in examples)
    padded = examples.shuffle(len(splits.train), seed=config.seed).padded_batch(
        config.batch_size, padded_shapes=([longest], [None]))
    real_tokens = sum(int(np.count_nonzero(x)) for x, _ in examples)

    pipelines = {"length buckets": bucketed, f"pad to max ({longest})": padded}
    warnings.filterwarnings("ignore", message=".*(ran out of data|shuffle=True).*")
    for dataset in pipelines.values():  # trace both before timing
        core.fit(dataset.take(2), epochs=1, verbose=0)
    seconds = {name: [] for name in pipelines}
    for _ in range(args.epochs):
        for name, dataset in pipelines.items():
            start = time.perf_counter()
            core.fit(dataset, epochs=1, verbose=0)
            seconds[name].append(time.perf_counter() - start)
    rates = {name: real_tokens / np.median(s) for name, s in seconds.items()}
    print(f"{real_tokens} real tokens per epoch; batch {config.batch_size}; "
          f"cell {config.cell}, units {config.units}, bidirectional {config.bidirectional}")
    for name, rate in rates.items():
        print(f"{name:22s} {np.median(seconds[name]):7.1f} s/epoch  {rate:9.0f} tokens/s")
    bucket_rate, pad_rate = rates.values()
    print(f"length bucketing vs pad-to-max: {bucket_rate / pad_rate:.2f}x tokens/s")


if __name__ == "__main__":
    main()
