"""Fine-tune a trained translation model on your own parallel text (e.g. a new domain).

Copy this file, edit the settings below, and run it:

    python finetune_translation.py [BASE_RUN] [MY_FOLDER] [OUT]

MY_FOLDER holds parallel files, one sentence a line, line i of one the translation of
line i of the other: `train.SRC` and `train.TGT` (plain or .gz; SRC/TGT are the
language codes set below), and optionally `val.*` and `test.*` (otherwise a twentieth
of train each is held out). The vocabularies are part of the base model: words (or
characters) it never saw become [UNK], so fine-tune a model whose tokens cover yours.
"""

import sys

BASE_RUN = "runs/translation"           # a run folder written by `gallery train translation`
MY_FOLDER = "my_parallel_text"          # train.SRC / train.TGT files
OUT = "runs/translation-finetuned"
SOURCE_LANG, TARGET_LANG = "en", "de"   # the file name endings
FREEZE = []                             # e.g. ["encoder", "source_embedding"] (small data)
SETTINGS = ["epochs=10", "learning_rate=0.001", "patience=2"]


def main(base_run=BASE_RUN, folder=MY_FOLDER, out=OUT):
    from gallery.finetune import finetune

    settings = SETTINGS + [f"source_lang={SOURCE_LANG}", f"target_lang={TARGET_LANG}"]
    _, metrics = finetune(base_run, f"parallel:{folder}", task_name="translation",
                          freeze=FREEZE, overrides=settings, out_dir=out)
    report = metrics["finetune"]
    print(f"validation exact match: {report['validation_exact_match_before']:.3f} before, "
          f"{report['validation_exact_match_after']:.3f} after; test BLEU "
          f"{metrics['bleu']:.1f}; run folder: {out}")
    return metrics


if __name__ == "__main__":
    main(*sys.argv[1:4])
