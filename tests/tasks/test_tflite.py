"""`gallery export --format tflite`: built-in ops only, and TFLiteModel's answers
equal the SavedModel's on held-out inputs (labels equal, probabilities within 1e-4);
the runtime runs only the file its side file describes, and refuses bad inputs before
TFLite sees them."""

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import write_caption_folder

from gallery.cli import main
from gallery.errors import GalleryError
from gallery.export.formats import FORMATS, Format
from gallery.export.tflite import builtin_op_names, convert, model_ops, text_facts
from gallery.export.tflite_decoding import TextIds
from gallery.export.tflite_runtime import TFLiteModel
from gallery.images import decode_image_batch
from gallery.layers.text import TextToIds
from gallery.registry import get_task, task_names
from gallery.runs import load_run
from gallery.task import Task
from rnn_gallery.tasks.captioning.model import Captioner
from rnn_gallery.tasks.translation.model import Translator, target_to_ids

HELD_OUT = ["a wonderful and superb film", "Dull, TERRIBLE acting!!", "", "   ",
            "the plot's \"twists\" were clumsy; tedious-ish", "caf\u00e9 \u00dcBER moving",
            "unseenword another unseen one", "great " * 150]


@pytest.fixture(scope="module")
def sentiment_tflite(task_tflite):
    """The tiny sentiment run's TFLite model; tests copy it before changing it."""
    return task_tflite("sentiment")


def copy_export(path, folder, name="sentiment"):
    """``path`` and its side file copied into ``folder`` as ``NAME.tflite/.json``."""
    folder.mkdir(exist_ok=True)
    shutil.copy(path, folder / f"{name}.tflite")
    shutil.copy(path.with_suffix(".json"), folder / f"{name}.json")
    return folder / f"{name}.tflite"


LOAD_AND_PREDICT = """
import sys
from gallery.errors import GalleryError
from gallery.export.tflite_runtime import TFLiteModel
try:
    print(TFLiteModel(sys.argv[1]).predict(["a wonderful film"]))
except GalleryError as error:
    print(f"gallery: error: {error}", file=sys.stderr)
    sys.exit(2)
"""


def load_in_a_process(path):
    """``(exit code, stderr lines)`` of loading ``path`` in a fresh Python: a crash
    inside TFLite would show as -11 (SIGSEGV), not as a line."""
    result = subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, str(path)],
                            capture_output=True, text=True, timeout=300)
    return result.returncode, result.stderr.splitlines()


def check_ops(path, loop=True):
    """Every model file's ops are built in (and listed in the side file)."""
    info = json.loads(path.with_suffix(".json").read_text())
    ops = set().union(*(model_ops((path.parent / entry["file"]).read_bytes())
                        for entry in info["models"].values()))
    assert ops == set(info["ops"]) and ops <= builtin_op_names()
    if loop:  # the recurrent loop is TFLite's own WHILE, not unrolled away
        assert "WHILE" in ops
    return info


def test_sentiment_tflite_equals_the_saved_model(sentiment_tflite, task_export):
    path = sentiment_tflite
    check_ops(path)
    served = tf.saved_model.load(str(task_export("sentiment"))).signatures["serving_default"]
    expected = served(text=tf.constant(HELD_OUT))
    got = TFLiteModel(path).predict(HELD_OUT)
    assert [r["label"] for r in got] == [v.decode() for v in expected["label"].numpy()]
    np.testing.assert_allclose([r["probabilities"] for r in got],
                               expected["probabilities"].numpy(), atol=1e-4)


@pytest.mark.parametrize("mode", ["words", "words_punct", "chars"])
def test_python_tokens_match_text_to_ids(mode):
    vocabulary = ["the", "plot", "s", "twists", "were", "caf\u00e9", "great", "Dull", ",", "!",
                  "t", "e", " ", "a", "\"", "-", "ish", "moving", "\u00dcBER", "dull"]
    layer = TextToIds(vocabulary, max_length=40, tokens=mode)
    text_ids = TextIds(**text_facts(layer))  # the NumPy mirror, from the side file's facts
    for text in HELD_OUT:
        expected = layer(tf.constant([text])).numpy()[0]
        got = text_ids(text)[0]
        np.testing.assert_array_equal(got[:len(expected)], expected, err_msg=text)
        assert not got[len(expected):].any()


