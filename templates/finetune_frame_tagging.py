"""Fine-tune a trained frame-tagging model on your own labelled sensor streams.

Copy this file, edit the settings below, and run it:

    python finetune_frame_tagging.py [BASE_RUN] [MY_FOLDER] [OUT]

MY_FOLDER holds one `*.csv` file per recorded stream: one frame per row, the channel
values (as many as the base model's, e.g. 6 for accelerometer + gyroscope) and then
the activity label as the last field; a header line is fine. Files sorted by name:
the last tenth tests, the tenth before it validates. Your labels must be the base
model's (see its meta.json); LABEL_MAP renames yours onto them.
"""

import sys

BASE_RUN = "runs/frame_tagging"         # a run folder written by `gallery train frame_tagging`
MY_FOLDER = "my_streams"                # *.csv labelled streams
OUT = "runs/frame_tagging-finetuned"
FREEZE = []                             # e.g. ["frame_encoder"] to keep the frame encoder fixed
LABEL_MAP = {}                          # e.g. {"jogging": "running"}
SETTINGS = ["epochs=10", "learning_rate=0.001", "patience=3"]


def main(base_run=BASE_RUN, folder=MY_FOLDER, out=OUT):
    from gallery.finetune import finetune

    _, metrics = finetune(base_run, folder, task_name="frame_tagging", freeze=FREEZE,
                          label_map=LABEL_MAP, overrides=SETTINGS, out_dir=out)
    report = metrics["finetune"]
    print(f"validation per-frame accuracy: {report['validation_accuracy_before']:.3f} before, "
          f"{report['validation_accuracy_after']:.3f} after; test "
          f"{metrics['accuracy']:.3f}; run folder: {out}")
    return metrics


if __name__ == "__main__":
    main(*sys.argv[1:4])
