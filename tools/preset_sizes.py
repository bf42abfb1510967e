"""What each task's preset will weigh, before any training: ``docs/presets.md``'s sizes.

    python tools/preset_sizes.py [TASK ...]

Builds each task's default model as ``gallery train TASK`` builds it (default settings,
embedded data; untrained, so no metric), then does what ``gallery presets build`` does
to a trained one (:meth:`gallery.task.Task.preset_model`, then
:func:`gallery.presets.save_preset_model`) and prints, per task, the bytes of the
``.keras`` file training writes, of the preset's ``model.keras`` with float32 and with
float16 weights, and whether the preset model's outputs on the test split equal the
whole model's (the cut must not change them). Weights do not change a file's size
much (only its compression), so these are the sizes of the trained presets to within
a few per cent.
"""

import argparse
import os
import pathlib
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def sizes(name, folder):
    """``{"keras", "float32", "float16", "same_outputs"}`` of task ``name``."""
    import numpy as np

    from gallery.presets import save_preset_model
    from gallery.profiles import make_config
    from gallery.registry import get_task

    task = get_task(name)
    config = make_config(task)
    splits = task.load_data(config, None)
    model = task.build_model(config, splits)
    model.save(folder / f"{name}.keras")
    smaller = task.preset_model(config, model, splits.meta, splits)
    row = {"keras": (folder / f"{name}.keras").stat().st_size}
    for dtype in ("float32", "float16"):
        save_preset_model(smaller, folder / f"{name}-{dtype}.keras", dtype)
        row[dtype] = (folder / f"{name}-{dtype}.keras").stat().st_size
    if smaller is model:
        row["same_outputs"] = "(not cut)"
    else:
        texts = np.array(list(splits.test.texts), dtype=object)
        row["same_outputs"] = str(np.array_equal(model.predict(texts, verbose=0),
                                                 smaller.predict(texts, verbose=0)))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", help="default: every registered task")
    args = parser.parse_args(argv)
    from gallery.registry import task_names

    total = 0
    print(f"{'task':15s} {'.keras':>12s} {'preset f32':>12s} {'preset f16':>12s}  "
          "same test outputs")
    with tempfile.TemporaryDirectory() as work:
        for name in args.tasks or task_names():
            row = sizes(name, pathlib.Path(work))
            total += row["float16"]
            print(f"{name:15s} {row['keras']:12,d} {row['float32']:12,d} "
                  f"{row['float16']:12,d}  {row['same_outputs']}", flush=True)
    print(f"{'all (float16)':15s} {'':12s} {'':12s} {total:12,d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
