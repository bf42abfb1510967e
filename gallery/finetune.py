"""Fine-tuning: start from a trained run, train on the user's data, write a new run.

What is kept: the preprocessing (e.g. the vocabulary: new words map to "unknown"),
the weights, and the settings (overridable with ``--set``). Options:

* ``freeze``: layer-name prefixes inside the core to keep fixed (``embedding``,
  ``recurrent``);
* ``label_map``: ``{"user label": "model label"}`` renames the data's labels first;
* labels the model does not know → a new classifier head for the data's labels
  (``task.remap_labels``); labels it knows → the model's head is kept.
"""

import numpy as np

from gallery.config import apply_overrides
from gallery.data.text import label_vocabulary
from gallery.errors import GalleryError
from gallery.runs import load_run, write_json
from gallery.training import train


def parse_label_map(text):
    """``"0=negative,1=positive"`` → ``{"0": "negative", "1": "positive"}``."""
    mapping = {}
    for pair in filter(None, (p.strip() for p in (text or "").split(","))):
        if "=" not in pair:
            raise GalleryError(f"--label-map takes old=new pairs, got {pair!r}")
        old, new = (s.strip() for s in pair.split("=", 1))
        mapping[old] = new
    return mapping


def _rename(label, mapping):
    """One label, or a sequence's per-step labels (an array), renamed."""
    if isinstance(label, str):
        return mapping.get(label, label)
    return np.array([mapping.get(str(v), str(v)) for v in label])


def _rename_labels(splits, mapping):
    parts = (splits.train, splits.validation, splits.test)
    for part in parts:
        if not hasattr(part, "labels"):
            raise GalleryError("--label-map: this task's data has no labels to map")
        part.labels = [_rename(label, mapping) for label in part.labels]
    splits.meta["labels"] = label_vocabulary(
        [v for part in parts for label in part.labels
         for v in ([label] if isinstance(label, str) else label)])


def freeze_layers(core, prefixes):
    """Set ``trainable=False`` on core layers whose names start with a prefix."""
    for prefix in prefixes:
        matched = [layer for layer in core.layers if layer.name.startswith(prefix)]
        if not matched:
            names = ", ".join(layer.name for layer in core.layers)
            raise GalleryError(f"--freeze {prefix!r} matches no layer; layers: {names}")
        for layer in matched:
            layer.trainable = False


def finetune(run_dir, source, task_name=None, freeze=(), label_map=None, overrides=(),
             out_dir=None, verbose=None, overwrite=False):
    """Fine-tune the run at ``run_dir`` on ``source``; return ``(run_dir, metrics)``."""
    task, config, model, meta = load_run(run_dir, expected_task=task_name)
    config = apply_overrides(config, overrides)
    model = task.model_for_settings(config, model)
    splits = task.load_data(config, source)
    for key in task.model_meta_keys:  # e.g. the vocabulary the model was trained with
        if key in meta:
            splits.meta[key] = meta[key]
        else:  # a fact this model does not have (an optional key)
            splits.meta.pop(key, None)
    if label_map:
        _rename_labels(splits, label_map)
    new_meta = {**meta, "source": splits.meta["source"], "data": source,
                "finetuned_from": str(run_dir)}
    data_labels = splits.meta.get("labels")
    if data_labels is not None:
        if not set(data_labels) <= set(meta["labels"]):
            print(f"[{task.name}] data labels {data_labels} differ from the model's "
                  f"{meta['labels']}: training a new classifier head", flush=True)
            model, new_meta = task.remap_labels(model, new_meta, data_labels)
        # Label ids follow the head being trained: the model's order, or the new head's
        # (data with only some of the model's labels must not renumber them).
        splits.meta["labels"] = new_meta["labels"]
    freeze_layers(task.core_of(model), freeze)
    before = task.evaluate(config, model, splits.validation, new_meta)[task.metric]
    run_dir, metrics = train(task, config, model=model, splits=splits, meta=new_meta,
                             out_dir=out_dir, verbose=verbose, overwrite=overwrite)
    after = task.evaluate(config, model, splits.validation, new_meta)[task.metric]
    metrics["finetune"] = {f"validation_{task.metric}_before": before,
                           f"validation_{task.metric}_after": after,
                           "frozen": list(freeze), "from": new_meta["finetuned_from"]}
    write_json(run_dir / "metrics.json", metrics)
    print(f"[{task.name}] validation {task.metric}: {before:.4f} before fine-tuning, "
          f"{after:.4f} after", flush=True)
    return run_dir, metrics
