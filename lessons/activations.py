"""Lesson: what single cells of a trained character model track.

For a trained ``charlm`` run, read a stretch of held-out text and record every
unit's activation ``h_t`` (the top recurrent layer's output) at every character.
Then, for three properties of Python source known at each character,

* ``quote``: inside a string literal (1) or not (0),
* ``bracket depth``: how many ``( [ {`` are open,
* ``indentation``: the current line's leading spaces (÷ 4),

find the unit whose activation correlates best (Pearson's r, either sign) with
the property. Writes ``activations.html`` (the text coloured by each best unit:
red positive, blue negative) and ``activations.png`` (the units' traces against
the properties).
"""

import html
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from .common import print_table  # noqa: E402

SUMMARY = 'which cells of a trained character model track quotes, brackets, indents'

PROPERTIES = ("quote", "bracket depth", "indentation")


def text_properties(text):
    """Per character: ``{"quote": 0/1, "bracket depth": n, "indentation": spaces / 4}``.

    A small scanner of Python source: single, double and triple quotes (with
    backslash escapes), brackets outside strings, comments skipped to line end.
    """
    quote = np.zeros(len(text))
    depth = np.zeros(len(text))
    indent = np.zeros(len(text))
    open_quote, level, line_indent, at_line_start, comment = None, 0, 0, True, False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\n":
            at_line_start, line_indent, comment = True, 0, False
        elif at_line_start and c == " ":
            line_indent += 1
        else:
            at_line_start = False
        if open_quote is None and not comment:
            if c == "#":
                comment = True
            elif text.startswith(('"""', "'''"), i) or c in "\"'":
                open_quote = text[i:i + 3] if text.startswith(('"""', "'''"), i) else c
                span = len(open_quote)
                quote[i:i + span], depth[i:i + span] = 1, level
                indent[i:i + span] = line_indent / 4
                i += span
                continue
            elif c in "([{":
                level += 1
            elif c in ")]}":
                level = max(level - 1, 0)
        elif open_quote is not None:
            if c == "\\":
                quote[i:i + 2], depth[i:i + 2], indent[i:i + 2] = 1, level, line_indent / 4
                i += 2
                continue
            if text.startswith(open_quote, i):
                span = len(open_quote)
                quote[i:i + span], depth[i:i + span] = 1, level
                indent[i:i + span] = line_indent / 4
                open_quote = None
                i += span
                continue
            if c == "\n" and len(open_quote) == 1:
                open_quote = None  # an unterminated one-line string ends here
        quote[i] = 1 if open_quote is not None else quote[i]
        depth[i], indent[i] = level, line_indent / 4
        i += 1
    return {"quote": quote, "bracket depth": depth, "indentation": indent}


def best_units(activations, properties):
    """For each property, ``(unit, r)`` with the largest ``|r|``.

    ``activations (T, H)``; ``properties {name: (T,)}``. Units or properties that
    never change have no correlation (r = 0).
    """
    a = activations - activations.mean(axis=0)
    a_norm = np.sqrt((a ** 2).sum(axis=0))
    found = {}
    for name, values in properties.items():
        v = values - values.mean()
        v_norm = np.sqrt((v ** 2).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(a_norm * v_norm > 0, (a * v[:, None]).sum(axis=0) / (a_norm * v_norm),
                         0.0)
        unit = int(np.argmax(np.abs(r)))
        found[name] = (unit, float(r[unit]))
    return found


def colour_html(text, activations, found):
    """An HTML page: the text once per best unit, each character's background by its
    activation (red > 0, blue < 0). Every character is HTML-escaped."""
    blocks = []
    for name, (unit, r) in found.items():
        values = activations[:, unit]
        scale = max(float(np.abs(values).max()), 1e-6)
        spans = []
        for c, value in zip(text, values):
            x = value / scale
            colour = (f"rgba(220,40,40,{x:.2f})" if x > 0 else f"rgba(40,80,220,{-x:.2f})")
            shown = "↵\n" if c == "\n" else html.escape(c)
            spans.append(f'<span style="background:{colour}">{shown}</span>')
        blocks.append(f"<h2>{html.escape(name)}: unit {unit}, r = {r:+.3f}</h2>"
                      f"<pre>{''.join(spans)}</pre>")
    return ("<!doctype html><meta charset='utf-8'><title>Cell activations</title>"
            "<style>pre{font:13px monospace;line-height:1.5;white-space:pre-wrap}</style>"
            + "".join(blocks))


def activations_of(model, meta, text):
    """The top recurrent layer's outputs ``(T, H)`` for ``text``, read from a zero state."""
    from rnn_gallery.tasks.charlm.model import CharStepper
    from rnn_gallery.tasks.charlm.task import encode_text

    stepper = CharStepper(model, meta["vocabulary"])
    ids = tf.constant(encode_text(text, meta["vocabulary"])[None])
    outputs, _ = stepper.rnn(stepper.embedding(ids), stepper.zero_state(1))
    return np.asarray(outputs[0])


def newest_charlm_run(root="runs"):
    """The newest ``root/charlm*`` run folder, or a one-line error saying how to make one."""
    from gallery.errors import GalleryError

    runs = sorted(pathlib.Path(root).glob("charlm*/model.keras"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise GalleryError("the activations lesson needs a trained character model: run "
                           "`gallery train charlm` (or `gallery lesson charlm`) first, "
                           "or pass --model RUN")
    return runs[-1].parent


def run(out_dir, model=None, chars=4000, verbose=True):
    """``model``: a trained charlm run folder (default: the newest under ``runs/``)."""
    from gallery.runs import load_run, run_data_source

    model_dir = model or newest_charlm_run()
    task, config, model, meta = load_run(model_dir, expected_task="charlm")
    splits = task.load_data(config, run_data_source(meta))
    text = splits.test.text[:chars]
    activations = activations_of(model, meta, text)
    properties = text_properties(text)
    found = best_units(activations, properties)
    if verbose:
        print_table(["property", "best unit", "correlation r"],
                    [(name, unit, f"{r:+.3f}") for name, (unit, r) in found.items()])
    (out_dir / "activations.html").write_text(colour_html(text[:1500], activations, found),
                                              encoding="utf-8")
    shown = slice(0, min(600, len(text)))
    fig, axes = plt.subplots(len(found), 1, figsize=(12, 2.4 * len(found)), squeeze=False)
    for ax, (name, (unit, r)) in zip(axes[:, 0], found.items()):
        ax.plot(activations[shown, unit], label=f"unit {unit} (r = {r:+.2f})")
        ax.plot(properties[name][shown] / max(properties[name][shown].max(), 1),
                label=f"{name} (scaled)", alpha=0.7)
        ax.set_title(f"{name}: best unit {unit}")
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("character")
    fig.tight_layout()
    fig.savefig(out_dir / "activations.png", dpi=100)
    plt.close(fig)
    return {"best": {name: {"unit": u, "r": r} for name, (u, r) in found.items()},
            "characters": len(text), "model": str(model_dir)}
