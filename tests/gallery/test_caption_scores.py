"""Multi-reference BLEU against sacreBLEU, the caption tokenization, METEOR's skip."""

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from gallery import meteor as meteor_module
from gallery.metrics import caption_tokens, multi_reference_bleu

HYPOTHESES = ["a dog runs on the grass", "two men play football in a park", "a child",
              "the man is riding a red bike down the road"]
REFERENCES = [["a dog is running on grass", "the dog runs on the green grass"],
              ["two men are playing soccer", "men play football in the park"],
              ["a small child smiles", "a kid"],
              ["a man rides a bike", "a cyclist on a road"]]


def test_caption_tokens_lower_case_and_drop_punctuation():
    assert caption_tokens("A dog's ball, a T-shirt.  OK!") == ["a", "dogs", "ball", "a",
                                                              "tshirt", "ok"]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_bleu_matches_sacrebleu_with_several_references(order):
    ours = multi_reference_bleu([caption_tokens(h) for h in HYPOTHESES],
                                [[caption_tokens(r) for r in refs] for refs in REFERENCES])
    theirs = BLEU(tokenize="none", max_ngram_order=order, smooth_method="none").corpus_score(
        HYPOTHESES, [list(column) for column in zip(*REFERENCES)]).score
    assert ours[order - 1] == pytest.approx(theirs, abs=1e-9)


def test_bleu_brevity_uses_the_closest_reference_and_a_perfect_match_scores_100():
    refs = [[["a", "b", "c", "d"], ["a", "b", "c", "d", "e", "f", "g"]]]
    assert multi_reference_bleu([["a", "b", "c", "d"]], refs) == [100.0] * 4
    short = multi_reference_bleu([["a", "b", "c"]], refs)[0]
    assert short == pytest.approx(100 * np.exp(1 - 4 / 3))  # closest reference: 4 words
    assert multi_reference_bleu([[]], refs) == [0.0] * 4


def test_meteor_without_the_wheel_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.setattr(meteor_module.shutil, "which", lambda name: "/usr/bin/java")
    monkeypatch.setattr(meteor_module.importlib.util, "find_spec", lambda name: None)
    score, why = meteor_module.meteor(["a dog"], [["a dog"]])
    assert score is None and "pycocoevalcap" in why
