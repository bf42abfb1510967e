"""`gallery demo`: the main job of `make run`.

Prints the worked examples computed by the layers, then runs every task end to end
on its embedded default data with a short training profile: train, evaluate,
export a SavedModel, reload it with plain ``tf.saved_model.load``, serve a request,
and print a summary table.
"""

import pathlib
import sys
import time

from gallery.profiles import make_config
from gallery.seed_demo import print_seed_examples


def _demo_task(name, out_root):
    import tensorflow as tf

    from gallery.export.saved_model import export_saved_model
    from gallery.registry import get_task
    from gallery.runs import load_run
    from gallery.serving.ui.examples import write_examples
    from gallery.training import train

    task = get_task(name)
    config = make_config(task, "demo")
    started = time.time()
    run_dir, metrics = train(task, config, out_dir=out_root / name, overwrite=True)
    _, config, model, meta = load_run(run_dir)
    export_dir = export_saved_model(task, config, model, meta, out_root / "exports" / name / "1",
                                    overwrite=True)
    served = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    request = task.demo_request(task.load_data(config, None))
    write_examples(export_dir, request, meta.get("labels"))  # for the web page
    response = served(**request)
    print(f"[{name}] served by the reloaded SavedModel:")
    for row in task.describe_response(request, response):
        print(f"    {row}")
    return {"task": name, "metric": task.metric, "value": metrics[task.metric],
            "seconds": time.time() - started, "run": str(run_dir), "export": str(export_dir)}


DEFAULT_OUT = "runs/demo"  # `gallery serve --demo` serves the exports written here


def run_demo(tasks=None, out_root=DEFAULT_OUT):
    from gallery.registry import get_task, task_names

    names = tasks or task_names()
    for name in names:  # an unknown name fails before anything is trained
        get_task(name)
    if not print_seed_examples():
        print("demo: the layers did not reproduce the worked examples", file=sys.stderr)
        return 1
    out_root = pathlib.Path(out_root)
    rows = [_demo_task(name, out_root) for name in names]
    print("\nSummary (short demo profile; see README for the full runs)")
    print(f"{'task':15s} {'metric':13s} {'value':>8s} {'seconds':>8s}  export")
    for row in rows:
        print(f"{row['task']:15s} {row['metric']:13s} {row['value']:8.4f} "
              f"{row['seconds']:8.0f}  {row['export']}")
    where = "" if out_root == pathlib.Path(DEFAULT_OUT) else f" {out_root}"
    print(f"\nTry these models in your browser: `gallery serve --demo{where}` serves a page "
          "on them at http://127.0.0.1:8501/")
    return 0
