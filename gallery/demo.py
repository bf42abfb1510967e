"""`gallery demo`: the main job of `make run`, the showcase on the presets.

Prints the worked examples computed by the layers; then, for every task's preset
(:mod:`gallery.presets`: the task's default run, trained once and shipped with the
gallery), loads it, measures its metric on the test split again and sets it beside
the card's value, exports it to a SavedModel at ``OUT/exports/TASK/1`` (reused while
the preset is the same; held-out examples for the web page beside it:
``gallery serve --demo`` serves these), reloads the export with plain
``tf.saved_model.load`` and serves one request. Then one short run is trained from
scratch (the first task with a :attr:`~gallery.task.Task.live_demo_profile`), so that
training is seen happening, and a summary table ends it, with the time of each phase.
"""

import pathlib
import sys
import time

import tensorflow as tf

from gallery.errors import GalleryError
from gallery.preset_exports import export_preset, is_current
from gallery.preset_metrics import measure
from gallery.preset_store import PREFIX, checked_preset
from gallery.profiles import make_config
from gallery.registry import get_task, task_names
from gallery.runs import load_run
from gallery.seed_demo import print_seed_examples
from gallery.training import train

DEFAULT_OUT = "runs/demo"  # `gallery serve --demo` serves the exports written here
NO_LIVE_RUN = "none"  # --live none: no live run


def _show_preset(name, out_root, quick=False):
    """Preset ``name``: loaded, measured on its test split (``quick``: on the card's
    slice of it), exported, reloaded and asked one request; its row of the summary,
    with the seconds of each phase."""
    seconds, clock = {}, time.time()

    def lap(phase):
        nonlocal clock
        seconds[phase], clock = time.time() - clock, time.time()

    folder, card = checked_preset(PREFIX + name)
    task, config, model, meta = run = load_run(folder)  # checked just now
    splits = task.load_data(config, meta.get("data"))
    print(f"\n[{name}] {PREFIX}{name}: {card['summary']}; trained "
          f"{card.get('epochs_run')} epochs on {card.get('data')}", flush=True)
    lap("load")
    count, expected = (card["slice_examples"], card["value_slice"]) if quick else \
        (None, card["value"])
    value = measure(task, config, model, meta, splits.test, count)[task.metric]
    part = f"the first {count:,d} of the test split's" if quick else "test split:"
    print(f"[{name}] {part} {len(splits.test):,d}: {task.metric} {value:.4f}, "
          + ("the card's value" if value == expected else
             f"the card's is {expected:.4f} (measured on the machine that built the "
             "preset; another machine's kernels may round differently)"), flush=True)
    lap("evaluate")
    reused = is_current(name, card, out_root)
    export_dir = export_preset(name, out_root, run, splits)
    if reused:
        print(f"[{name}] export {export_dir} is of this preset: reused", flush=True)
    lap("export")
    served = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    request = task.demo_request(splits)
    response = served(**request)
    print(f"[{name}] served by the reloaded SavedModel:")
    for row in task.describe_response(request, response):
        print(f"    {row}")
    lap("serve")
    return {"task": name, "metric": task.metric, "value": value, "card": expected,
            "whole_split": card["value"],
            "seconds": sum(seconds.values()), "phases": seconds, "export": str(export_dir)}


def live_task(names):
    """The first of ``names`` whose task has a live demo profile, or ``None``."""
    return next((name for name in names if get_task(name).live_demo_profile), None)


def _live_run(name, profile, out_root, presets):
    """Train ``name`` from scratch with ``profile``, its progress printed as it goes."""
    task = get_task(name)
    config = make_config(task, profile)
    print(f"\n[live] training {name} from scratch ({config.epochs} epochs, profile "
          f"{profile}), so that you see training happen", flush=True)
    started = time.time()
    run_dir, metrics = train(task, config, out_dir=out_root / "live" / name, overwrite=True)
    return {"task": name, "profile": profile, "metric": task.metric,
            "value": metrics[task.metric], "epochs": metrics.get("epochs_run"),
            "seconds": time.time() - started, "run": str(run_dir),
            "preset": next((row["whole_split"] for row in presets if row["task"] == name),
                           None)}


def _summary(rows, live, seconds, quick):
    print("\nSummary: the presets, each task's default run trained once and shipped with "
          "the gallery (gallery presets list)" + ("; --quick: each measured on the first "
                                                  "tenth of its test split" if quick else ""))
    print(f"{'task':15s} {'metric':14s} {'value':>8s} {'card':>8s} {'seconds':>8s}  export")
    for row in rows:
        card = "same" if row["value"] == row["card"] else f"{row['card']:.4f}"
        print(f"{row['task']:15s} {row['metric']:14s} {row['value']:8.4f} {card:>8s} "
              f"{row['seconds']:8.0f}  {row['export']}")
    if live:
        preset = "" if live["preset"] is None else f" (the preset: {live['preset']:.4f})"
        print(f"\nLive run: {live['task']} from scratch, profile {live['profile']}, "
              f"{live['epochs']} epochs in {live['seconds']:.0f} s: {live['metric']} "
              f"{live['value']:.4f}{preset}; run folder {live['run']}")
    phases = {phase: sum(row["phases"][phase] for row in rows)
              for phase in ("load", "evaluate", "export", "serve")}
    print(f"Times: worked examples {seconds['examples']:.0f} s; presets "
          f"{seconds['presets']:.0f} s (" + ", ".join(f"{phase} {value:.0f} s"
                                                    for phase, value in phases.items())
          + f"); live run {seconds['live']:.0f} s; in all {sum(seconds.values()):.0f} s")


def run_demo(tasks=None, out_root=DEFAULT_OUT, live=None, live_profile=None, quick=False):
    """The demo on the presets of ``tasks`` (default: every task; ``quick``: each
    measured on its card's slice of the test split, not the whole split), then a live
    run of ``live`` (default: :func:`live_task`; ``"none"``: none) with
    ``live_profile`` (default: its task's live demo profile); 0 when it went through."""
    names = tasks or task_names()
    for name in names:  # an unknown name or a missing preset fails before anything runs
        get_task(name)
    for name in names:
        _, card = checked_preset(PREFIX + name)
        if quick and card.get("value_slice") is None:
            raise GalleryError(f"preset {name!r}'s card has no value_slice (built before "
                               "cards recorded one): `gallery presets slices` adds it; or "
                               "leave out --quick")
    live = live_task(names) if live is None else None if live == NO_LIVE_RUN else live
    if live:
        live_profile = live_profile or get_task(live).live_demo_profile or "demo"
        make_config(get_task(live), live_profile)  # an unknown profile: said now
    elif live_profile:
        raise GalleryError("--live-profile needs a live run (--live TASK)")
    seconds, clock = {}, time.time()
    if not print_seed_examples():
        print("demo: the layers did not reproduce the worked examples", file=sys.stderr)
        return 1
    seconds["examples"], clock = time.time() - clock, time.time()
    out_root = pathlib.Path(out_root)
    rows = [_show_preset(name, out_root, quick) for name in names]
    seconds["presets"], clock = time.time() - clock, time.time()
    live_row = _live_run(live, live_profile, out_root, rows) if live else None
    if not live:
        print("\n(no live run: none of these tasks has one; --live TASK trains one)")
    seconds["live"] = time.time() - clock
    _summary(rows, live_row, seconds, quick)
    where = "" if out_root == pathlib.Path(DEFAULT_OUT) else f" {out_root}"
    print(f"\nTry these models in your browser: `gallery serve --demo{where}` serves a page "
          "on them at http://127.0.0.1:8501/")
    return 0
