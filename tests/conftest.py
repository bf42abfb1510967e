"""Test set-up: quiet TensorFlow, fixed seeds, the shared data folder."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402

SHARED_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture
def shared_data():
    """``../shared/data`` or a clean skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


POSITIVE = ["great", "wonderful", "superb", "moving", "brilliant", "charming", "delightful"]
NEGATIVE = ["awful", "boring", "dull", "terrible", "weak", "tedious", "clumsy"]
FILLER = ["the", "film", "was", "plot", "acting", "story", "really", "quite", "and", "its"]


def write_review_file(path, rows=240, seed=0, labels=("neg", "pos"), delimiter="\t"):
    """A small, learnable labelled-text file: the label follows the sentiment words."""
    import random

    rng = random.Random(seed)
    lines = [f"text{delimiter}label"]
    for _ in range(rows):
        good = rng.random() < 0.5
        words = rng.sample(FILLER, 4) + rng.sample(POSITIVE if good else NEGATIVE, 2)
        rng.shuffle(words)
        lines.append(f"{' '.join(words)}{delimiter}{labels[1] if good else labels[0]}")
    path.write_text("\n".join(lines) + "\n")
    return path


TINY_SENTIMENT = ["epochs=3", "units=8", "embedding_dim=8", "max_tokens=200",
                  "extend_vocabulary=false", "batch_size=16", "learning_rate=0.01",
                  "dropout=0.0", "patience=5"]


@pytest.fixture(scope="session")
def tiny_sentiment_run(tmp_path_factory):
    """A small sentiment model trained through the CLI on a synthetic file."""
    from gallery.cli import main

    folder = tmp_path_factory.mktemp("sentiment")
    data = write_review_file(folder / "reviews.tsv")
    run = folder / "run"
    args = ["train", "sentiment", "--data", str(data), "--out", str(run)]
    for item in TINY_SENTIMENT:
        args += ["--set", item]
    assert main(args) == 0
    return run
