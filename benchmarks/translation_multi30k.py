"""Multi30k German → English: train the translation task within a time budget, report
sacreBLEU on test_2016_flickr with beam search.

    python benchmarks/translation_multi30k.py --data ../shared/data/multi30k --minutes 85

Runs ``gallery train translation --data multi30k:DIR`` with the sentence defaults
(word tokens with punctuation, BiGRU encoder, Bahdanau attention, label smoothing,
beam 5) and ``max_minutes``; the run folder's metrics.json holds BLEU (sacrebleu's
default 13a tokenization, original case) and exact match. Extra ``--set key=value``
settings are passed on.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/multi30k", help="Multi30k folder")
    parser.add_argument("--minutes", type=float, default=85.0, help="training time budget")
    parser.add_argument("--out", default="runs/translation-multi30k", help="run folder")
    parser.add_argument("--set", action="append", default=[], help="extra key=value settings")
    args = parser.parse_args(argv)

    from gallery.cli import main as gallery

    start = time.monotonic()
    command = ["train", "translation", "--data", f"multi30k:{args.data}", "--out", args.out,
               "--set", f"max_minutes={args.minutes}"]
    for item in args.set:
        command += ["--set", item]
    code = gallery(command)
    if code:
        return code
    metrics = json.loads(open(os.path.join(args.out, "metrics.json")).read())
    print(f"Multi30k de→en test_2016_flickr: BLEU {metrics['bleu']:.2f}, exact match "
          f"{metrics['exact_match']:.4f}, {metrics['train_seconds'] / 60:.1f} min training, "
          f"{(time.monotonic() - start) / 60:.1f} min in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
