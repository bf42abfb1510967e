"""What fine-tuning the encoder's last blocks costs the photo captioning model
(``--set fine_tune_encoder_blocks=N``): one training step of the core, and the
cached features per photo.

For each ``--blocks`` value ``N`` builds the ``photos`` profile's model
(``tasks.captioning.photo_model``; random weights: the speed does not depend on them,
and no wheel is read) with a vocabulary of ``--vocabulary`` words, and times
``core.train_on_batch`` on one batch of ``--batch`` photos' cached features (the cut
grid ``N`` gives) with captions of ``--words`` words, after one warm-up step, in
``--rounds`` alternating rounds so that a change of load hits every ``N`` alike.
Prints, per ``N``: the cut grid, its float16 bytes per photo, the tail's trainable
parameters, the median seconds per step and the ratio to the first ``N``.

    python benchmarks/captioning_encoder_tail.py --blocks 0,1,2,6
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from gallery.config import apply_overrides  # noqa: E402
from gallery.registry import get_task  # noqa: E402
from gallery.reproducibility import cpu_model  # noqa: E402
from gallery.task import Splits  # noqa: E402
from gallery.training import make_optimizer  # noqa: E402


def step_runner(task, config, model, batch, words, seed=0):
    """``run()``: one training step of ``model``'s core on a fixed random batch."""
    rng = np.random.default_rng(seed)
    core = task.core_of(model)
    task.compile_core(config, core, make_optimizer(config))
    features = rng.normal(size=(batch, *core.inputs[0].shape[1:])).astype("float32")
    ids = rng.integers(2, model.decoder.vocabulary_size - 2, (batch, words + 1)).astype("int32")
    ids[:, 0] = model.start_id
    inputs, targets = (features, ids), np.concatenate([ids[:, 1:], ids[:, :1] * 0], axis=1)
    core.train_on_batch(inputs, targets)  # trace and warm up
    return lambda: core.train_on_batch(inputs, targets)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", default="0,1,2,6", help="values of N, comma-separated")
    parser.add_argument("--batch", type=int, default=64, help="the photos profile's batch")
    parser.add_argument("--words", type=int, default=12, help="caption length (words)")
    parser.add_argument("--vocabulary", type=int, default=2537, help="words (Flickr8k's)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    task = get_task("captioning")
    base = task.config_class()
    runs = {}
    for blocks in [int(b) for b in args.blocks.split(",")]:
        config = apply_overrides(base, [f"{k}={v}" for k, v in task.profiles["photos"].items()]
                                 + ["pretrained=false", f"fine_tune_encoder_blocks={blocks}"])
        keras.utils.set_random_seed(config.seed)
        words = {"vocabulary": [f"w{i}" for i in range(args.vocabulary)]}
        model = task.build_model(config, Splits(None, None, None, words))
        tail = model.tail.trainable_weights if model.tail is not None else []
        runs[blocks] = (model.core.inputs[0].shape[1:], sum(int(np.prod(w.shape)) for w in tail),
                        step_runner(task, config, model, args.batch, args.words))
    times = {blocks: [] for blocks in runs}
    for _ in range(args.rounds):
        for blocks, (_, _, run) in runs.items():
            started = time.perf_counter()
            run()
            times[blocks].append(time.perf_counter() - started)
    print(f"CPU: {cpu_model()}; batch {args.batch}, {args.words} words, "
          f"{args.vocabulary} words of vocabulary, median of {args.rounds} rounds")
    print("N  | cached grid    | KB/photo | tail parameters | s/step | ratio")
    first = None
    for blocks, (grid, parameters, _) in runs.items():
        median = statistics.median(times[blocks])
        first = first or median
        kb = 2 * int(np.prod(grid)) / 1000
        print(f"{blocks:<2} | {'x'.join(map(str, grid)):<14} | {kb:8.1f} | {parameters:15,} | "
              f"{median:6.2f} | {median / first:5.2f}")


if __name__ == "__main__":
    main()
