"""The `gallery` command line: train, evaluate, predict, export, serve, finetune, presets, demo.

Every problem with the user's input ends in one line on stderr and exit code 2.
"""

import argparse
import dataclasses
import json
import os
import sys

from gallery.cli_types import finite_number, whole_number
from gallery.errors import GalleryError
from gallery.json_output import strict_json
from gallery.serving import batching
from gallery.serving.hosts import allowed_host, exposure_warning
from gallery.serving.limits import PORT, Limits


def _task_and_config(name, overrides, source=None, profile=None):
    from gallery.profiles import make_config
    from gallery.registry import get_task

    task = get_task(name)
    return task, make_config(task, profile, source, overrides)


class TaskHelp(argparse.Action):
    """``-h/--help`` of ``gallery train``: the options, then (with a task named before
    it) every setting of that task and its profiles (``gallery.profiles.settings_help``)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show this help, with the task's settings and profiles, and exit"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from gallery.quiet import import_tensorflow

        import_tensorflow()  # a task's module imports it: without its start-up notices
        from gallery.profiles import settings_help
        from gallery.registry import get_task, task_names

        parser.print_help()
        try:
            task = getattr(namespace, "task", None)
            print("\n" + (settings_help(get_task(task)) if task else
                          "tasks: " + ", ".join(task_names()) + " (gallery train TASK --help "
                          "lists a task's settings)"))
        except GalleryError as error:
            parser.exit(2, f"gallery: error: {error}\n")
        parser.exit()


def cmd_list(args):
    from gallery.registry import get_task, task_names

    for name in task_names():
        print(f"{name:15s} {get_task(name).summary}")
    return 0


def cmd_train(args):
    from gallery.distribute import make_strategy
    from gallery.training import train

    strategy = make_strategy(args.strategy, args.cpu_devices)  # before TensorFlow runs
    task, config = _task_and_config(args.task, args.set, args.data, args.profile)
    train(task, config, source=args.data, out_dir=args.out, strategy=strategy,
          overwrite=args.overwrite)
    return 0


def cmd_evaluate(args):
    from gallery.preset_metrics import measure
    from gallery.runs import load_run, run_data_source

    task, config, model, meta = load_run(args.model, expected_task=args.task)
    splits = task.load_data(config, args.data or run_data_source(meta))
    task.check_data(meta, splits)
    # measured as training measures its test metric, so a run's metrics.json and a
    # preset's card give the numbers this prints
    metrics = measure(task, config, model, meta, splits.test)
    print(json.dumps(strict_json(metrics), indent=2))
    return 0


def cmd_predict(args):
    from gallery.batch_predict import INPUT_LINES, output_stream, predict_file, read_items

    if bool(args.inputs) == bool(args.input):
        raise GalleryError("give the inputs either on the command line or with "
                           "--input FILE|- (not both)")
    items = args.inputs or read_items(args.input, args.column, args.max_line_bytes)
    # a bad --output is refused before the model loads
    with output_stream(args.output, overwrite=args.overwrite) as out:
        task, predict_batch, run = _predictor(args)
        if args.input and os.path.isdir(args.input) and not task.inputs_are_files:
            raise GalleryError(f"--input {args.input} is a folder; {task.name} reads one "
                               "input per line of a .txt, .jsonl, .csv or .tsv file, or -")
        if args.input == "-" and task.stdin_is_one_stream:
            if run is None:
                raise GalleryError(f"{task.name} --input - reads one live stream through a "
                                   "run folder, not an export (serve the export's 'stream' "
                                   "signature instead)")
            limit = dataclasses.replace(INPUT_LINES, max_bytes=args.max_line_bytes)
            task.predict_stream(*run, sys.stdin.buffer, out, limit)
            return 0
        predict_file(predict_batch, items, out, batch_size=args.batch_size)
    return 0


def _predictor(args):
    """``(task, predict_batch, run)`` for a run folder or an export folder;
    ``predict_batch(items) -> rows``; ``run``: ``(config, model, meta)`` of a run folder,
    ``None`` for an export."""
    from gallery.predicting import ExportPredictor, is_export_folder

    if args.model is None:  # the task's preset (checked first), said once
        from gallery.preset_store import PREFIX, preset_folder

        args.model = preset_folder(PREFIX + args.task)
        print(f"gallery: no --model: predicting with {PREFIX}{args.task} (the task's "
              "trained default run, shipped with the gallery)", file=sys.stderr, flush=True)
    if is_export_folder(args.model):
        from gallery.registry import get_task

        if not args.task:
            raise GalleryError("name the task to predict with an export folder")
        task = get_task(args.task)
        return task, ExportPredictor(task, args.model), None
    from gallery.config import apply_overrides
    from gallery.runs import load_run

    task, config, model, meta = load_run(args.model, expected_task=args.task)
    config = apply_overrides(config, args.set)
    return task, lambda items: task.predict(config, model, meta, items), (config, model, meta)


def cmd_export(args):
    from gallery.export.formats import FORMATS
    from gallery.runs import load_run

    task, config, model, meta = load_run(args.model, expected_task=args.task)
    print(FORMATS[args.format].export(task, config, model, meta, args.out,
                                      overwrite=args.overwrite))
    return 0


def cmd_serve(args):
    exports = {}
    if args.presets:  # the presets, exported once into a folder of their own
        from gallery.preset_exports import DEFAULT_OUT as PRESETS_OUT
        from gallery.preset_exports import export_presets

        if args.model or args.demo:
            raise GalleryError("give one of --presets, --demo and --model")
        exports = export_presets(PRESETS_OUT if args.presets is True else args.presets)
        args.ui = True
    elif args.demo or not args.model:  # the exports `make run` (gallery demo) wrote
        from gallery.demo import DEFAULT_OUT
        from gallery.serving.ui import demo_exports

        if args.model:
            raise GalleryError("give either --demo or --model, not both")
        exports = demo_exports(DEFAULT_OUT if args.demo in (None, True) else args.demo)
        args.ui = True
    for item in args.model or ():
        name, _, path = item.partition("=")
        if not name or not path or "/" in name or ":" in name or name in exports:
            raise GalleryError(f"--model takes NAME=EXPORT_DIR with a new NAME free of "
                               f"'/' and ':', not {item!r}")
        exports[name] = path
    from gallery.serving.app import build_app, serve
    from gallery.serving.model import ServedModel

    models = {name: ServedModel(name, path) for name, path in exports.items()}
    app = build_app(models, Limits.from_args(args), max_batch_size=args.max_batch_size,
                    batch_wait_ms=args.batch_wait_ms, threads=args.threads,
                    allowed_hosts=args.allowed_host)
    if args.ui:
        from gallery.serving.ui import add_ui

        add_ui(app)
        print(f"the web page: http://{args.host}:{args.port}/", flush=True)
    serve(app, host=args.host, port=args.port, notice=exposure_warning(args.host))
    return 0


def cmd_finetune(args):
    from gallery.finetune import finetune, parse_label_map

    freeze = [p for p in (args.freeze or "").split(",") if p.strip()]
    finetune(args.from_run, args.data, task_name=args.task, freeze=freeze,
             label_map=parse_label_map(args.label_map), overrides=args.set, out_dir=args.out,
             overwrite=args.overwrite)
    return 0


def cmd_lesson(args):
    from gallery.lessons import lesson_summaries, run_lesson
    from gallery.quiet import settle_runtime_notices
    from gallery.registry import get_lesson

    if args.name == "list":
        for name, summary in lesson_summaries().items():
            print(f"{name:13s} {summary}")
        return 0
    if not getattr(get_lesson(args.name), "SETS_RUNTIME", False):
        settle_runtime_notices()  # the lesson sets no threads of its own (gallery.quiet)
    run_lesson(args.name, out_dir=args.out, model=args.model, prime=args.prime,
               temperature=args.temperature, overrides=args.set, profile=args.profile)
    return 0


def cmd_presets(args):
    from gallery import presets

    if args.profile and args.action != "build":
        raise GalleryError(f"--profile is for `gallery presets build`, not {args.action}")
    if args.tasks and args.action == "list":
        raise GalleryError("--tasks is for `gallery presets build` and `slices`; "
                           "`list` shows every preset")
    if args.action == "list":
        print(presets.table())
        return 0
    if args.action == "slices":
        from gallery.preset_metrics import record_slices

        record_slices(args.tasks)
        print(presets.table())
        return 0
    presets.build(tasks=args.tasks, profile=args.profile)
    print("\n" + presets.table(), flush=True)
    return 0


def cmd_demo(args):
    from gallery.demo import run_demo

    return run_demo(tasks=args.tasks, out_root=args.out, live=args.live,
                    live_profile=args.live_profile, quick=args.quick)


OVERWRITE_RUN = ("replace a finished run in --out (kept until the new one is complete; "
                 "a folder holding files the gallery did not write is never replaced)")


def build_parser():
    from gallery.batch_predict import INPUT_LINES

    parser = _Parser(prog="gallery", description=__doc__.splitlines()[0])
    # sets_runtime: the command sets TensorFlow's threads or devices itself (before its
    # runtime starts), and settles the runtime's notices after (gallery.quiet)
    parser.set_defaults(sets_runtime=False)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="list the tasks").set_defaults(func=cmd_list)

    train = sub.add_parser("train", help="train a task; writes a run folder", add_help=False)
    train.add_argument("-h", "--help", action=TaskHelp)
    train.add_argument("task")
    train.add_argument("--data", help="embedded default if omitted; tfds:NAME; or a path")
    train.add_argument("--profile", metavar="NAME", help="a named set of settings (see "
                       "--help after the task); default: the data set's own, if any")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a setting (repeatable)")
    train.add_argument("--out", help="run folder (default runs/TASK-TIME); an unfinished "
                       "run there (or, without --out, the newest matching one) is resumed")
    train.add_argument("--overwrite", action="store_true", help=OVERWRITE_RUN)
    train.add_argument("--strategy", default="default",
                       choices=["default", "mirrored", "multiworker"],
                       help="tf.distribute strategy: one device, all devices of this "
                       "machine, or the machines in TF_CONFIG")
    train.add_argument("--cpu-devices", type=whole_number(1, 256), metavar="N",
                       help="split the CPU into N logical devices (for mirrored on a CPU)")
    train.set_defaults(func=cmd_train, sets_runtime=True)

    evaluate = sub.add_parser("evaluate", help="test-split metrics of a trained run")
    evaluate.add_argument("task", nargs="?")
    evaluate.add_argument("--model", required=True, help="run folder or preset:NAME")
    evaluate.add_argument("--data", help="data to evaluate on (default: the run's own)")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser("predict", help="predict for inputs on the command line or "
                             "in a file; one JSON line per input")
    predict.add_argument("task")
    predict.add_argument("--model", help="run folder, export folder or preset:NAME "
                         "(default: preset:TASK, the task's trained default run)")
    predict.add_argument("inputs", nargs="*", help="texts, image files or primes (per task)")
    predict.add_argument("--input", metavar="FILE|-", help="a .txt/.jsonl/.csv/.tsv file, "
                         "a folder of images or stream files, or - (stdin, one per line)")
    predict.add_argument("--column", default="text",
                         help="the .csv/.tsv column or .jsonl key holding the inputs")
    predict.add_argument("--output", help="write the JSON lines to this new file (default "
                         "stdout)")
    predict.add_argument("--overwrite", action="store_true", help="replace --output if it is "
                         "a regular file (never a folder, link, device or FIFO)")
    predict.add_argument("--batch-size", type=whole_number(1, 1 << 16), default=256,
                         help="inputs read and predicted at a time (default %(default)s)")
    predict.add_argument("--max-line-bytes", type=whole_number(1, 1 << 30),
                         default=INPUT_LINES.max_bytes, metavar="N",
                         help="refuse an --input line (a .csv record) longer than N bytes "
                         f"of UTF-8 (default {INPUT_LINES.max_bytes:,d}), before reading it all")
    predict.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="change a prediction setting, e.g. temperature=0.5")
    predict.set_defaults(func=cmd_predict)

    from gallery.export.formats import FORMATS

    export = sub.add_parser("export", help="export a trained run (by default a SavedModel "
                            "that serves raw inputs)")
    export.add_argument("task", nargs="?")
    export.add_argument("--model", required=True, help="run folder or preset:NAME")
    export.add_argument("--out", help="where the export goes (default: " + "; ".join(
        f"{name}: {f.default_out.replace('{task}', 'TASK')}" for name, f in FORMATS.items())
        + ")")
    export.add_argument("--format", choices=list(FORMATS), default="savedmodel",
                        help="; ".join(f"{name}: {f.help}" for name, f in FORMATS.items()))
    export.add_argument("--overwrite", action="store_true", help="replace an existing export")
    export.set_defaults(func=cmd_export)

    serve = sub.add_parser("serve", help="serve exports over TF Serving's REST API")
    serve.add_argument("--model", action="append", metavar="NAME=EXPORT_DIR",
                       help="serve the SavedModel at EXPORT_DIR as /v1/models/NAME "
                       "(repeatable)")
    serve.add_argument("--ui", action="store_true",
                       help="also serve a web page at / to try every model in a browser")
    serve.add_argument("--demo", nargs="?", const=True, metavar="FOLDER",
                       help="serve the exports `gallery demo` wrote, with the web page (the "
                       "default without --model; FOLDER: the demo's --out, default runs/demo)")
    serve.add_argument("--presets", nargs="?", const=True, metavar="FOLDER",
                       help="serve the presets (`gallery presets list`), with the web page; "
                       "each is exported once into FOLDER/exports/NAME/1 (default "
                       "runs/presets) and reused while the preset is the same")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only; "
                       "the server has no authentication and no TLS, so any other address "
                       "needs a reverse proxy with both in front, see docs/deploying.md)")
    serve.add_argument("--port", type=PORT, default=8501,
                       help="port, 1 to 65535 (0: any free one)")
    serve.add_argument("--allowed-host", action="append", default=[], type=allowed_host,
                       metavar="NAME[:PORT]", help="also answer requests whose Host is "
                       "NAME (e.g. the name of a reverse proxy in front); repeatable")
    serve.add_argument("--max-batch-size", type=whole_number(1, 10**6),
                       default=batching.MAX_BATCH_SIZE,
                       help="most rows in one model call: concurrent requests are joined "
                       "up to it, larger ones split into calls of that many rows (1: "
                       "every row alone)")
    serve.add_argument("--batch-wait-ms", type=finite_number(0, 60_000),
                       default=batching.BATCH_WAIT_MS,
                       help="longest a request waits for others to join its batch")
    serve.add_argument("--threads", type=whole_number(1, 256), default=batching.THREADS,
                       help="model calls run at once")
    Limits.add_arguments(serve)
    serve.set_defaults(func=cmd_serve)

    tune = sub.add_parser("finetune", help="fine-tune a trained run on your data")
    tune.add_argument("task", nargs="?")
    tune.add_argument("--from", dest="from_run", required=True,
                      help="run folder or preset:NAME to start from")
    tune.add_argument("--data", required=True, help="your data (e.g. a .csv/.tsv file)")
    tune.add_argument("--freeze", help="comma-separated layer prefixes: embedding,recurrent")
    tune.add_argument("--label-map", help="rename your labels: old=new,old=new")
    tune.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    tune.add_argument("--out", help="new run folder")
    tune.add_argument("--overwrite", action="store_true", help=OVERWRITE_RUN)
    tune.set_defaults(func=cmd_finetune)

    lesson = sub.add_parser("lesson", help="run a lesson on how recurrent networks behave")
    lesson.add_argument("name", help="a lesson name, or `list`")
    lesson.add_argument("--out", help="folder for plots and results.json")
    lesson.add_argument("--model", help="a trained run or preset:NAME (activations lesson: "
                        "charlm, sentiment or translation; default the newest runs/charlm*)")
    lesson.add_argument("--prime", help="text the charlm lesson continues (default 'def ')")
    lesson.add_argument("--temperature", type=finite_number(0, 100),
                        help="sampling temperature for the charlm lesson")
    lesson.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="a setting of the lesson (hmlstm: its Settings; charlm: the "
                             "charlm task's settings); repeatable")
    lesson.add_argument("--profile", metavar="NAME",
                        help="a named set of the lesson's settings, applied before --set "
                             "(hmlstm: short, the default; full; tiny)")
    lesson.set_defaults(func=cmd_lesson, sets_runtime=True)

    presets = sub.add_parser("presets", help="the trained default run of each task, "
                             "shipped with the gallery: list them, or build them again")
    presets.add_argument("action", choices=["list", "build", "slices"],
                         help="list: their cards as a table; build: train each task's "
                         "default run from scratch and write it as its preset (make "
                         "presets); slices: add the metric on the first tenth of the test "
                         "split to cards built without it (nothing trained)")
    presets.add_argument("--tasks", nargs="+", metavar="TASK",
                         help="build (slices: measure) only these tasks' presets "
                         "(default: every task)")
    presets.add_argument("--profile", metavar="NAME", help="train with this profile's "
                         "settings (e.g. tiny, for tests) instead of the defaults")
    presets.set_defaults(func=cmd_presets)

    demo = sub.add_parser("demo", help="the main job: every task's preset end to end "
                          "(evaluate, export, serve), then one short live training run")
    demo.add_argument("--tasks", nargs="*", help="only these tasks' presets")
    demo.add_argument("--out", default="runs/demo", help="where the exports (served by "
                      "`gallery serve --demo`) and the live run go (default %(default)s)")
    demo.add_argument("--live", metavar="TASK", help="the task trained live (default: the "
                      "first of the tasks with a live demo profile); none: no live run")
    demo.add_argument("--live-profile", metavar="NAME", help="the live run's profile "
                      "(default: its task's live demo profile)")
    demo.add_argument("--quick", action="store_true", help="measure each preset on the "
                      "first tenth of its test split (its card's value_slice), not the whole")
    demo.set_defaults(func=cmd_demo)
    return parser


class _Parser(argparse.ArgumentParser):
    """Command-line mistakes end like every other bad input: one line, exit code 2."""

    def error(self, message):
        command = self.prog.removeprefix("gallery").strip()
        raise GalleryError(f"{command + ': ' if command else ''}{message} "
                           f"(see `{self.prog} --help`)")


def parse(argv=None):
    """The parsed command line. ``predict``'s inputs may come before or after its
    options (argparse alone gives an optional positional only the first run)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "command", None) == "predict" and not any(
            item.startswith("-") and item != "-" for item in extra):
        args.inputs = [*args.inputs, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv=None):
    """Run a command; a bad input prints ``gallery: error: ...`` (one line, control
    characters escaped) and returns 2."""
    from gallery.errors import printable

    try:
        args = parse(argv)
        from gallery.quiet import import_tensorflow, settle_runtime_notices

        import_tensorflow()
        if not args.sets_runtime:  # train and lesson may set threads or devices first
            settle_runtime_notices()
        from gallery.runs import required_free_mb

        required_free_mb()  # a malformed GALLERY_MIN_FREE_MB: said now, whatever the command
        return args.func(args)
    except GalleryError as error:
        print(f"gallery: error: {printable(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gallery: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
