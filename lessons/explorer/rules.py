"""The LSTMVis select and match rules, on activations quantised to int8.

Both rules work on integers ``q (T, H)`` (``T`` steps, ``H`` cells) and an integer
threshold ``ℓ`` in the same units, so that this module and the page's JavaScript
(``page.js``, functions ``selectCells`` and ``findMatches``) give identical answers.
A cell is *on* at step ``t`` when ``q[t, c] ≥ ℓ``.

**Select.** For a span ``[s, e)`` the hypothesis is the set of cells that are on at
every step of the span and off just before it::

    C = { c : q[t, c] ≥ ℓ for s ≤ t < e,  and (s = 0 or q[s−1, c] < ℓ) }

and, with ``after``, also off just after it: ``(e = T or q[e, c] < ℓ)``.

**Match.** Other places where the cells of ``C`` turn on together for about the same
length ``L = e − s``. A place is a start ``s'`` and a length ``L'`` with
``|L' − L| ≤ d``, ``d = max(1, ⌊L/4⌋)``, ``L' ≥ 1``; its score is how many cells of
``C`` satisfy the select rule on ``[s', s' + L')``. Each start keeps its best length
(highest score; then closest to ``L``; then the shorter). Places with score ≥ 1,
other than ``s' = s``, are ranked by score (high first), then ``|L' − L|``, then
``s'``; the first ``top`` are returned as ``(start, length, score)``.
"""

import numpy as np

INT8_MAX = 127


def quantise(activations):
    """``(T, H)`` floats → ``(q int8 (T, H), scale)`` with ``a ≈ q · scale / 127``.

    One scale for all cells (``max |a|``), so one threshold means the same for each.
    """
    activations = np.asarray(activations, np.float32)
    scale = float(np.abs(activations).max()) if activations.size else 0.0
    scale = scale if scale > 0 else 1.0
    q = np.clip(np.rint(activations / scale * INT8_MAX), -INT8_MAX, INT8_MAX)
    return q.astype(np.int8), scale


def select_cells(q, start, end, threshold, after=False):
    """Sorted cell indices selected by the span ``[start, end)`` at ``threshold``."""
    q = np.asarray(q, np.int32)
    if not 0 <= start < end <= len(q):
        return []
    keep = (q[start:end] >= threshold).all(axis=0)
    if start > 0:
        keep &= q[start - 1] < threshold
    if after and end < len(q):
        keep &= q[end] < threshold
    return np.flatnonzero(keep).tolist()


def run_starts(on):
    """``on (T,)`` bool → ``{start: length}`` of its maximal runs of ``True``."""
    on = np.asarray(on, bool)
    edges = np.diff(np.r_[0, on.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return dict(zip(starts.tolist(), (ends - starts).tolist()))


def find_matches(q, cells, start, end, threshold, after=False, top=20):
    """``[(start, length, score)]``: where the cells turn on again (rule above)."""
    length = end - start
    if not cells or length < 1:
        return []
    slack = max(1, length // 4)
    lengths = range(max(1, length - slack), length + slack + 1)
    q = np.asarray(q, np.int32)
    runs = {}  # start → run lengths of the cells that turn on there
    for cell in cells:
        for s, n in run_starts(q[:, cell] >= threshold).items():
            runs.setdefault(s, []).append(n)
    places = []
    for s, ns in runs.items():
        if s == start:
            continue
        ns = np.asarray(ns)
        scores = [int((ns == n).sum() if after else (ns >= n).sum()) for n in lengths]
        best = max(lengths, key=lambda n: (scores[n - lengths[0]], -abs(n - length), -n))
        score = scores[best - lengths[0]]
        if score:
            places.append((s, best, score))
    places.sort(key=lambda p: (-p[2], abs(p[1] - length), p[0]))
    return places[:top]
