"""Fine-tune a trained captioning model on your own captioned images.

Copy this file, edit the settings below, and run it:

    python finetune_captioning.py [BASE_RUN] [MY_FOLDER] [OUT]

MY_FOLDER holds your images (PNG, JPEG, ...) and a `captions.tsv` with one
`filename<TAB>caption` line per image. Images are turned grayscale and resized to the
base model's size; dark ink on light paper is inverted automatically. Words the base
model never saw become <unk>: the vocabulary is part of the model.
"""

import sys

BASE_RUN = "runs/captioning"            # a run folder written by `gallery train captioning`
MY_FOLDER = "my_images"                 # captions.tsv + image files
OUT = "runs/captioning-finetuned"
FREEZE = ["conv"]                       # keep the convolutional encoder fixed (small data)
SETTINGS = ["epochs=5", "learning_rate=0.001", "patience=2"]


def main(base_run=BASE_RUN, folder=MY_FOLDER, out=OUT):
    from gallery.finetune import finetune

    _, metrics = finetune(base_run, folder, task_name="captioning", freeze=FREEZE,
                          overrides=SETTINGS, out_dir=out)
    report = metrics["finetune"]
    print(f"validation exact match: {report['validation_exact_match_before']:.3f} before, "
          f"{report['validation_exact_match_after']:.3f} after; run folder: {out}")
    return metrics


if __name__ == "__main__":
    main(*sys.argv[1:4])
