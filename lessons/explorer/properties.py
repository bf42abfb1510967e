"""What each step of a text is, for testing hypotheses about single cells.

Properties are arrays ``(T,)`` over the steps of a trace. For Python source read
character by character (``charlm``): :func:`text_properties` (quote, bracket depth,
indentation). For any tokens (:func:`token_properties`): the position in the
sequence, and, for characters, digits; for words, the scope of a negation.
:func:`best_units` finds, per property, the cell whose activation correlates best.
"""

import numpy as np

#: The level at which a property counts as "on" (for example spans and match checks);
#: properties not listed (``position``) have no example span.
LEVELS = {"quote": 1, "bracket depth": 1, "indentation": 1, "digit": 1, "negated": 1}
#: Negation words, as they are or with the apostrophe stripped (``words`` tokens).
NEGATIONS = {"not", "no", "never", "nor", "cannot", "without", "nothing", "hardly", "n't",
             *(w + a + "t" for w in ("isn", "doesn", "don", "didn", "wasn", "aren", "won",
                                     "can", "couldn", "wouldn", "shouldn") for a in ("", "'"))}
NEGATION_SCOPE = 3  # words after a negation that count as negated


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


def correlations(activations, values):
    """Pearson's ``r`` of each unit of ``activations (T, H)`` with ``values (T,)``:
    ``(H,)``; 0 for a unit or property that never changes."""
    a = activations - activations.mean(axis=0)
    v = values - values.mean()
    norms = np.sqrt((a ** 2).sum(axis=0)) * np.sqrt((v ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, (a * v[:, None]).sum(axis=0) / norms, 0.0)


def best_units(activations, properties):
    """For each property, ``(unit, r)`` with the largest ``|r|``.

    ``activations (T, H)``; ``properties {name: (T,)}``. Units or properties that
    never change have no correlation (r = 0).
    """
    found = {}
    for name, values in properties.items():
        r = correlations(activations, values)
        unit = int(np.argmax(np.abs(r)))
        found[name] = (unit, float(r[unit]))
    return found


def token_properties(tokens, ends, kind):
    """``{name: (T,)}`` for tokens of sequences ending at the indices ``ends``.

    ``position``: steps since the sequence's start (0, 1, 2, ...). With ``kind``
    ``"chars"``: ``digit`` (1 on 0-9); with ``"words"``: ``negated`` (1 on a negation
    word and the ``NEGATION_SCOPE`` words after it, cut at punctuation or a sequence end).
    """
    position, marked = np.zeros(len(tokens)), np.zeros(len(tokens))
    since, left, ends = 0, 0, set(ends)
    for i, token in enumerate(tokens):
        position[i] = since
        if kind == "chars":
            marked[i] = token.isdigit()
        else:
            left = NEGATION_SCOPE + 1 if token.lower() in NEGATIONS else left
            left = 0 if token in ".,;:!?" else left
            marked[i], left = left > 0, max(left - 1, 0)
        since = 0 if i in ends else since + 1
        left = 0 if i in ends else left
    return {"position": position, ("digit" if kind == "chars" else "negated"): marked}
