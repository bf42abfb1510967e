"""Every bad input of issue 16's table and the README's list, in a real process: exit
code 2 and exactly one line on stderr (no traceback, no TensorFlow start-up lines,
no raw control bytes).

TensorFlow is imported twice in all: one driver process runs every case through
``gallery.cli.main`` with file descriptors 1 and 2 pointed at fresh files per case
(its first case pays the TensorFlow import, as the command would), and the installed
``gallery`` command runs one case on its own. The whole of stderr is checked.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from cli_driver import run_cases
from conftest import write_review_file


def clean_env():
    """The user's environment: nothing set to quieten TensorFlow for us."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TF_CPP", "GALLERY_MIN_FREE", "TF_CONFIG"))}
    return {**env, "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def png_bomb(path):
    """A PNG header declaring 15000 x 12500 pixels (187 M), in 45 bytes."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
        ">IIBBBBB", 15000, 12500, 8, 0, 0, 0, 0)) + chunk(b"IEND", b""))


EXPORT = ["export", "sentiment", "--model", "finished", "--overwrite", "--out"]
TRAIN = ["train", "sentiment", "--data", "x.tsv", "--out"]
PREDICT = ["predict", "sentiment", "hello", "--model"]
PHOTOS = ["train", "captioning", "--out", "photo_run", "--data"]
#: ``(id, argv, environment, a fragment of the one line)``; paths are relative to the
#: scratch folder :func:`make_files` fills.
CASES = [
    ("export-over-run", EXPORT + ["finished"], {}, "is not a SavedModel version folder"),
    ("export-over-versions", EXPORT + ["saved_models/sentiment"], {},
     "is not a SavedModel version folder (it holds 1)"),
    ("export-over-notes", EXPORT + ["notes"], {}, "(it holds thesis.txt)"),
    ("export-over-a-version", EXPORT[:-2] + ["--out", "saved_models/sentiment/1"], {},
     "saved_models/sentiment/1 exists; choose a new version folder or pass --overwrite"),
    ("train-over-finished-run", TRAIN + ["finished"], {},
     "holds a finished run; pass --overwrite"),
    ("train-over-user-checkpoint", TRAIN + ["proj"], {},
     "holds files the gallery did not write (checkpoint)"),
    ("seed-negative", TRAIN + ["s", "--set", "seed=-1"], {}, "seed must be a whole number"),
    ("seed-2**32", TRAIN + ["s", "--set", "seed=4294967296"], {}, "from 0 to 4294967295"),
    ("corrupt-meta", PREDICT + ["bad_meta"], {}, "meta.json is damaged"),
    ("missing-config", PREDICT + ["no_config"], {}, "config.json is missing"),
    ("decompression-bomb", ["train", "captioning", "--data", "caps", "--out", "c"], {},
     "big.png has more than 89,478,485 pixels"),
    ("bad-min-free-mb", PREDICT + ["finished"], {"GALLERY_MIN_FREE_MB": "lots"},
     "GALLERY_MIN_FREE_MB must be a whole number"),
    ("folder-as-data", ["train", "sentiment", "--data", "some_folder"], {},
     "some_folder is a folder; expected a file"),
    ("binary-as-csv", ["train", "sentiment", "--data", "ls.csv"], {},
     "ls.csv needs a header with columns text and label"),
    ("unknown-setting", ["train", "sentiment", "--set", "colour=blue"], {},
     "unknown setting 'colour'"),
    ("missing-data-file", ["train", "sentiment", "--data", "no_such.csv"], {},
     "data file not found: no_such.csv"),
    ("csv-without-label", ["train", "sentiment", "--data", "nolabel.csv"], {},
     "missing label (found: text, stars)"),
    ("malformed-csv", ["train", "sentiment", "--data", "broken.csv"], {},
     "broken.csv:3: not valid CSV"),
    ("line-over-1-mib", ["train", "sentiment", "--data", "big.tsv"], {},
     "big.tsv:2: line longer than 1,048,576 bytes (the longest line a data file may hold)"),
    ("no-such-model", PREDICT + ["no_such_run"], {}, "no trained model at no_such_run"),
    ("unknown-task", ["train", "nonsense"], {}, "unknown task 'nonsense'"),
    ("missing-argument", ["finetune", "sentiment", "--data", "x.tsv"], {},
     "finetune: the following arguments are required: --from"),
    ("lesson-bad-setting", ["lesson", "hmlstm", "--set", "boundary_rate_target=0.3,2",
                            "--out", "lesson"], {}, "boundary_rate_target takes one rate or three"),
    ("lesson-without-settings", ["lesson", "tbptt", "--set", "steps=1"], {},
     "lesson 'tbptt' takes no --set"),
    ("lesson-without-profiles", ["lesson", "tbptt", "--profile", "full"], {},
     "lesson 'tbptt' takes no --profile"),
    ("lesson-unknown-profile", ["lesson", "hmlstm", "--profile", "long", "--out", "lesson"],
     {}, "unknown profile 'long' for the hmlstm lesson; profiles: short, full, tiny"),
    ("photo-missing", PHOTOS + ["captions:photo_missing"], {},
     "captions.csv names 1 missing image(s), e.g. gone.jpg"),
    ("photo-zero-bytes", PHOTOS + ["captions:photo_empty"], {}, "b.jpg is empty (0 bytes)"),
    ("photo-unreadable", PHOTOS + ["captions:photo_junk"], {}, "b.jpg is not a readable image"),
    ("photo-no-columns", PHOTOS + ["captions:photo_columns"], {},
     "must name the columns 'image' and 'caption'"),
    ("photo-bomb", PHOTOS + ["captions:photo_bomb"], {}, "big.png has more than 89,478,485"),
    ("photo-without-encoder", PHOTOS + ["captions:photo_bomb", "--profile", "tiny"], {},
     "holds photos: train it with an image encoder"),
    ("photo-tail-too-long", PHOTOS + ["captions:photo_bomb", "--set",
                                      "fine_tune_encoder_blocks=18"], {},
     "fine_tune_encoder_blocks must be 0 to 17 for encoder 'efficientnet_lite0', not 18"),
    ("photo-tail-negative", PHOTOS + ["captions:photo_bomb", "--set",
                                      "fine_tune_encoder_blocks=-1"], {},
     "fine_tune_encoder_blocks must be >= 0, not -1"),
    ("photo-tail-of-keras", PHOTOS + ["captions:photo_bomb", "--set",
                                      "encoder=keras:MobileNetV3Small",
                                      "--set", "fine_tune_encoder_blocks=1"], {},
     "fine_tune_encoder_blocks needs encoder=efficientnet_lite0"),
    ("serve-model-without-a-name", ["serve", "--model", "sentiment"], {},
     "--model takes NAME=EXPORT_DIR with a new NAME free of '/' and ':', not 'sentiment'"),
    ("multiworker-without-tf-config", TRAIN + ["mw", "--strategy", "multiworker"], {},
     "--strategy multiworker needs the TF_CONFIG"),
    ("stdin-stream-of-a-bidirectional-model", ["predict", "frame_tagging", "--model",
                                               "frames_bidirectional", "--input", "-"], {},
     "cannot stream; train a causal model"),
]


def make_files(root, run):
    """The scratch folder of :data:`CASES`: runs (whole, damaged), a user's notes,
    exports and checkpoint folder, bad data files."""
    shutil.copytree(run, root / "finished")
    for name, damage in (("bad_meta", "meta.json"), ("no_config", "config.json")):
        shutil.copytree(run, root / name)
        (root / name / damage).unlink()
    (root / "bad_meta" / "meta.json").write_text('{"task": "sent')
    (root / "saved_models" / "sentiment" / "1").mkdir(parents=True)
    (root / "saved_models" / "sentiment" / "1" / "saved_model.pb").write_bytes(b"")
    (root / "notes").mkdir()
    (root / "notes" / "thesis.txt").write_text("four years of work")
    (root / "proj" / "checkpoint").mkdir(parents=True)
    (root / "proj" / "checkpoint" / "my.ckpt").write_text("w")
    (root / "caps").mkdir()
    png_bomb(root / "caps" / "big.png")
    (root / "caps" / "captions.tsv").write_text("big.png\tone two\n" * 4)
    (root / "some_folder").mkdir()
    shutil.copy("/bin/ls", root / "ls.csv")
    (root / "nolabel.csv").write_text("text,stars\ngood,5\nbad,1\n")
    (root / "broken.csv").write_bytes(b'text,label\ngood,1\n"never closed,1\n')
    (root / "big.tsv").write_text("text\tlabel\n" + "a" * (1 << 20) + "a\tpos\n")
    write_review_file(root / "x.tsv", rows=40)
    from PIL import Image

    good = root / "good.png"
    Image.new("RGB", (8, 8), (200, 30, 30)).save(good)
    for name, bad in (("missing", None), ("empty", b""), ("junk", b"not a JPEG"),
                      ("columns", b""), ("bomb", None)):
        folder = root / f"photo_{name}"
        folder.mkdir()
        shutil.copy(good, folder / "a.png")
        if bad is not None:
            (folder / "b.jpg").write_bytes(bad)
        rows = {"missing": "a.png,a dog\ngone.jpg,a cat\n", "bomb": "big.png,a dog\n"}
        header = "file,text" if name == "columns" else "image,caption"
        (folder / "captions.csv").write_text(f"{header}\n" + rows.get(name, "a.png,a dog\n"
                                                                     "b.jpg,a cat\n"))
    png_bomb(root / "photo_bomb" / "big.png")


def assert_one_line(code, stderr, fragment):
    assert code == 2, stderr
    assert stderr.startswith("gallery: error: ") and stderr.endswith("\n"), stderr
    assert stderr.count("\n") == 1, stderr  # the whole of stderr: one line
    assert fragment in stderr, stderr
    assert all(c.isprintable() for c in stderr[:-1]), repr(stderr)  # no raw control bytes


@pytest.fixture(scope="module")
def results(tiny_sentiment_run, tiny_frame_tagging_run, tmp_path_factory):
    """``(scratch folder, {case id: {"code", "stderr"}})`` from one driver process."""
    root = tmp_path_factory.mktemp("bad_inputs")
    make_files(root, tiny_sentiment_run)
    shutil.copytree(tiny_frame_tagging_run, root / "frames_bidirectional")  # the default
    results = run_cases([{"argv": argv, "env": env, "cwd": str(root)}
                         for _, argv, env, _ in CASES], root, clean_env(), root)
    return root, dict(zip([case[0] for case in CASES], results))


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_one_line_and_exit_2(results, case):
    result = results[1][case[0]]
    assert_one_line(result["code"], result["stderr"], case[3])


def test_nothing_of_the_users_was_touched(results):
    root, _ = results
    assert (root / "notes" / "thesis.txt").read_text() == "four years of work"
    assert (root / "proj" / "checkpoint" / "my.ckpt").read_text() == "w"
    assert (root / "saved_models" / "sentiment" / "1" / "saved_model.pb").is_file()
    assert (root / "finished" / "model.keras").is_file()
    assert not (root / "lesson").exists()  # a refused --set makes no lesson folder
    assert not (root / "photo_run").exists()  # refused photos write no run folder


def test_the_installed_command_prints_one_line(tmp_path):
    """The console script itself, TensorFlow's start-up included: one line on stderr."""
    script = pathlib.Path(sys.executable).with_name("gallery")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "gallery.cli"]
    done = subprocess.run([*command, "predict", "sentiment", "--model", "no_such_run", "hi"],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                          timeout=300)
    assert_one_line(done.returncode, done.stderr, "no trained model at no_such_run")
