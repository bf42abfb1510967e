"""Property-based tests of the readers of users' files (hypothesis).

Rows written in every way a user's tools write them (delimiters, quoting, line ends,
encodings, huge fields) read back exactly; random bytes give rows or a
``GalleryError``, never another exception.
"""

import csv
import io
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gallery.data.files import text_lines
from gallery.data.text import read_labelled_file
from gallery.errors import GalleryError
from rnn_gallery.tasks.frame_tagging.data import read_stream_csv

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
CHARS = st.characters(codec="utf-8")  # any character a file can hold (no lone surrogates)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"])
ENDINGS = st.sampled_from(["\n", "\r\n"])
#: Short texts, and now and then one huge field (a novel in one cell; at most 1 MB in
#: UTF-8, within the longest record a reader accepts, gallery.data.files.DATA_LINES).
TEXTS = st.one_of(st.text(CHARS, max_size=30),
                  st.builds(lambda c, n: c * n, CHARS, st.integers(0, 250_000)))
LABELS = st.text(CHARS, min_size=1, max_size=8).map(str.strip).filter(bool)


def without(chars, strategy):
    return strategy.map(lambda text: "".join(c for c in text if c not in chars))


@SETTINGS
@given(rows=st.lists(st.tuples(TEXTS, LABELS), max_size=6),
       delimiter=st.sampled_from([",", ";", "\t", "|"]),
       quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
       ending=ENDINGS, encoding=ENCODINGS, text_first=st.booleans())
def test_csv_rows_read_back_exactly(tmp_path, rows, delimiter, quoting, ending, encoding,
                                    text_first):
    if ending == "\n":  # csv.writer quotes a lone "\r" only when it ends its lines
        rows = [(t.replace("\r", ""), label.replace("\r", "").strip() or "x")
                for t, label in rows]
    order = (lambda a, b: [a, b]) if text_first else (lambda a, b: [b, a])
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=ending)
    writer.writerows([order("text", "label"), *(order(t, label) for t, label in rows)])
    path = tmp_path / "data.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    if not rows:
        with pytest.raises(GalleryError, match="no labelled rows"):
            read_labelled_file(path)
        return
    data = read_labelled_file(path)
    assert data.texts == [t for t, _ in rows] and data.labels == [label for _, label in rows]


@SETTINGS
@given(rows=st.lists(st.tuples(without("\t\r\n", TEXTS), without("\t\r\n", LABELS)
                               .map(str.strip).filter(bool)), min_size=1, max_size=6),
       ending=ENDINGS, encoding=ENCODINGS)
def test_tsv_is_tabs_and_nothing_else(tmp_path, rows, ending, encoding):
    """Quotes are text in a .tsv (an unclosed ``"`` must not swallow the next rows)."""
    rows = [('"' + text, label) for text, label in rows[:1]] + rows[1:]
    lines = ["text\tlabel", *(f"{text}\t{label}" for text, label in rows)]
    path = tmp_path / "data.tsv"
    path.write_bytes(ending.join(lines).encode(encoding))
    data = read_labelled_file(path)
    assert data.texts == [t for t, _ in rows] and data.labels == [label for _, label in rows]


def test_the_issue_tsv_with_an_unclosed_quote(tmp_path):
    path = tmp_path / "reviews.tsv"
    path.write_text('text\tlabel\nsuperb acting\tpositive\n"the best film ever\tpositive\n'
                    'dull and boring\tnegative\na "moving" story\tpositive\n'
                    'terrible plot\tnegative\nweak\tnegative\n')
    data = read_labelled_file(path)
    assert len(data) == 6 and data.labels[1] == "positive"
    assert data.texts[1] == '"the best film ever'


@pytest.mark.parametrize("content,message", [
    ("text\tlabel\ngood\tfilm\tpos\n", "reviews.tsv:2: 3 fields, but the header has 2"),
    ("text\tlabel\ngood\n", "reviews.tsv:2: 1 fields"),
])
def test_ragged_tsv_rows_are_refused_with_the_line(tmp_path, content, message):
    path = tmp_path / "reviews.tsv"
    path.write_text(content)
    with pytest.raises(GalleryError, match=message):
        read_labelled_file(path)


def test_semicolon_csv_and_broken_quotes(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('text;label\n"gut, sehr gut";1\nschlecht;0\n')
    assert read_labelled_file(path).texts == ["gut, sehr gut", "schlecht"]
    path.write_text('text,label\ngood,1\n"x"y,1\nfine,0\n')
    with pytest.raises(GalleryError, match=r"reviews.csv:3: not valid CSV"):
        read_labelled_file(path)


FRAME_VALUES = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32))
STREAM_LABELS = st.text(string.ascii_letters + " ,'\"-", min_size=1, max_size=8) \
    .map(str.strip).filter(bool)