def test_frame_tagging_tflite_equals_the_saved_model(task_tflite, task_export):
    path = task_tflite("frame_tagging")
    info = check_ops(path)
    served = tf.saved_model.load(str(task_export("frame_tagging"))).signatures[
        "serving_default"]
    model, rng = TFLiteModel(path), np.random.default_rng(7)
    for length in (1, 37, info["frames"]):
        frames = rng.normal(size=(length, *info["frame_shape"])).astype("float32")
        expected = served(frames=tf.constant(frames[None]), lengths=tf.constant([length]))
        (got,) = model.predict([frames])
        assert got["labels"] == [v.decode() for v in expected["labels"].numpy()[0]]
        np.testing.assert_allclose(got["probabilities"], expected["probabilities"].numpy()[0],
                                   atol=1e-4)
    with pytest.raises(ValueError, match="up to"):
        model.predict([np.zeros((info["frames"] + 1, *info["frame_shape"]), np.float32)])


def test_a_model_needing_more_than_builtin_ops_fails(tiny_sentiment_run):
    _, _, model, _ = load_run(tiny_sentiment_run)
    core = [layer for layer in model.layers if isinstance(layer, keras.Model)][0]
    with pytest.raises(GalleryError, match="built-in ops only failed"):
        convert(core)  # a loop over a time axis of unknown length: TensorList ops


