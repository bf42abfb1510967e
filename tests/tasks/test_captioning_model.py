"""Captioning end to end: run folder, decoding, export served from image bytes, bad input."""

import io
import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import write_caption_folder

from gallery.cli import main
from gallery.runs import load_run
from rnn_gallery.tasks.captioning.task import png_bytes


def _image_bytes(pixels, fmt="PNG", colour=False, size=None):
    from PIL import Image

    picture = Image.fromarray((pixels[..., 0] * 255).astype(np.uint8))
    if colour:
        picture = picture.convert("RGB")
    if size:
        picture = picture.resize(size)
    buffer = io.BytesIO()
    picture.save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def loaded(tiny_captioning_run):
    task, config, model, meta = load_run(tiny_captioning_run)
    splits = task.load_data(config)
    return task, config, model, meta, splits


def test_run_folder_and_metrics(tiny_captioning_run):
    names = {p.name for p in tiny_captioning_run.iterdir()}
    assert {"model.keras", "metrics.json", "test_captions.png", "training_curves.png"} <= names
    metrics = json.loads((tiny_captioning_run / "metrics.json").read_text())
    assert {"exact_match", "bleu"} <= set(metrics)
    assert metrics["examples"] == 64


def test_beam_width_one_equals_greedy_on_the_trained_decoder(loaded):
    from gallery.decoding import beam_search, greedy_decode
    from rnn_gallery.tasks.captioning.model import END, START

    task, config, model, meta, splits = loaded
    states = model.start_states(tf.constant(splits.test.images[:16]))
    greedy = greedy_decode(model.decode_step, states, 16, START, END, 8)
    beam = beam_search(model.decode_step, states, 16, START, END, 8, beam_width=1)
    np.testing.assert_array_equal(greedy[0], beam[0])
    np.testing.assert_allclose(greedy[2], beam[2], rtol=1e-5)


