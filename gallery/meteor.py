"""METEOR (Denkowski & Lavie 2014) through the jar the ``pycocoevalcap`` wheel ships, run
with Java, as the captioning papers report it; optional: without Java or the wheel the
score is ``None`` with the reason."""

import importlib.util
import shutil

from gallery.metrics import caption_tokens


def meteor(captions, references):
    """``(score 0–100 or None, why it is None)`` of ``captions`` against their lists of
    ``references``, each written as ``gallery.metrics.caption_tokens`` splits it
    (lower-cased, punctuation removed), as for BLEU."""
    if shutil.which("java") is None:
        return None, "METEOR needs Java (java is not on PATH)"
    if importlib.util.find_spec("pycocoevalcap") is None:
        return None, "METEOR needs the pycocoevalcap wheel (pip install pycocoevalcap)"
    from pycocoevalcap.meteor.meteor import Meteor

    def words(text):
        return " ".join(caption_tokens(text))

    gts = {i: [words(r) for r in refs] for i, refs in enumerate(references)}
    res = {i: [words(c)] for i, c in enumerate(captions)}
    score, _ = Meteor().compute_score(gts, res)
    return round(100 * float(score), 2), None
