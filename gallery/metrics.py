"""Sequence metrics shared by the tasks: exact match and corpus BLEU (sacrebleu)."""

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
