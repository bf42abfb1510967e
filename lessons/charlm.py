"""Lesson: a character-level language model (the ``charlm`` task, trained here).

Trains ``charlm`` with its defaults on the Python standard library's source (see
``tasks/charlm``): many-to-many shifted by one, truncated BPTT with the state carried
across consecutive chunks, gradient clipping. Prints validation and test
bits-per-character and continues ``prime`` at a few temperatures.
"""

import math

from gallery.config import apply_overrides
from gallery.registry import get_task
from gallery.training import train

SUMMARY = 'character-level language model on the Python standard library (stateful TBPTT)'

def check_options(overrides=(), **_):
    """Refuse bad ``--set`` overrides before the lesson's folder is made."""
    apply_overrides(get_task("charlm").config_class(), list(overrides or ()))


def run(out_dir, prime=None, temperature=None, overrides=()):
    task = get_task("charlm")
    config = apply_overrides(task.config_class(), list(overrides))
    run_dir, metrics = train(task, config, out_dir=out_dir / "run")
    from gallery.runs import load_run, read_json

    _, config, model, meta = load_run(run_dir)
    history = read_json(run_dir / "history.json")
    best_val = min(history["val_loss"]) / math.log(2)
    print(f"validation bits per character (best epoch): {best_val:.3f}; "
          f"test: {metrics['bits_per_char']:.3f}")
    samples = {}
    for t in ([temperature] if temperature is not None else [0.2, 0.5, 1.0]):
        settings = apply_overrides(config, [f"temperature={t}"])
        text = task.generate(settings, model, meta, [prime or "def "])[0]
        samples[str(t)] = text
        print(f"--- temperature {t}, prime {prime or 'def '!r}\n{prime or 'def '}{text}\n")
    return {"validation_bits_per_char": best_val, "test_bits_per_char": metrics["bits_per_char"],
            "samples": samples, "run": str(run_dir)}