def test_serving_gives_defined_output_for_bad_images(loaded):
    task, config, model, meta, splits = loaded
    serve = task.serving_function(config, model, meta)
    good = _image_bytes(splits.test.images[0])
    requests = [good, b"", b"\x89PNG\r\n\x1a\n truncated", good[: len(good) // 2],
                b"just some text", _image_bytes(splits.test.images[0], "JPEG", colour=True),
                _image_bytes(splits.test.images[0], size=(3000, 1100))]
    out = serve(tf.constant(requests))
    captions = [c.decode() for c in out["caption"].numpy()]
    assert captions[1:5] == ["", "", "", ""]
    assert np.isneginf(out["score"].numpy()[1:5]).all()
    assert np.isfinite(out["score"].numpy()[[0, 5, 6]]).all()


def test_gif_bmp_and_rgba_images_are_read(loaded):
    """GIF (TensorFlow's decoder refuses one channel), animated GIF (first frame), BMP,
    and an RGBA PNG caption the same as the PNG they were made from."""
    from PIL import Image

    task, config, model, meta, splits = loaded
    pixels = splits.test.images[0]
    picture = Image.fromarray((pixels[..., 0] * 255).astype(np.uint8))
    blank = Image.new("L", picture.size)

    def encoded(image, fmt, **options):
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        return buffer.getvalue()
    requests = [_image_bytes(pixels), encoded(picture, "GIF"),
                encoded(picture, "GIF", save_all=True, append_images=[blank]),
                encoded(picture, "BMP"), encoded(picture.convert("RGBA"), "PNG")]
    out = task.serving_function(config, model, meta)(tf.constant(requests))
    captions = [c.decode() for c in out["caption"].numpy()]
    assert np.isfinite(out["score"].numpy()).all()
    assert captions == [captions[0]] * 5


def test_cli_predict_and_bad_paths(tiny_captioning_run, loaded, tmp_path, capsys):
    _, _, _, _, splits = loaded
    path = tmp_path / "one.png"
    path.write_bytes(png_bytes(splits.test.images[0]))
    assert main(["predict", "captioning", "--model", str(tiny_captioning_run), str(path)]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["image"] == str(path) and isinstance(row["caption"], str)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    assert main(["predict", "captioning", "--model", str(tiny_captioning_run), str(broken)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]

    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")
    row = json.loads(line, parse_constant=refuse)  # -inf is printed as null
    assert row == {"image": str(broken), "caption": "", "score": None}
    assert main(["predict", "captioning", "--model", str(tiny_captioning_run),
                 str(tmp_path / "missing.png")]) == 2
    assert "image file not found" in capsys.readouterr().err
    assert main(["train", "captioning", "--data", str(tmp_path / "nowhere")]) == 2
    assert main(["train", "captioning", "--set", "height=0"]) == 2


# trains; default tier: fine-tuning with the vocabulary kept: tests/test_contract.py
# step 6; a user folder: test_finetune_template below; `gallery finetune`'s command line:
# tests/tasks/test_sentiment_finetune.py
@pytest.mark.slow
def test_finetune_on_a_user_folder(tiny_captioning_run, tmp_path):
    write_caption_folder(tmp_path / "mine", count=30, seed=3)
    out = tmp_path / "tuned"
    assert main(["finetune", "captioning", "--from", str(tiny_captioning_run), "--data",
                 str(tmp_path / "mine"), "--set", "epochs=1", "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    original = json.loads((tiny_captioning_run / "meta.json").read_text())
    assert meta["vocabulary"] == original["vocabulary"]  # the model's words are kept
    assert "finetune" in json.loads((out / "metrics.json").read_text())


def test_finetune_template(tiny_captioning_run, tmp_path):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "templates" / "finetune_captioning.py"
    spec = importlib.util.spec_from_file_location("finetune_captioning", path)
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    template.SETTINGS = ["epochs=1", "learning_rate=0.005", "patience=3"]  # its wiring
    write_caption_folder(tmp_path / "mine", count=30, seed=8)
    metrics = template.main(str(tiny_captioning_run), str(tmp_path / "mine"),
                            str(tmp_path / "tuned"))
    report = metrics["finetune"]
    assert report["frozen"] == ["conv"]
    assert 0.0 <= report["validation_exact_match_after"] <= 1.0


@pytest.mark.parametrize("settings", [["cell=lstm"], ["cell=gru", "attention=true"],
                                      ["cell=lstm", "attention=true"]])
def test_step_decoding_matches_the_teacher_forced_graph(settings):
    """Greedy decoding step by step picks what the training graph would score highest."""
    from gallery.config import apply_overrides
    from gallery.decoding import greedy_decode
    from rnn_gallery.tasks.captioning.config import CaptioningConfig
    from rnn_gallery.tasks.captioning.model import END, START, build_model

    config = apply_overrides(CaptioningConfig(), ["units=12", "filters=4", *settings])
    vocabulary = ["<pad>", "<start>", "<end>", "<unk>"] + [f"w{i}" for i in range(8)]
    model = build_model(config, len(vocabulary))
    pixels = tf.constant(np.random.default_rng(0).random((3, 40, 112, 1), "float32"))
    tokens, lengths, _ = greedy_decode(model.decode_step, model.start_states(pixels), 3,
                                       START, END, 6)
    caption_in = tf.concat([tf.fill([3, 1], START), tokens[:, :-1]], axis=1)
    logits = model.core([pixels, caption_in], training=False)
    forced = tf.argmax(logits, axis=-1, output_type=tf.int32).numpy()
    for row, n in enumerate(lengths.numpy()):
        np.testing.assert_array_equal(forced[row, :n + 1], tokens.numpy()[row, :n + 1])


def test_attention_model_serves_with_beam_search(tmp_path):
    from gallery.config import apply_overrides
    from gallery.export.saved_model import export_saved_model
    from gallery.registry import get_task
    from rnn_gallery.tasks.captioning.config import CaptioningConfig
    from rnn_gallery.tasks.captioning.model import build_model

    task = get_task("captioning")
    config = apply_overrides(CaptioningConfig(), ["units=12", "filters=4", "attention=true",
                                                  "beam_width=3"])
    vocabulary = ["<pad>", "<start>", "<end>", "<unk>", "one", "two"]
    model = build_model(config, len(vocabulary))
    out = export_saved_model(task, config, model, {"vocabulary": vocabulary}, tmp_path / "x")
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    image = png_bytes(np.random.default_rng(1).random((40, 112, 1), "float32"))
    result = serve(image=tf.constant([image, b"broken"]))
    captions = [c.decode() for c in result["caption"].numpy()]
    assert captions[1] == "" and set(captions[0].split()) <= set(vocabulary)


def test_beams_signature_lists_the_beam_best_first_with_its_log_probabilities(loaded):
    """Every alternative's score is the teacher-forced log-probability of its caption
    (and ``<end>``) under the core; the first is what ``serving_default`` returns."""
    from rnn_gallery.tasks.captioning.model import END, START

    task, config, model, meta, splits = loaded
    images = tf.constant([png_bytes(p) for p in splits.test.images[:3]] + [b"not an image"])
    beams = task.extra_endpoints(config, model, meta)["beams"](images)
    served = task.serving_function(config, model, meta)(images)
    captions, scores = beams["captions"].numpy(), beams["scores"].numpy()
    assert captions.shape == (4, config.beam_width)
    np.testing.assert_array_equal(captions[:, 0], served["caption"].numpy())
    np.testing.assert_allclose(scores[:, 0], served["score"].numpy(), rtol=1e-5)
    assert (np.diff(scores[:3], axis=1) <= 1e-6).all()
    assert list(captions[3]) == [b""] * config.beam_width and np.isneginf(scores[3]).all()
    index = {w: i for i, w in enumerate(meta["vocabulary"])}
    core = model.core
    for row in range(3):
        for caption, score in zip(captions[row], scores[row]):
            ids = [index[w] for w in caption.decode().split()] + [END]
            logits = core([tf.constant(splits.test.images[row:row + 1]),
                           tf.constant([[START] + ids[:-1]], tf.int32)], training=False)
            log_p = tf.nn.log_softmax(logits[0]).numpy()
            assert score == pytest.approx(log_p[np.arange(len(ids)), ids].sum(), abs=1e-4)
