"""ActRecTut subject 1 (first 70 % trains, last 30 % tests): per-frame accuracy and
macro-F1 of the frame-tagging task on the real arm-gesture stream.

    python benchmarks/frame_tagging_actrectut.py --data ../shared/data/actrectut

``--set key=value`` applies to every run; each ``--sweep "a=1 b=2"`` is one more run (one run
folder each) and a line per run is printed, so settings can be compared.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/actrectut", help="ActRecTut folder")
    parser.add_argument("--out", default="runs/actrectut", help="run folder prefix")
    parser.add_argument("--set", action="append", default=[], help="key=value for every run")
    parser.add_argument("--sweep", action="append", default=[],
                        help='space-separated settings of one more run, e.g. "units=128"')
    args = parser.parse_args(argv)

    from gallery.cli import main as gallery

    rows = []
    for number, extra in enumerate(args.sweep or [""]):
        out = f"{args.out}-{number}" if args.sweep else args.out
        command = ["train", "frame_tagging", "--data", f"actrectut:{args.data}", "--out", out]
        for item in args.set + extra.split():
            command += ["--set", item]
        if gallery(command):
            return 2
        metrics = json.loads(open(os.path.join(out, "metrics.json")).read())
        rows.append(f"{extra or 'defaults':45s} accuracy {metrics['accuracy']:.4f}  macro-F1 "
                    f"{metrics['macro_f1']:.4f}  segmental F1 {metrics['segmental_f1_iou50']:.4f}"
                    f"  {metrics['epochs_run']} epochs, {metrics['train_seconds']:.0f} s")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