def test_export_refuses_to_overwrite(tiny_sentiment_run, tmp_path, capsys):
    (tmp_path / "taken.tflite").write_bytes(b"mine")
    assert main(["export", "sentiment", "--model", str(tiny_sentiment_run), "--format",
                 "tflite", "--out", str(tmp_path / "taken.tflite")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "taken.tflite").read_bytes() == b"mine"


def test_charlm_step_model_decodes_like_generate_at_temperature_zero(task_tflite, task_export):
    path = task_tflite("charlm")
    check_ops(path, loop=False)  # the cells once each
    generate = tf.saved_model.load(str(task_export("charlm"))).signatures["generate"]
    primes = ["def ", "", "ret", "zz\u00e9 "]
    expected = generate(prime=tf.constant(primes), length=tf.constant(15),
                        temperature=tf.constant(0.0), seed=tf.constant(0))["text"].numpy()
    model = TFLiteModel(path)
    assert [model.decoder.generate(p, length=15)["text"] for p in primes] == [
        e.decode() for e in expected]


def test_translation_encoder_and_step_decode_like_greedy_search(tiny_translation_run,
                                                                task_tflite):
    path = task_tflite("translation")
    info = check_ops(path)
    _, config, model, meta = load_run(tiny_translation_run)
    target = target_to_ids(config, meta)  # the side file's ids are the TextToIds layers'
    assert info["text"]["id_to_token"] == model.source_ids.id_to_token()
    assert info["target_id_to_token"] == target.id_to_token(blank_marks=True)
    assert (info["start_id"], info["end_id"]) == (target.start_id, target.end_id)
    greedy = Translator(model, meta, dataclasses.replace(config, beam_width=1))
    texts = ["12 March 1999", "forty-two", "", "the 3rd of May, 2001", "x" * 150]
    translations, scores, _ = greedy(tf.constant(texts))
    got = TFLiteModel(path).predict(texts)
    assert [r["translation"] for r in got] == [t.decode() for t in translations.numpy()]
    # a score sums up to max_target log-probabilities: float32 (graph) vs float64 sums
    np.testing.assert_allclose([r["score"] for r in got], scores.numpy(), rtol=1e-5, atol=1e-4)


def test_captioning_encoder_and_step_decode_like_greedy_search(tiny_captioning_run,
                                                               task_tflite, tmp_path):
    path = task_tflite("captioning")
    info = check_ops(path, loop=False)  # a CNN encoder and the cells once each
    _, config, model, meta = load_run(tiny_captioning_run)
    write_caption_folder(tmp_path / "images", count=4)
    images = [(tmp_path / "images" / f"img{i}.png").read_bytes() for i in range(4)]
    pixels, _ = decode_image_batch(tf.constant(images), info["height"], info["width"])
    greedy = Captioner(model, meta["vocabulary"], dataclasses.replace(config, beam_width=1))
    captions, scores = greedy(pixels)
    got = TFLiteModel(path).predict(images)
    assert [r["caption"] for r in got] == [c.decode() for c in captions.numpy()]
    np.testing.assert_allclose([r["score"] for r in got], scores.numpy(), atol=1e-4)


def test_the_runtime_and_every_decoder_import_no_tensorflow():
    modules = ["gallery.export.tflite_runtime", "gallery.export.formats",
               *(get_task(name).tflite_decoder.__module__ for name in task_names())]
    script = (f"import importlib, sys; [importlib.import_module(m) for m in {modules}]; "
              "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    # the same import path as this process: a task registered from a folder a session
    # fixture added (tests/third_party's ``majority``) is importable there too
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.stdout.split() == ["False", "False"], result.stderr[-1000:]


def test_a_truncated_model_file_is_one_line_not_a_crash(sentiment_tflite, tmp_path):
    path = copy_export(sentiment_tflite, tmp_path / "cut")
    path.write_bytes(path.read_bytes()[:20000])  # loading these bytes crashed TFLite
    code, lines = load_in_a_process(path)
    assert code == 2, lines[-3:]
    assert lines == ["gallery: error: sentiment.tflite (20,000 bytes) is not the file "
                     "sentiment.json describes (its SHA-256 differs: a truncated, changed or "
                     "swapped file); re-export it with `gallery export TASK --model RUN "
                     "--format tflite`"]


def test_a_damaged_file_that_its_side_file_vouches_for_is_one_line(sentiment_tflite, tmp_path):
    """Bytes that are no FlatBuffer, with the side file rewritten to their SHA-256 (so
    the hash check passes): one line, not TFLite's ValueError traceback. A sound
    model loads and predicts with nothing on stderr (no runtime notice)."""
    code, lines = load_in_a_process(sentiment_tflite)
    assert code == 0 and lines == [], lines
    path = copy_export(sentiment_tflite, tmp_path / "damaged")
    damaged = path.read_bytes()[:20000]
    path.write_bytes(damaged)
    info = json.loads(path.with_suffix(".json").read_text())
    for entry in info["models"].values():
        if entry["file"] == path.name:
            entry["sha256"] = hashlib.sha256(damaged).hexdigest()
    path.with_suffix(".json").write_text(json.dumps(info))
    code, lines = load_in_a_process(path)
    assert code == 2 and len(lines) == 1, lines[-5:]
    assert "of sentiment.tflite is not a TFLite model this runtime can run" in lines[0]


def test_a_swapped_model_file_is_refused(sentiment_tflite, tmp_path):
    other = keras.Sequential([keras.Input((3,), batch_size=1), keras.layers.Dense(2)])
    path = copy_export(sentiment_tflite, tmp_path / "swapped")
    path.write_bytes(convert(other)[0])  # a valid TFLite model, but not this export's
    with pytest.raises(GalleryError, match="SHA-256 differs"):
        TFLiteModel(path)


def test_the_model_runs_only_the_file_it_is_given(sentiment_tflite, tmp_path):
    renamed = copy_export(sentiment_tflite, tmp_path, name="mine")  # mine.json names
    with pytest.raises(GalleryError, match="describes sentiment.tflite, not mine.tflite"):
        TFLiteModel(renamed)  # sentiment.tflite, which is not here (or another model)
    elsewhere = copy_export(sentiment_tflite, tmp_path / "up")
    info = json.loads(elsewhere.with_suffix(".json").read_text())
    info["models"]["more"] = {"file": "../mine.tflite", "sha256": "0" * 64}
    elsewhere.with_suffix(".json").write_text(json.dumps(info))
    with pytest.raises(GalleryError, match="names '../mine.tflite' as a model file; only "
                       "a file beside it"):
        TFLiteModel(elsewhere)
    renamed.with_suffix(".json").unlink()
    with pytest.raises(GalleryError, match="no mine.json beside mine.tflite"):
        TFLiteModel(renamed)


def test_a_side_file_without_hashes_asks_to_re_export(sentiment_tflite, tmp_path):
    path = copy_export(sentiment_tflite, tmp_path)
    info = json.loads(path.with_suffix(".json").read_text())
    info["models"] = {part: entry["file"] for part, entry in info["models"].items()}
    path.with_suffix(".json").write_text(json.dumps(info))  # as exports before hashes
    with pytest.raises(GalleryError, match="records no SHA-256 .* re-export it"):
        TFLiteModel(path)
    path.with_suffix(".json").write_text("[" * 100_000)
    with pytest.raises(GalleryError, match="sentiment.json is not valid JSON"):
        TFLiteModel(path)


def test_one_step_parts_run_on_one_thread(task_tflite, sentiment_tflite, monkeypatch):
    """The side file names the parts built by ``step_model`` (a decoder calls them per
    token); they get one interpreter thread, every other part ``num_threads``."""
    from gallery.export import tflite_runtime

    threads = {}
    original = tflite_runtime.interpreter

    def recording(content, name="the model", num_threads=None):
        threads[name.split("'")[1]] = num_threads
        return original(content, name, num_threads)

    monkeypatch.setattr(tflite_runtime, "interpreter", recording)
    charlm = task_tflite("charlm")
    assert json.loads(charlm.with_suffix(".json").read_text())["one_step_parts"] == ["step"]
    TFLiteModel(charlm, num_threads=2)
    assert threads == {"step": 1}
    threads.clear()
    TFLiteModel(sentiment_tflite, num_threads=2)
    assert set(threads.values()) == {2}


@pytest.mark.parametrize("bad", ["step", ["encoder"], [["step"]], {"step": 1}])
def test_a_bad_one_step_parts_is_one_line(sentiment_tflite, tmp_path, bad):
    path = copy_export(sentiment_tflite, tmp_path)
    info = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**info, "one_step_parts": bad}))
    with pytest.raises(GalleryError, match="one_step_parts must be a list .maybe empty. of names"):
        TFLiteModel(path)


