"""Lesson: what single cells of a trained recurrent network track, and an explorer.

For a trained run (``charlm``; ``sentiment``; ``translation``: its encoder), read a
stretch of held-out text and record every unit's activation ``h_t`` (the top
recurrent layer's output) at every step (``lessons.explorer.traces``). Then, for
properties known at each step (``lessons.explorer.properties``): for Python source
read by ``charlm``

* ``quote``: inside a string literal (1) or not (0),
* ``bracket depth``: how many ``( [ {`` are open,
* ``indentation``: the current line's leading spaces (÷ 4),

and for other runs the position in the sequence and digits (characters) or negation
scope (words), find the unit whose activation correlates best (Pearson's r, either
sign) with the property.

Writes ``activations.html``, an LSTMVis-style explorer (``lessons.explorer``): the
text coloured by any cell, span selection with a threshold, the selected cells, the
places where they turn on again, their traces around the selection, and the findings
above as ready-made hypotheses; and ``activations.png`` (the best units' traces
against the properties).
"""

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .common import print_table  # noqa: E402
from .explorer import hypotheses as hyp  # noqa: E402
from .explorer import page  # noqa: E402
from .explorer.properties import (  # noqa: E402, F401 (text_properties: public)
    LEVELS,
    best_units,
    text_properties,
    token_properties,
)
from .explorer.rules import quantise  # noqa: E402
from .explorer.traces import trace_run  # noqa: E402

SUMMARY = "which cells track quotes, brackets, indents; an LSTMVis-style explorer page"
PROPERTIES = ("quote", "bracket depth", "indentation")
STEPS = {"chars": 4000, "words": 1000}  # held-out steps read (characters or words)


def properties_of(trace):
    """Python-source properties for a character stream, token properties otherwise."""
    if trace.stream:
        return text_properties("".join(trace.tokens))
    return token_properties(trace.tokens, trace.ends, trace.kind)


def plot_units(path, trace, activations, properties, found, shown=600):
    shown = slice(0, min(shown, len(trace.tokens)))
    fig, axes = plt.subplots(len(found), 1, figsize=(12, 2.4 * len(found)), squeeze=False)
    for ax, (name, (unit, r)) in zip(axes[:, 0], found.items()):
        ax.plot(activations[shown, unit], label=f"unit {unit} (r = {r:+.2f})")
        ax.plot(properties[name][shown] / max(properties[name][shown].max(), 1),
                label=f"{name} (scaled)", alpha=0.7)
        ax.set_title(f"{name}: best unit {unit}")
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def newest_charlm_run(root="runs"):
    """The newest ``root/charlm*`` run folder, or a one-line error saying how to make one."""
    from gallery.errors import GalleryError

    runs = sorted(pathlib.Path(root).glob("charlm*/model.keras"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise GalleryError("the activations lesson needs a trained model: run "
                           "`gallery train charlm` (or `gallery lesson charlm`) first, "
                           "or pass --model RUN (a charlm, sentiment or translation run)")
    return runs[-1].parent


def print_matches(trace, checks, on):
    """Per example span: its cells, and how many of its matches lie inside each property."""
    if not checks:
        return
    gap = " " if trace.kind == "words" else ""
    rows = []
    for name, check in checks.items():
        s, e = check["span"]
        rows.append([name, repr(gap.join(trace.tokens[s:e]))[:40], len(check["cells"]),
                     len(check["matches"])]
                    + [f"{check['inside'][p]} ({check['base_rate'][p]:.0%})" for p in on])
    print("match view of each example span: how many of its matches lie inside each "
          "property (in brackets: the share of all spans of that length that do)", flush=True)
    print_table(["example", "span", "cells", "matches", *on], rows)


def run(out_dir, model=None, steps=None, verbose=True):
    """``model``: a trained charlm, sentiment or translation run folder (default: the
    newest ``runs/charlm*``); ``steps``: held-out steps to read (default ``STEPS``)."""
    from gallery.runs import load_run

    model_dir = model or newest_charlm_run()
    task, config, model, meta = load_run(model_dir)
    trace = trace_run(task, config, model, meta, {kind: steps or n for kind, n in STEPS.items()})
    properties = properties_of(trace)
    found = best_units(trace.activations, properties)
    q, scale = quantise(trace.activations)
    hypotheses = hyp.hypotheses(q, trace.activations, properties, found)
    on = {name: properties[name] >= level for name, level in LEVELS.items()
          if name in properties}
    checks = {h["name"]: hyp.match_quality(q, h, on) for h in hypotheses
              if h["start"] is not None}
    if verbose:
        print_table(["property", "best-correlated unit", "r", "rule cell", "selected over",
                     "threshold"],
                    [(h["name"], found[h["name"]][0], f"{found[h['name']][1]:+.3f}")
                     + ((h["unit"], f"{h['selected']}/{h['spans']} spans",
                         f"h {'≥' if h['sign'] > 0 else '≤'} "
                         f"{h['sign'] * h['threshold'] * scale / 127:+.2f}")
                        if "selected" in h else ("-", "-", "-")) for h in hypotheses])
        print_matches(trace, checks, on)
    title = f"Hidden states of a {task.name} model"
    about = (f"{trace.layer}; {len(trace.tokens)} held-out {trace.kind} from "
             f"{meta.get('source', '?')}; {q.shape[1]} cells, int8 (scale {scale:.3f}); "
             f"model {model_dir}")
    html_text = page.explorer_html(trace, q, scale, hypotheses, title, about)
    (out_dir / "activations.html").write_text(html_text, encoding="utf-8")
    plot_units(out_dir / "activations.png", trace, trace.activations, properties, found)
    if verbose:
        print(f"explorer page: {out_dir / 'activations.html'} "
              f"({len(html_text.encode()):,} bytes)", flush=True)
    return {"best": {name: {"unit": u, "r": r} for name, (u, r) in found.items()},
            "steps": len(trace.tokens), "kind": trace.kind, "task": task.name,
            "page_bytes": len(html_text.encode()), "hypotheses": hypotheses,
            "matches": checks, "model": str(model_dir)}