@SETTINGS
@given(channels=st.integers(1, 4), data=st.data(), delimiter=st.sampled_from([",", ";", "\t"]),
       header=st.booleans(), ending=ENDINGS, encoding=ENCODINGS)
def test_stream_csv_reads_back_exactly(tmp_path, channels, data, delimiter, header, ending,
                                       encoding):
    rows = data.draw(st.lists(st.tuples(st.lists(FRAME_VALUES, min_size=channels,
                                                 max_size=channels), STREAM_LABELS),
                              min_size=1, max_size=8))
    if all(v is None for v in rows[0][0]):  # an empty first row could be a header
        rows[0] = ([0.5] * channels, rows[0][1])
    comma = delimiter != ","  # German/French spreadsheets: ";" or tabs and 2,39

    def shown(value):
        return "" if value is None else repr(value).replace(".", ",") if comma else repr(value)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=ending)
    if header:
        writer.writerow([f"channel {i}" for i in range(channels)] + ["label"])
    writer.writerows([[shown(v) for v in values] + [label] for values, label in rows])
    path = tmp_path / "stream.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    try:
        frames, labels = read_stream_csv(path, labelled=True)
    except GalleryError as error:  # "0,5;x": 0.5 and "x", or 0 and "5;x"? (no header)
        assert "cannot tell what separates" in str(error) and not header
        return
    expected = np.array([[np.nan if v is None else v for v in values] for values, _ in rows],
                        np.float32)
    np.testing.assert_array_equal(frames, expected)
    assert list(labels) == [label for _, label in rows]


def test_the_issue_german_stream(tmp_path):
    path = tmp_path / "stream.csv"
    path.write_text("2,39;0,43;walk\n1,5;2;run\n")
    frames, labels = read_stream_csv(path, labelled=True)
    np.testing.assert_allclose(frames, [[2.39, 0.43], [1.5, 2.0]], rtol=1e-6)
    assert list(labels) == ["walk", "run"]
    path.write_text("1,5;x\n")  # 1.5 and "x", or 1 and "5;x"?
    with pytest.raises(GalleryError, match="stream.csv:1: cannot tell what separates"):
        read_stream_csv(path, labelled=True)
    path.write_text("value;label\n1,5;x\n")  # a header says which
    frames, labels = read_stream_csv(path, labelled=True)
    assert frames.tolist() == [[1.5]] and list(labels) == ["x"]


@SETTINGS
@given(text=st.text(CHARS, max_size=200), chunk=st.integers(1, 9), encoding=ENCODINGS)
def test_lines_end_at_newlines_only(tmp_path, text, chunk, encoding):
    """``\\r``, ``\\x0b``, ``\\x1c``, U+2028 ... inside a line do not end it; lines
    that cross the chunks the file is read in come out whole."""
    path = tmp_path / "lines.txt"
    path.write_bytes(text.encode(encoding))
    if encoding == "utf-8" and text.startswith("\ufeff"):
        text = text[1:]  # read as a byte-order mark
    pieces = text.split("\n")
    if pieces[-1] == "":
        pieces.pop()
    assert list(text_lines(path, chunk=chunk)) == [line.removesuffix("\r") for line in pieces]


@SETTINGS
@given(pairs=st.lists(st.tuples(without("\n", TEXTS), without("\n", TEXTS)), max_size=8),
       compressed=st.booleans(), ending=ENDINGS, encoding=ENCODINGS)
def test_parallel_text_reads_back_exactly(tmp_path, pairs, compressed, ending, encoding):
    """Line i of one file translates line i of the other, whatever the sentences hold
    (``\\r``, U+2028, quotes ...): pairs with an empty side are dropped, none shift."""
    import gzip

    from rnn_gallery.tasks.translation.data import read_parallel

    for old in tmp_path.glob("train.*"):  # the folder is shared by the examples
        old.unlink()
    for lang, side in (("en", 0), ("de", 1)):
        content = "".join(pair[side] + ending for pair in pairs).encode(encoding)
        if compressed:
            (tmp_path / f"train.{lang}.gz").write_bytes(gzip.compress(content))
        else:
            (tmp_path / f"train.{lang}.txt").write_bytes(content)
    got = read_parallel(tmp_path, "train", "en", "de")
    stripped = [(s.removesuffix("\r").strip(), t.removesuffix("\r").strip()) for s, t in pairs]
    kept = [(s, t) for s, t in stripped if s and t]
    assert list(zip(got.sources, got.targets)) == kept
