"""Metrics shared by the tasks: exact match, corpus BLEU (sacrebleu; several references:
:func:`multi_reference_bleu`), per-frame scores."""

import collections
import re

import numpy as np
import sacrebleu


def exact_match(hypotheses, references):
    """Fraction of hypotheses equal to their reference (after trimming spaces)."""
    if not references:
        return 0.0
    hits = sum(h.strip() == r.strip() for h, r in zip(hypotheses, references))
    return hits / len(references)


def corpus_bleu(hypotheses, references):
    """sacreBLEU with its default tokenization, one reference per hypothesis (0–100)."""
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


# -- captions against several references (photo captioning) ----------------------------
#: What ``caption_tokens`` removes: Keras ``TextVectorization``'s default punctuation,
#: so the references are split as the model's own words are.
_CAPTION_PUNCTUATION = re.compile(r'[!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~\']')


def caption_tokens(text):
    """A caption's words as the captioning papers score them: lower-cased, punctuation
    removed (``"A dog's ball."`` → ``["a", "dogs", "ball"]``), split on whitespace."""
    return _CAPTION_PUNCTUATION.sub("", text.lower()).split()


def _ngrams(tokens, n):
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def multi_reference_bleu(hypotheses, references, max_n=4):
    """Corpus BLEU-1 … BLEU-``max_n`` (0–100) of token lists against several
    references each (Papineni et al. 2002, as coco-caption computes it):

        p_n = Σ_h Σ_g min(c_h(g), max_r c_r(g)) / Σ_h Σ_g c_h(g)   (clipped n-gram precision)
        BP = min(1, exp(1 − R / C))    C: hypothesis words, R: per hypothesis the
                                       reference length closest to it (the shorter on ties)
        BLEU-N = BP · exp(mean_{n ≤ N} log p_n)

    ``hypotheses``: ``[tokens]``; ``references``: ``[[tokens, ...]]`` aligned. No
    smoothing: a zero precision gives 0."""
    matched, total = np.zeros(max_n), np.zeros(max_n)
    hyp_length = ref_length = 0
    for hypothesis, refs in zip(hypotheses, references):
        hyp_length += len(hypothesis)
        ref_length += min((abs(len(r) - len(hypothesis)), len(r)) for r in refs)[1]
        for n in range(1, max_n + 1):
            counts = _ngrams(hypothesis, n)
            best = collections.Counter()
            for r in refs:
                best |= _ngrams(r, n)
            matched[n - 1] += sum(min(c, best[g]) for g, c in counts.items())
            total[n - 1] += max(len(hypothesis) - n + 1, 0)
    if hyp_length == 0:
        return [0.0] * max_n
    brevity = min(1.0, float(np.exp(1 - ref_length / hyp_length)))
    scores = []
    for n in range(1, max_n + 1):
        p = matched[:n] / np.maximum(total[:n], 1)
        scores.append(0.0 if (p == 0).any() else 100 * brevity * float(np.exp(np.log(p).mean())))
    return scores


# -- per-frame labelling (frame tagging) ------------------------------------------------
def confusion_matrix(true, predicted, classes):
    """``(classes, classes)`` counts; rows are true labels, columns predictions."""
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (np.asarray(true), np.asarray(predicted)), 1)
    return matrix


def macro_f1(matrix):
    """Mean over classes of F1 from a confusion matrix (classes never seen nor predicted
    are left out)."""
    matrix = np.asarray(matrix, np.float64)
    tp = np.diag(matrix)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    present = (support + predicted) > 0
    f1 = np.where(present, 2 * tp / np.maximum(support + predicted, 1), 0.0)
    return float(f1[present].mean()) if present.any() else 0.0


def segments(labels):
    """Runs of equal labels: ``[(label, start, end_exclusive), ...]``."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    cuts = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [labels.size]])
    return [(int(labels[s]), int(s), int(e)) for s, e in zip(starts, ends)]


def segmental_f1(true, predicted, iou=0.5):
    """F1 of predicted segments against true ones (Lea et al. 2017).

    A predicted segment is a hit when it overlaps a not-yet-matched true segment of
    the same label with intersection-over-union ``>= iou``.
    """
    truth, found = segments(true), segments(predicted)
    used, hits = set(), 0
    for label, start, end in found:
        best, best_iou = None, 0.0
        for k, (t_label, t_start, t_end) in enumerate(truth):
            if t_label != label or k in used:
                continue
            inter = max(0, min(end, t_end) - max(start, t_start))
            union = max(end, t_end) - min(start, t_start)
            if inter / union > best_iou:
                best, best_iou = k, inter / union
        if best is not None and best_iou >= iou:
            used.add(best)
            hits += 1
    precision = hits / max(len(found), 1)
    recall = hits / max(len(truth), 1)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
