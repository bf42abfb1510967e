"""Flickr8k photo captioning: train (or take a run), report development-split BLEU-1…4
and METEOR for several beam widths, training time and the export's speed.

    python benchmarks/captioning_flickr8k.py --data ../shared/data/flickr8k
    python benchmarks/captioning_flickr8k.py --run runs/captioning-flickr8k --beams 1,3,5 \
        --length-penalties 0,1

Training is ``gallery train captioning --data flickr8k:DIR`` (the ``photos`` profile:
frozen EfficientNet-Lite0 features, Show, Attend and Tell decoder), its time counted
from the command's start, feature extraction included. Scores: corpus BLEU against
all five references (``gallery.metrics.caption_tokens``: lower-cased, punctuation
removed) and METEOR 1.5 when Java and ``pycocoevalcap`` are present. Speed: the
SavedModel's ``serving_default`` captions one 224×224 JPEG per call (beam 3), p50
over ``--latency`` calls after one warm-up call. The CPU and the load average are
printed with the numbers: on a shared machine they say what the times mean.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cpu_name():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/flickr8k", help="Flickr8k folder")
    parser.add_argument("--run", help="a trained run folder (skips training)")
    parser.add_argument("--out", default="runs/captioning-flickr8k", help="run folder to train")
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="training budget (max_minutes; 0: the profile's epochs)")
    parser.add_argument("--set", action="append", default=[], help="extra key=value settings")
    parser.add_argument("--beams", default="1,3", help="beam widths to score")
    parser.add_argument("--length-penalties", default="",
                        help="GNMT alphas to score with each beam width (default: the run's)")
    parser.add_argument("--latency", type=int, default=20, help="timed export calls")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from gallery.cli import main as gallery
    from gallery.export.saved_model import export_saved_model
    from gallery.meteor import meteor
    from gallery.metrics import caption_tokens
    from gallery.runs import load_run, read_json
    from rnn_gallery.tasks.captioning import photo_task

    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; load average at start "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    run, source = args.run, f"flickr8k:{args.data}"
    if run is None:
        started = time.monotonic()
        command = ["train", "captioning", "--data", source, "--out", args.out]
        for item in ([f"max_minutes={args.minutes}"] if args.minutes else []) + args.set:
            command += ["--set", item]
        if gallery(command):
            return 1
        run = args.out
        fitting = read_json(pathlib.Path(run) / "metrics.json")["train_seconds"] / 60
        print(f"training: {(time.monotonic() - started) / 60:.1f} min in all (features "
              f"included), {fitting:.1f} min fitting the decoder", flush=True)
    task, config, model, meta = load_run(run, expected_task="captioning")
    dev = task.load_data(config, source).validation
    features = photo_task.features_of(model, dev)
    alphas = [float(a) for a in args.length_penalties.split(",") if a] or [config.length_penalty]
    for width in (int(b) for b in args.beams.split(",")):
        for alpha in alphas:
            captions = photo_task.write_captions(config, model, features, beam_width=width,
                                                 length_penalty=alpha)
            scores = photo_task.caption_scores(captions, dev.references)
            line = " ".join(f"BLEU-{n} {scores[f'bleu{n}']:.1f}" for n in range(1, 5))
            words = np.mean([len(caption_tokens(c)) for c in captions])
            if width == config.beam_width and alpha == config.length_penalty:
                score, why = meteor(captions, dev.references)
                line += f", METEOR {score:.2f}" if score is not None else f" ({why})"
            print(f"dev, beam {width}, length penalty {alpha:g}: {line}; {words:.1f} words "
                  "a caption", flush=True)

    with tempfile.TemporaryDirectory() as folder:
        export = pathlib.Path(folder) / "1"
        export_saved_model(task, config, model, meta, export)
        serve = tf.saved_model.load(str(export)).signatures["serving_default"]
        images = [p.read_bytes() for p in dev.paths[:args.latency + 1]]
        serve(image=tf.constant(images[:1]))
        times = []
        for data in images[1:]:
            start = time.perf_counter()
            serve(image=tf.constant([data]))
            times.append(time.perf_counter() - start)
        p50 = float(np.median(times))
        print(f"export (beam {config.beam_width}): p50 {1000 * p50:.0f} ms per 224x224 JPEG, "
              f"{1 / p50:.1f} images/s; load average {os.getloadavg()[0]:.1f}")
    print(json.dumps({"run": str(run)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