@pytest.mark.parametrize("inputs", ["a wonderful film", b"a wonderful film",
                                    np.str_("a wonderful film"), np.float32(1.0),
                                    np.array("a wonderful film"), 7])
def test_predict_refuses_a_bare_string_or_scalar(sentiment_tflite, inputs):
    with pytest.raises(TypeError, match="takes a list of inputs.*pass \\[item\\]"):
        TFLiteModel(sentiment_tflite).predict(inputs)


def test_predict_reads_each_text_as_text(sentiment_tflite):
    model = TFLiteModel(sentiment_tflite)
    assert model.predict([b"caf\xc3\xa9 film"]) == model.predict(["caf\u00e9 film"])
    with pytest.raises(TypeError, match="a text \\(str\\), got int"):
        model.predict([3])


def test_ids_outside_the_embedding_are_refused_before_tflite(sentiment_tflite, tmp_path):
    path = copy_export(sentiment_tflite, tmp_path)
    info = json.loads(path.with_suffix(".json").read_text())
    size = info["input_limits"]["classify"]["token_ids"]
    model = TFLiteModel(path)
    ids = np.zeros((1, info["text"]["max_length"]), np.int64)
    ids[0, 3] = size
    with pytest.raises(GalleryError, match=f"token_ids.*{size} is outside 0..{size - 1}"):
        model.run("classify", token_ids=ids)
    ids[0, 3] = -1
    with pytest.raises(GalleryError, match="-1 is outside"):
        model.run("classify", token_ids=ids)
    info["text"]["id_to_token"] += ["extraword"]  # a side file whose table outgrew the model
    path.with_suffix(".json").write_text(json.dumps(info))
    with pytest.raises(GalleryError, match=f"{size} is outside 0..{size - 1}"):
        TFLiteModel(path).predict(["an extraword"])
    del info["input_limits"]
    path.with_suffix(".json").write_text(json.dumps(info))
    with pytest.raises(GalleryError, match="no range for the integer input 'token_ids'"):
        TFLiteModel(path)


def test_a_third_party_task_exports_and_runs_tflite(third_party_path, tmp_path):
    """``majority`` (tests/third_party) declares its TFLite models and decoder; nothing
    in gallery/ names it."""
    run, out = tmp_path / "run", tmp_path / "majority.tflite"
    assert main(["train", "majority", "--profile", "tiny", "--out", str(run)]) == 0
    assert main(["export", "majority", "--model", str(run), "--format", "tflite",
                 "--out", str(out)]) == 0
    info = check_ops(out)
    assert info["decoder"] == "gallery_toy.tflite_decoder:MajorityDecoder"
    assert info["task_class"] == "gallery_toy.task:MajorityTask"
    texts = ["aab", "bbbab", "a", "abababbbbaa", "ab" * 40 + "a"]
    _, _, model, _ = load_run(run)
    expected = model(tf.constant(texts)).numpy()
    got = FORMATS["tflite"].runtime(out).predict(texts)
    assert [row["label"] for row in got] == [["a", "b"][k] for k in expected.argmax(1)]
    np.testing.assert_allclose([row["probability"] for row in got], expected.max(1),
                               atol=1e-4)


def test_export_formats_come_from_the_registry(tiny_sentiment_run, tmp_path, monkeypatch,
                                               capsys):
    written = []

    def write(task, config, model, meta, out, overwrite):
        written.append((task.name, out, overwrite))
        return f"[{task.name}] wrote {out}"

    monkeypatch.setitem(FORMATS, "toyformat", Format(
        "toyformat", "a format registered by a test", ("serving_function",),
        "elsewhere/{task}.toy", write, runtime=str))
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert "{savedmodel,tflite,toyformat}" in shown
    assert "toyformat: a format registered by a test" in shown
    assert main(["export", "sentiment", "--model", str(tiny_sentiment_run),
                 "--format", "toyformat"]) == 0
    assert written == [("sentiment", "elsewhere/sentiment.toy", False)]
    assert capsys.readouterr().out == "[sentiment] wrote elsewhere/sentiment.toy\n"


def test_a_task_without_a_formats_hooks_is_refused_in_one_line():
    class Bare(Task):
        name = "bare"

    with pytest.raises(GalleryError, match=r"the bare task has no tflite export \(it does "
                       r"not define Task.tflite_models, Task.tflite_decoder\)"):
        FORMATS["tflite"].export(Bare(), None, None, {}, "x.tflite")
