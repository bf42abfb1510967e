"""METEOR (Denkowski & Lavie 2014) through the jar the ``pycocoevalcap`` wheel ships, run
with Java, as the captioning papers report it; optional: without Java or the wheel the
score is ``None`` with the reason."""

import importlib.util
import shutil


def meteor(captions, references):
    """``(score 0–100 or None, why it is None)`` of ``captions`` against their lists of
    ``references`` (lower-cased, as coco-caption feeds them)."""
    if shutil.which("java") is None:
        return None, "METEOR needs Java (java is not on PATH)"
    if importlib.util.find_spec("pycocoevalcap") is None:
        return None, "METEOR needs the pycocoevalcap wheel (pip install pycocoevalcap)"
    from pycocoevalcap.meteor.meteor import Meteor

    gts = {i: [r.lower() for r in refs] for i, refs in enumerate(references)}
    res = {i: [c.lower() or "a"] for i, c in enumerate(captions)}
    score, _ = Meteor().compute_score(gts, res)
    return round(100 * float(score), 2), None
