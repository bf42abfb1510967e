"""Fine-tune a trained sentiment model on your own labelled text.

Copy this file, edit the settings below, and run it:

    python finetune_sentiment.py [BASE_RUN] [MY_DATA] [OUT]

MY_DATA is a .csv or .tsv file with a header naming the columns `text` and `label`
(labels may be words or numbers). If your labels are the base model's labels under
other names, map them in LABEL_MAP and the trained classifier is kept; otherwise a
new classifier head is trained for your labels. The new run folder works with every
`gallery` command (predict, evaluate, export).
"""

import sys

BASE_RUN = "runs/sentiment"           # a run folder written by `gallery train sentiment`
MY_DATA = "my_reviews.tsv"            # your labelled text
OUT = "runs/sentiment-finetuned"      # where the fine-tuned run goes
FREEZE = []                           # layer-name prefixes kept fixed: "recurrent" for tiny
                                      # data sets, "embedding" if the base has one
                                      # (the pretrained/lexicon features are fixed anyway)
LABEL_MAP = {}                        # e.g. {"0": "negative", "1": "positive"}
SETTINGS = ["epochs=5", "learning_rate=0.001", "patience=2"]  # any `--set` key works


def main(base_run=BASE_RUN, data=MY_DATA, out=OUT):
    from gallery.finetune import finetune

    _, metrics = finetune(base_run, data, task_name="sentiment", freeze=FREEZE,
                          label_map=LABEL_MAP, overrides=SETTINGS, out_dir=out)
    report = metrics["finetune"]
    print(f"validation accuracy: {report['validation_accuracy_before']:.3f} before, "
          f"{report['validation_accuracy_after']:.3f} after; test accuracy "
          f"{metrics['accuracy']:.3f}; run folder: {out}")
    return metrics


if __name__ == "__main__":
    main(*sys.argv[1:4])
