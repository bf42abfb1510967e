"""Users' files saved by Windows tools: a UTF-8 byte-order mark and CRLF line ends
are read like plain UTF-8 files by every reader of user data."""

import numpy as np

from gallery.data.text import read_labelled_file
from rnn_gallery.tasks.charlm.data import read_text_file
from rnn_gallery.tasks.frame_tagging.data import read_stream_csv
from rnn_gallery.tasks.translation.data import read_lines

BOM = "\ufeff"


def write(path, lines):
    path.write_bytes((BOM + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def test_labelled_text_file(tmp_path):
    data = read_labelled_file(write(tmp_path / "mine.csv", ["text,label", "good film,pos",
                                                            "bad film,neg"]))
    assert data.texts == ["good film", "bad film"] and data.labels == ["pos", "neg"]


def test_parallel_text_lines(tmp_path):
    assert read_lines(write(tmp_path / "train.de", ["ein Hund", "eine Katze"])) == [
        "ein Hund", "eine Katze"]


def test_stream_csv_with_and_without_a_header(tmp_path):
    frames, labels = read_stream_csv(write(tmp_path / "a.csv", ["1,2,walk", "3,4,run"]),
                                     labelled=True)
    np.testing.assert_array_equal(frames, [[1, 2], [3, 4]])
    assert list(labels) == ["walk", "run"]
    frames, _ = read_stream_csv(write(tmp_path / "b.csv", ["x,y", "1,2"]))
    np.testing.assert_array_equal(frames, [[1, 2]])


def test_character_model_text(tmp_path):
    text = read_text_file(write(tmp_path / "t.txt", ["abc " * 600]), max_chars=10_000)
    assert text.startswith("abc") and BOM not in text


def test_captions_listing(tmp_path):
    from conftest import write_caption_folder

    from gallery.config import apply_overrides
    from rnn_gallery.tasks.captioning.config import CaptioningConfig
    from rnn_gallery.tasks.captioning.data import load_captioning_data

    folder = tmp_path / "mine"
    data = write_caption_folder(folder, count=20)
    listing = folder / "captions.tsv"
    write(listing, listing.read_text().splitlines())
    splits = load_captioning_data(apply_overrides(CaptioningConfig(), []), str(folder))
    captions = splits.train.captions + splits.validation.captions + splits.test.captions
    assert sorted(captions) == sorted(data.captions)
