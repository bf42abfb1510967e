"""`gallery predict --input/--output` and the command-line flags of every command but
`serve`, given hostile files and values, in real processes: exit code 2, exactly one
line on stderr, nothing of the user's changed, and memory that does not grow with a
line that never ends.

The cases run in one driver process (``cli_driver.DRIVER``: TensorFlow is
imported once), which records its peak RSS after each case; stdin has its own process.
"""

import gzip
import json
import os
import stat
import subprocess
import sys
import threading

import pytest
from cli_driver import DRIVER
from test_bad_inputs import assert_one_line, clean_env

from gallery.batch_predict import output_stream
from gallery.data.files import LineLimit, split_lines, without_line_end
from gallery.errors import GalleryError

MIB = 1 << 20
LONG_LINE_MIB = 64  # one line this long, gzip'ed to some 300 kB
#: Peak RSS a refused 64 MiB line may add: reading it whole would add more than 64 MiB.
ALLOWED_GROWTH_MIB = 32
LIMIT = "line longer than 1,048,576 bytes (--max-line-bytes)"


def predict(run, *args):
    return ["predict", "sentiment", "--model", str(run), *args]


def cases(run):
    """``(id, argv, a fragment of the one line)``; ``warm-up`` succeeds (exit 0) and
    comes first, so the long line is compared with a process that has predicted."""
    output = predict(run, "--input", "reviews.txt", "--overwrite", "--output")
    return [
        ("warm-up", predict(run, "--input", "reviews.txt", "--output", "warm.jsonl"), None),
        ("long-line-gz", predict(run, "--input", "one_line.txt.gz"), "one_line.txt.gz:1: " + LIMIT),
        ("long-line-flag", predict(run, "--input", "short.txt", "--max-line-bytes", "10"),
         "short.txt:2: line longer than 10 bytes (--max-line-bytes)"),
        ("long-csv-record", predict(run, "--input", "quoted.csv", "--max-line-bytes", "100"),
         "quoted.csv:2: record longer than 100 bytes (--max-line-bytes)"),
        ("deep-jsonl", predict(run, "--input", "deep.jsonl"),
         "deep.jsonl:2: JSON nested too deeply"),
        ("output-device", output + ["/dev/null"],
         "--output /dev/null is not a regular file (a device, FIFO or socket)"),
        ("output-fifo", output + ["fifo"], "--output fifo is not a regular file"),
        ("output-symlink", output + ["link.jsonl"], "--output link.jsonl is a symbolic link"),
        ("output-folder", output + ["outdir"], "--output outdir is a folder"),
        ("input-folder", predict(run, "--input", "outdir"),
         "--input outdir is a folder; sentiment reads one input per line"),
        ("output-exists", predict(run, "--input", "reviews.txt", "--output", "kept.jsonl"),
         "kept.jsonl exists; choose another --output or pass --overwrite"),
        ("batch-size-0", predict(run, "hi", "--batch-size", "0"),
         "predict: argument --batch-size: must be from 1 to 65,536, got 0"),
        ("batch-size-huge", predict(run, "hi", "--batch-size", str(10**30)),
         "argument --batch-size: must be from 1 to 65,536"),
        ("max-line-bytes-nan", predict(run, "hi", "--max-line-bytes", "nan"),
         "argument --max-line-bytes: expected a whole number, got 'nan'"),
        ("max-line-bytes-0", predict(run, "hi", "--max-line-bytes", "0"),
         "argument --max-line-bytes: must be from 1 to 1,073,741,824, got 0"),
        ("cpu-devices-0", ["train", "sentiment", "--cpu-devices", "0"],
         "train: argument --cpu-devices: must be from 1 to 256, got 0"),
        ("temperature-nan", ["lesson", "charlm", "--temperature", "nan"],
         "lesson: argument --temperature: must be a number from 0 to 100, got nan"),
        ("temperature-inf", ["lesson", "charlm", "--temperature=-inf"],
         "argument --temperature: must be a number from 0 to 100, got -inf"),
    ]


def make_files(root):
    """The inputs and the would-be outputs of :func:`cases`."""
    (root / "reviews.txt").write_text("a wonderful film\na dull film\n")
    with gzip.open(root / "one_line.txt.gz", "wb", compresslevel=1) as handle:
        for _ in range(LONG_LINE_MIB):
            handle.write(b"a" * MIB)
    (root / "short.txt").write_text("fine\nthis line is long\n")
    (root / "quoted.csv").write_text('id,text\n1,"' + "short line\n" * 20 + '"\n')
    (root / "deep.jsonl").write_text('"fine"\n' + "[" * 100_000 + "\n")
    os.mkfifo(root / "fifo")
    (root / "target.jsonl").write_text("the user's\n")
    (root / "link.jsonl").symlink_to("target.jsonl")
    (root / "outdir").mkdir()
    (root / "kept.jsonl").write_text("the user's\n")


