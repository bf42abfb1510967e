"""Users' files saved by Windows tools: a UTF-8 byte-order mark and CRLF line ends
are read like plain UTF-8 files by every reader of user data; UTF-16 and UTF-32 are
read by their byte-order mark, in files and on stdin."""

import codecs
import gzip
import io

import numpy as np
import pytest

from gallery.data.files import stream_lines, text_lines
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


#: The byte-order marks of UTF-16 and UTF-32 (Python's "utf-16"/"utf-32" write the
#: machine's order; both orders are written here). UTF-32-LE's mark starts with
#: UTF-16-LE's: read as UTF-16, "caf\u00e9" would come out as "c\x00a\x00...".
WIDE = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE, "utf-32-be": codecs.BOM_UTF32_BE}


def wide(encoding, lines):
    return WIDE[encoding] + "".join(line + "\r\n" for line in lines).encode(encoding)


@pytest.mark.parametrize("encoding", WIDE)
def test_wide_encodings_by_their_mark(tmp_path, encoding):
    """Files (plain and .gz) and stdin in UTF-16 or UTF-32 with a byte-order mark read
    like UTF-8 files."""
    lines = ["text\tlabel", "caf\u00e9 \U0001f600 film\tpos", "dull\tneg"]
    (tmp_path / "mine.tsv").write_bytes(wide(encoding, lines))
    data = read_labelled_file(tmp_path / "mine.tsv")
    assert data.texts == ["caf\u00e9 \U0001f600 film", "dull"] and data.labels == ["pos", "neg"]
    with gzip.open(tmp_path / "mine.txt.gz", "wb") as handle:
        handle.write(wide(encoding, lines))
    assert list(text_lines(tmp_path / "mine.txt.gz")) == lines
    assert list(stream_lines(io.BytesIO(wide(encoding, lines)))) == lines


def test_classic_mac_line_ends_in_csv(tmp_path):
    """A lone "\\r" ends a CSV record, as the csv module reads a file (old Mac tools)."""
    (tmp_path / "mac.csv").write_bytes(b'text,label\rgood film,pos\r"two\rlines",neg\r')
    data = read_labelled_file(tmp_path / "mac.csv")
    assert data.texts == ["good film", "two\rlines"] and data.labels == ["pos", "neg"]
