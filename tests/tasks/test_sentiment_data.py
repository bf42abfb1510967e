"""Sentiment data sources: the embedded corpus, users' files, TFDS (mocked)."""

import pytest

from gallery.data.text import read_labelled_file
from gallery.errors import GalleryError
from rnn_gallery.tasks.sentiment.data import load_sentiment_data, rotten_tomatoes


def test_embedded_rotten_tomatoes_counts_and_fixed_split():
    corpus = rotten_tomatoes()
    assert corpus.labels.count("positive") == 7403 and corpus.labels.count("negative") == 5405
    splits = load_sentiment_data(None)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (10246, 1281, 1281)
    again = load_sentiment_data("default")
    assert again.test.texts == splits.test.texts  # the same split every time
    assert splits.meta["labels"] == ["negative", "positive"]


def test_user_file_with_string_and_numeric_labels(tmp_path):
    path = tmp_path / "mine.csv"
    rows = ["text,label"] + [f'"review number {i}, quoted",{i % 2}' for i in range(40)]
    path.write_text("\n".join(rows))
    splits = load_sentiment_data(str(path))
    assert splits.meta["labels"] == ["0", "1"]
    assert len(splits.train) + len(splits.validation) + len(splits.test) == 40
    assert splits.train.texts[0].startswith("review number")


@pytest.mark.parametrize("content,message", [
    ("words,stars\nhello,1\n", "missing text, label"),
    ("", "missing text, label"),
    ("text,label\nhello,\n", "no labelled rows"),
    ('text,label\n"unterminated,1\n' + "x" * 10, "no labelled rows|not valid"),
])
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(GalleryError, match=message) as error:
        read_labelled_file(path)
    assert "\n" not in str(error.value)


def test_missing_file_and_wrong_kind(tmp_path):
    with pytest.raises(GalleryError, match="data file not found"):
        load_sentiment_data(str(tmp_path / "nope.tsv"))
    (tmp_path / "data.json").write_text("{}")
    with pytest.raises(GalleryError, match=r"must be \.csv or \.tsv"):
        load_sentiment_data(str(tmp_path / "data.json"))


def test_single_label_file_is_refused(tmp_path):
    path = tmp_path / "one.tsv"
    path.write_text("text\tlabel\n" + "".join(f"t{i}\tpos\n" for i in range(20)))
    with pytest.raises(GalleryError, match="at least two different labels"):
        load_sentiment_data(str(path))


def test_non_utf8_file_is_read_with_replacement(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes(b"text\tlabel\n" + b"".join(b"caf\xe9 %d\tpos\n" % i for i in range(10))
                     + b"".join(b"bad %d\tneg\n" % i for i in range(10)))
    splits = load_sentiment_data(str(path))
    assert any("caf\ufffd" in t for t in splits.train.texts + splits.test.texts
               + splits.validation.texts)


def test_tfds_imdb_loader_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=30):
        splits = load_sentiment_data("tfds:imdb_reviews")
    assert splits.meta["labels"] == ["neg", "pos"]
    assert len(splits.train) + len(splits.validation) == 30 and len(splits.test) == 30
    assert all(isinstance(t, str) for t in splits.train.texts)


def test_unknown_tfds_name_is_one_line():
    with pytest.raises(GalleryError, match="could not load TFDS data set 'no_such_set'"):
        load_sentiment_data("tfds:no_such_set")
