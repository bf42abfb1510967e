"""Runnable lessons on how recurrent networks behave (``gallery lesson NAME``).

Each lesson trains on real or precisely specified data, prints its numbers and
writes its plots (and ``results.json``) to a run folder.
"""

import importlib
import json
import pathlib
import time

from gallery.errors import GalleryError

LESSONS = {
    "charlm": "character-level language model on the Python standard library (stateful TBPTT)",
    "activations": "which cells of a trained character model track quotes, brackets, indents",
    "contains_one": '"does the sequence contain a 1?" (seed_examples.md §5) with our layers',
    "gradients": "vanishing and exploding gradients over 200 steps; what clipping does",
    "tbptt": "truncated vs full backpropagation through time on a long-memory task",
}


def run_lesson(name, out_dir=None, model=None, prime=None, temperature=None):
    """Run lesson ``name``; write its plots and ``results.json`` to ``out_dir``."""
    if name not in LESSONS:
        raise GalleryError(f"unknown lesson {name!r}; available: {', '.join(LESSONS)}")
    from gallery.runs import prepare_run_folder

    out_dir = prepare_run_folder(out_dir or f"runs/lesson-{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    print(f"[lesson {name}] {LESSONS[name]}", flush=True)
    module = importlib.import_module(f"lessons.{name}")
    if name == "activations":
        results = module.run(out_dir, model_dir=_charlm_run(model))
    elif name == "charlm":
        results = module.run(out_dir, prime=prime, temperature=temperature)
    else:
        results = module.run(out_dir)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"[lesson {name}] plots and results.json in {out_dir}", flush=True)
    return out_dir, results


def _charlm_run(model):
    if model:
        return model
    runs = sorted(pathlib.Path("runs").glob("charlm*/model.keras"),
                  key=lambda p: p.stat().st_mtime)
    if not runs:
        raise GalleryError("the activations lesson needs a trained character model: run "
                           "`gallery train charlm` (or `gallery lesson charlm`) first, "
                           "or pass --model RUN")
    return runs[-1].parent
