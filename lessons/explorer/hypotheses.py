"""The page's ready-made hypotheses, and how well the match view confirms them.

For each property with a level (``properties.LEVELS``), the short stretches where it
turns on (runs of ``property ≥ level``, 2 to 20 steps, after step 0) are natural
selections. The
*rule cell* is the cell the select rule picks over the most of them, searched over a
few thresholds ``ℓ`` and both signs (a cell can mark a property by going down); the
hypothesis is that cell, its sign and ``ℓ``, and the first of those stretches that
selects it. Properties without a level (``position``) get their best-correlated cell
to colour the text by.
"""

import numpy as np

from .properties import LEVELS, correlations
from .rules import find_matches, select_cells

#: Thresholds searched, in quantised units (0 to 80 of 127: 0 to 0.63 of the scale).
THRESHOLDS = (0, 16, 32, 48, 64, 80)
SHORTEST, LONGEST = 2, 20


def runs_of(on):
    """``[(start, end)]`` of the maximal runs of ``True`` in ``on (T,)``."""
    edges = np.diff(np.r_[0, np.asarray(on, np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def rule_cell(q, on):
    """``{"unit", "sign", "threshold", "start", "end", "selected", "spans"}``: the cell
    selected over the most short runs of ``on`` (ties: higher ``ℓ``, then sign +1,
    then the lower cell), with the first run that selects it; ``None`` if none is."""
    # A run from step 0 has no step before it: the rule would keep every cell that is on.
    spans = [(s, e) for s, e in runs_of(on) if SHORTEST <= e - s <= LONGEST and s > 0]
    best, q = None, np.asarray(q, np.int32)
    for sign in (1, -1):
        for threshold in THRESHOLDS:
            counts, first = np.zeros(q.shape[1], int), {}
            for s, e in spans:
                for cell in select_cells(sign * q, s, e, threshold):
                    counts[cell] += 1
                    first.setdefault(cell, (s, e))
            cell = int(np.argmax(counts))
            key = (int(counts[cell]), threshold, sign)
            if counts[cell] and (best is None or key > best[0]):
                best = (key, {"unit": cell, "sign": sign, "threshold": threshold,
                              "start": first[cell][0], "end": first[cell][1],
                              "selected": int(counts[cell]), "spans": len(spans)})
    return best and best[1]


def hypotheses(q, activations, properties, found):
    """Per property: the rule cell and its example span, or (no level, or no cell
    selected) the best-correlated cell of ``found`` to colour the text by. The
    hypothesis whose cell is selected over the largest share of its spans is marked
    ``"initial"``: the page opens on it."""
    out = []
    for name, (unit, r) in found.items():
        level = LEVELS.get(name)
        rule = None if level is None else rule_cell(q, properties[name] >= level)
        if rule is None:
            note = (f"{name} does not vary in this text." if np.ptp(properties[name]) == 0
                    else "The best-correlated cell; colour the text by it.")
            out.append({"name": name, "unit": unit, "r": round(r, 4), "sign": 1 if r >= 0
                        else -1, "note": note, "start": None, "end": None, "threshold": None})
            continue
        rule_r = float(correlations(activations, properties[name])[rule["unit"]])
        note = (f"On over {rule['selected']}/{rule['spans']} short spans where {name} ≥ "
                f"{level} (off before). Best-correlated: cell {unit}, r = {r:+.2f}.")
        out.append({"name": name, **rule, "r": round(rule_r, 4), "note": note})
    shown = [h for h in out if "selected" in h]
    if shown:  # the page opens on the most consistent one
        max(shown, key=lambda h: h["selected"] / h["spans"])["initial"] = True
    return out


def inside_rate(on, length):
    """The fraction of all spans of ``length`` steps that lie inside ``on (T,)``: how
    often a match placed at random would lie inside the property (the rate to beat)."""
    sums = np.convolve(np.asarray(on, np.int64), np.ones(length, np.int64), mode="valid")
    return float(np.mean(sums == length)) if len(sums) else 0.0


def match_quality(q, hypothesis, on, after=False):
    """For a hypothesis with a span: its selected cells, its matches, and for each
    property ``on[name] (T,)`` how many matches lie where it holds at every step, and
    :func:`inside_rate` for spans of the selection's length."""
    v = hypothesis["sign"] * np.asarray(q, np.int32)
    start, end, threshold = hypothesis["start"], hypothesis["end"], hypothesis["threshold"]
    cells = select_cells(v, start, end, threshold, after)
    matches = find_matches(v, cells, start, end, threshold, after)
    return {"span": [start, end], "threshold": threshold, "cells": cells,
            "matches": [list(m) for m in matches],
            "inside": {name: sum(bool(np.asarray(x)[s:s + n].all()) for s, n, _ in matches)
                       for name, x in on.items()},
            "base_rate": {name: inside_rate(x, end - start) for name, x in on.items()}}
