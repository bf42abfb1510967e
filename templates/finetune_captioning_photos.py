"""Fine-tune a trained photo captioning model on your own captioned photos.

Copy this file, edit the settings below, and run it:

    python finetune_captioning_photos.py [BASE_RUN] [MY_FOLDER] [OUT]

BASE_RUN is a run of `gallery train captioning --data flickr8k:DIR` (or
`captions:DIR`). MY_FOLDER holds your photos (JPEG, PNG, ... of any size) and a
`captions.csv` (or `.txt`, `.tsv`) with the columns `image` and `caption`, one row
per caption (a photo may have several). Optional `train.txt`, `dev.txt`, `test.txt`
list the photos of each split; without them the photos are split 80/10/10 by a
fixed draw. The image encoder stays frozen and its features of your photos are
computed once; words the base model never saw become unknown (the vocabulary is
part of the model).
"""

import sys

BASE_RUN = "runs/captioning-flickr8k"   # a run folder of the photo captioning model
MY_FOLDER = "my_photos"                 # captions.csv + photos
OUT = "runs/captioning-photos-finetuned"
FREEZE = []                             # e.g. ["feature_projection"] for very few photos
SETTINGS = ["epochs=5", "learning_rate=0.0003", "patience=2"]


def main(base_run=BASE_RUN, folder=MY_FOLDER, out=OUT):
    from gallery.finetune import finetune

    _, metrics = finetune(base_run, f"captions:{folder}", task_name="captioning",
                          freeze=FREEZE, overrides=SETTINGS, out_dir=out)
    report = metrics["finetune"]
    print(f"validation exact match: {report['validation_exact_match_before']:.3f} before, "
          f"{report['validation_exact_match_after']:.3f} after; test BLEU-4 "
          f"{metrics['bleu4']:.1f}; run folder: {out}")
    return metrics


if __name__ == "__main__":
    main(*sys.argv[1:4])
