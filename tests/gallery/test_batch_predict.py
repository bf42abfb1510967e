"""`gallery predict --input`: file formats, order, stdin, --output, export folders."""

import json
import subprocess
import sys

import pytest

from gallery.batch_predict import batches, read_items
from gallery.cli import main
from gallery.errors import GalleryError

TEXTS = ["a wonderful, superb film", "dull \"terrible\" acting", "", "caf\u00e9 moving"]


def test_readers_give_every_format_in_order(tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
    (tmp_path / "in.jsonl").write_text("\n".join(
        json.dumps({"text": t, "id": i} if i % 2 else t) for i, t in enumerate(TEXTS)) + "\n\n")
    (tmp_path / "in.csv").write_text("id,Text\n" + "".join(
        f'{i},"{t.replace(chr(34), chr(34) * 2)}"\n' for i, t in enumerate(TEXTS)))
    (tmp_path / "in.tsv").write_text("text\tid\n" + "".join(f"{t}\t{i}\n"
                                                          for i, t in enumerate(TEXTS)))
    for name in ("in.txt", "in.jsonl", "in.csv", "in.tsv"):
        assert list(read_items(tmp_path / name)) == TEXTS, name
    (tmp_path / "review.tsv").write_text("id\treview\n1\tgood\n")
    assert list(read_items(tmp_path / "review.tsv", column="review")) == ["good"]
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("b.png", "a.png", ".hidden"):
        (folder / name).write_bytes(b"x")
    assert [p.split("/")[-1] for p in read_items(folder)] == ["a.png", "b.png"]
    assert list(batches(range(5), 2)) == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize("name, text, words", [
    ("bad.jsonl", '"ok"\n{"text": 3}\n', "bad.jsonl:2: expected a JSON string"),
    ("bad.jsonl", '"ok"\n{oops\n', "bad.jsonl:2: not JSON"),
    ("bad.csv", "id,label\n1,pos\n", "no column 'text'"),
    ("bad.xlsx", "", "must be a .txt, .jsonl, .csv or .tsv"),
])
def test_readers_refuse_bad_files_in_one_line(tmp_path, name, text, words):
    (tmp_path / name).write_text(text)
    with pytest.raises(GalleryError, match=words.replace(".", r"\.")):
        list(read_items(tmp_path / name))


def cli_rows(args, capsys):
    assert main(args) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_file_input_equals_command_line_inputs(tiny_sentiment_run, tmp_path, capsys):
    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
    base = ["predict", "sentiment", "--model", str(tiny_sentiment_run)]
    expected = cli_rows(base + TEXTS, capsys)
    assert len(expected) == 4 and [r["text"] for r in expected] == TEXTS
    assert cli_rows(base + ["--input", str(tmp_path / "in.txt"), "--batch-size", "3"],
                    capsys) == expected
    out = tmp_path / "out.jsonl"
    assert cli_rows(base + ["--input", str(tmp_path / "in.txt"), "--output", str(out)],
                    capsys) == []
    assert [json.loads(line) for line in out.read_text().splitlines()] == expected
    assert main(base + ["--input", str(tmp_path / "in.txt"), "--output", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(base + ["--input", str(tmp_path / "in.txt")] + TEXTS[:1]) == 2
    assert "not both" in capsys.readouterr().err


def test_stdin_input_in_a_real_process(tiny_sentiment_run):
    result = subprocess.run([sys.executable, "-m", "gallery.cli", "predict", "sentiment",
                             "--model", str(tiny_sentiment_run), "--input", "-"],
                            input="\n".join(TEXTS[:2]) + "\n", capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == TEXTS[:2]
    assert "inputs" not in result.stderr  # no progress bar when stderr is not a terminal


def test_export_folder_predicts_like_the_run(tiny_sentiment_run, task_export, tmp_path,
                                             capsys):
    export = task_export("sentiment")
    capsys.readouterr()
    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
    by_run = cli_rows(["predict", "sentiment", "--model", str(tiny_sentiment_run),
                       "--input", str(tmp_path / "in.txt")], capsys)
    by_export = cli_rows(["predict", "sentiment", "--model", str(export),
                          "--input", str(tmp_path / "in.txt")], capsys)
    assert [r["input"] for r in by_export] == TEXTS
    assert [r["label"] for r in by_export] == [r["label"] for r in by_run]
    for run_row, export_row in zip(by_run, by_export):
        assert abs(run_row["probability"] - export_row["probability"]) < 1e-4
