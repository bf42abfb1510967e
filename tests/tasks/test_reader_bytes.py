"""Random bytes given to every reader of users' files: rows or a ``GalleryError``,
never another exception (hypothesis); large inputs are streamed."""

import gzip
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gallery.data.files import load_npy
from gallery.data.text import read_labelled_file
from gallery.errors import GalleryError
from rnn_gallery.tasks.captioning.config import CaptioningConfig
from rnn_gallery.tasks.captioning.data import _read_folder
from rnn_gallery.tasks.charlm.data import read_text_file
from rnn_gallery.tasks.frame_tagging.data import read_stream_csv
from rnn_gallery.tasks.translation.config import TranslationConfig
from rnn_gallery.tasks.translation.data import load_parallel_folder

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
#: Random bytes, often built from the characters that matter to a reader.
BYTES = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"text", b"label", b",", b";", b"\t", b"|", b'"', b"\n",
                              b"\r", b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", b"1", b"2,5",
                              b"nan", b"-", b"e9", b"\x1b[31m", b"\xe2\x80\xa8", b"x" * 5000]),
             max_size=60).map(b"".join))


def accepts_or_refuses(read, *args):
    """``read(*args)`` returns, or raises ``GalleryError``; anything else fails the test."""
    try:
        return read(*args)
    except GalleryError:
        return None


@SETTINGS
@given(content=BYTES, suffix=st.sampled_from([".csv", ".tsv"]))
def test_labelled_text_files(tmp_path, content, suffix):
    path = tmp_path / f"data{suffix}"
    path.write_bytes(content)
    data = accepts_or_refuses(read_labelled_file, path)
    if data is not None:
        assert len(data.texts) == len(data.labels) > 0
        assert all(label and label == label.strip() for label in data.labels)


@SETTINGS
@given(content=BYTES, labelled=st.booleans())
def test_stream_csv_files(tmp_path, content, labelled):
    path = tmp_path / "stream.csv"
    path.write_bytes(content)
    result = accepts_or_refuses(read_stream_csv, path, labelled)
    if result is not None:
        frames, labels = result
        assert frames.dtype == np.float32 and frames.ndim == 2
        assert labels is None or len(labels) == len(frames)


@SETTINGS
@given(content=BYTES, header=st.sampled_from([b"", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00"]),
       claim=st.sampled_from(["{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 3), }",
                              "{'descr': '|O', 'fortran_order': False, 'shape': (%d,), }",
                              "{'descr': '<c8', 'fortran_order': False, 'shape': (%d,), }"]),
       rows=st.sampled_from([0, 1, 10**12]))
def test_npy_files(tmp_path, content, header, claim, rows):
    """Random bytes, and headers that claim any shape (a few bytes must not allocate
    a terabyte) or pickled objects."""
    path = tmp_path / "stream.npy"
    text = (claim % rows).encode()
    if header.endswith(b"\x01\x00"):
        header += len(text).to_bytes(2, "little") + text
    elif header:
        header += len(text).to_bytes(4, "little") + text
    path.write_bytes(header + content)
    array = accepts_or_refuses(load_npy, path)
    if array is not None:
        assert array.dtype.kind in "biuf"


@SETTINGS
@given(source=BYTES, target=BYTES, compressed=st.booleans(), corrupt=st.booleans())
def test_parallel_text_files(tmp_path, source, target, compressed, corrupt):
    for lang, content in (("en", source), ("de", target)):
        if compressed:
            content = gzip.compress(content)
            content = content[: len(content) // 2] if corrupt else content
        (tmp_path / f"train.{lang}{'.gz' if compressed else '.txt'}").write_bytes(content)
        for other in ("train.en.txt", "train.de.txt", "train.en.gz", "train.de.gz"):
            if other.endswith(".gz") != compressed:
                (tmp_path / other).unlink(missing_ok=True)
    config = TranslationConfig(source_lang="en", target_lang="de")
    accepts_or_refuses(load_parallel_folder, tmp_path, config)


@SETTINGS
@given(listing=BYTES, image=BYTES)
def test_caption_folders(tmp_path, listing, image):
    (tmp_path / "captions.tsv").write_bytes(listing)
    for name in ("a.png", "1", "text"):
        (tmp_path / name).write_bytes(image)
    config = CaptioningConfig(height=8, width=16)
    result = accepts_or_refuses(_read_folder, tmp_path, config)
    if result is not None:
        assert result.images.shape[1:] == (8, 16, 1) and len(result.captions) >= 3


@SETTINGS
@given(content=BYTES, max_chars=st.integers(1, 20_000))
def test_character_model_text(tmp_path, content, max_chars):
    path = tmp_path / "code.txt"
    path.write_bytes(content * 20)
    text = accepts_or_refuses(read_text_file, path, max_chars)
    assert text is None or 2000 <= len(text) <= max_chars


def test_decompression_bomb_image_is_one_line(tmp_path):
    """A 15000 x 12500 PNG header in a few bytes: refused before it is decoded."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 15000, 12500, 8, 0,
                                                            0, 0, 0)) + chunk(b"IEND", b""))
    (tmp_path / "big.png").write_bytes(png)
    (tmp_path / "captions.tsv").write_text("big.png\tone two\n" * 3)
    with pytest.raises(GalleryError, match="big.png has more than 89,478,485 pixels"):
        _read_folder(tmp_path, CaptioningConfig())


def test_a_folder_where_a_file_is_expected(tmp_path):
    folder = tmp_path / "reviews.csv"
    folder.mkdir()
    with pytest.raises(GalleryError, match="reviews.csv is a folder; expected a file"):
        read_labelled_file(folder)
    with pytest.raises(GalleryError, match="is a folder"):
        read_text_file(folder, 5000)


MEASURE = """
import resource, sys
from rnn_gallery.tasks.charlm.data import read_text_file
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
text = read_text_file(sys.argv[1], 1_200_000)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(text), (after - before) // 1024)
"""


def test_character_model_reads_only_max_chars_of_a_big_file(tmp_path):
    """A 1 GB file (sparse: no disk used) with max_chars 1.2 M: the reader's peak memory
    grows by a few MB, not by the file (reading it whole needed > 1 GB)."""
    path = tmp_path / "big.txt"
    with open(path, "wb") as handle:
        handle.write(b"def f(x):\n    return x\n" * 100)
        handle.truncate(2**30)
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr[-2000:]
    chars, grown_mb = map(int, out.stdout.split())
    assert chars == 1_200_000 and grown_mb < 64, grown_mb