@pytest.fixture(scope="module")
def results(tiny_sentiment_run, tmp_path_factory):
    """``(scratch folder, files before, {case id: {"code", "stderr", "maxrss_kb"}})``."""
    root = tmp_path_factory.mktemp("predict_limits")
    make_files(root)
    before = sorted(os.listdir(root))
    table = cases(tiny_sentiment_run)
    spec = root.parent / f"{root.name}-cases.json"
    spec.write_text(json.dumps([{"argv": argv, "env": {}, "cwd": str(root)}
                                for _, argv, _ in table]))
    out = root.parent / f"{root.name}-results.json"
    done = subprocess.run([sys.executable, "-c", DRIVER, str(spec), str(out)], cwd=root,
                          env=clean_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and not done.stderr, done.stderr[-3000:]
    return root, before, dict(zip([case[0] for case in table], json.loads(out.read_text())))


@pytest.mark.parametrize("case", cases("RUN")[1:], ids=[case[0] for case in cases("RUN")[1:]])
def test_refused_in_one_line(results, case):
    result = results[2][case[0]]
    assert_one_line(result["code"], result["stderr"], case[2])


def test_a_long_line_is_refused_before_it_is_in_memory(results):
    warm, long_line = results[2]["warm-up"], results[2]["long-line-gz"]
    assert warm["code"] == 0, warm["stderr"]
    growth_mib = (long_line["maxrss_kb"] - warm["maxrss_kb"]) / 1024
    assert growth_mib < ALLOWED_GROWTH_MIB, growth_mib


def test_nothing_of_the_users_changed(results):
    root, before, _ = results
    assert sorted(os.listdir(root)) == sorted([*before, "warm.jsonl"])  # no temporary files
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    assert stat.S_ISFIFO(os.lstat(root / "fifo").st_mode)
    assert os.readlink(root / "link.jsonl") == "target.jsonl"
    for name in ("target.jsonl", "kept.jsonl"):
        assert (root / name).read_text() == "the user's\n"
    assert not os.listdir(root / "outdir")


def feed(pipe, chunks):
    """Write ``chunks`` to ``pipe`` until they end or the reader goes away."""
    try:
        for chunk in chunks:
            pipe.write(chunk)
        pipe.close()
    except BrokenPipeError:
        pass


def test_a_long_stdin_line_is_refused_before_it_is_in_memory(results, tiny_sentiment_run):
    """A pipe that never sends a line end: one line naming stdin, and the process's peak
    RSS stays within :data:`ALLOWED_GROWTH_MIB` of the driver's after a prediction."""
    child = subprocess.Popen([sys.executable, "-m", "gallery.cli",
                              *predict(tiny_sentiment_run, "--input", "-")],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env=clean_env())
    writer = threading.Thread(target=feed, args=(child.stdin, [b"a" * MIB] * LONG_LINE_MIB))
    timer = threading.Timer(600, child.kill)  # the test ends, whatever the child does
    writer.start()
    timer.start()
    try:
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        timer.cancel()
        writer.join(timeout=60)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert_one_line(child.returncode, child.stderr.read().decode(), "stdin:1: " + LIMIT)
    growth_mib = (usage.ru_maxrss - results[2]["warm-up"]["maxrss_kb"]) / 1024
    assert growth_mib < ALLOWED_GROWTH_MIB, growth_mib


def pieces(text, size):
    return [text[i:i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 64])
@pytest.mark.parametrize("end", ["\n", "\r\n", ""])
def test_the_line_limit_counts_utf8_bytes_without_the_line_end(size, end):
    limit = LineLimit(max_bytes=10, name="--max-line-bytes")
    for line in ["a" * 10, "\u00e9" * 5, "\r" * 9 + "a", "\U0001f600" * 2 + "ab"]:  # 10 bytes
        text = f"ok{end or chr(10)}{line}{end}"
        assert [without_line_end(x) for x in split_lines(pieces(text, size), "in.txt",
                                                          limit)] == ["ok", line]
        with pytest.raises(GalleryError, match=r"^in\.txt:2: line longer than 10 bytes "
                                               r"\(--max-line-bytes\)$"):
            list(split_lines(pieces(f"ok\n{line}x{end}", size), "in.txt", limit))


def test_a_long_line_is_refused_before_the_rest_is_read():
    limit = LineLimit(max_bytes=100)
    read = []

    def chunks():
        for chunk in ["a" * 64] * 1000:
            read.append(chunk)
            yield chunk
    with pytest.raises(GalleryError, match="line longer than 100 bytes"):
        list(split_lines(chunks(), "stdin", limit))
    assert len(read) == 2


def test_output_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    """--overwrite replaces the contents of a regular file, keeping its permissions;
    the temporary file has a new name, so a file named like one is never touched."""
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    out.chmod(0o640)
    (tmp_path / f".out.jsonl.{os.getpid()}.tmp").write_text("the user's\n")
    with output_stream(out, overwrite=True) as handle:
        handle.write("new\n")
    assert out.read_text() == "new\n" and stat.S_IMODE(out.stat().st_mode) == 0o640
    assert (tmp_path / f".out.jsonl.{os.getpid()}.tmp").read_text() == "the user's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".out.jsonl.{os.getpid()}.tmp",
                                                          "out.jsonl"]
