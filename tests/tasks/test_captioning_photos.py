"""Captioning's photo path: the Flickr8k layout, split lists or a seeded split, the
vocabulary's count threshold, and the model's .keras round trip."""

import keras
import numpy as np
import pytest
from conftest import write_photo_folder

from gallery.errors import GalleryError
from gallery.profiles import make_config
from gallery.registry import get_task


@pytest.fixture
def photo_folder(tmp_path):
    return write_photo_folder(tmp_path / "photos", count=12)


def flickr_layout(folder, tmp_path):
    """The photo folder rearranged as Flickr8k: images/, captions.txt, split lists."""
    root = tmp_path / "flickr"
    (root / "images").mkdir(parents=True)
    for path in folder.glob("photo*"):
        path.rename(root / "images" / path.name)
    (root / "captions.txt").write_text((folder / "captions.csv").read_text())
    names = sorted(p.name for p in (root / "images").iterdir())
    (root / "Flickr_8k.trainImages.txt").write_text("\n".join(names[:8]) + "\n")
    (root / "Flickr_8k.devImages.txt").write_text("\n".join(names[8:]) + "\n")
    return root, names


def test_flickr8k_layout_uses_its_split_lists(photo_folder, tmp_path):
    task = get_task("captioning")
    root, names = flickr_layout(photo_folder, tmp_path)
    source = f"flickr8k:{root}"
    assert task.data_profile(source) == "photos"
    splits = task.load_data(make_config(task, "photos_tiny", source), source)
    assert [p.name for p in splits.train.paths] == names[:8]
    assert [p.name for p in splits.validation.paths] == names[8:]
    assert splits.test.paths == splits.validation.paths  # no test list: the dev split
    assert splits.meta["test_split"] == "development"
    assert all(len(refs) == 2 for refs in splits.train.references)


def test_a_folder_without_lists_is_split_by_a_seeded_draw(photo_folder):
    task = get_task("captioning")
    source = f"captions:{photo_folder}"
    first = task.load_data(make_config(task, "photos_tiny", source), source)
    again = task.load_data(make_config(task, "photos_tiny", source, ["seed=7"]), source)
    assert (len(first.train), len(first.validation), len(first.test)) == (10, 1, 1)
    assert first.train.paths == again.train.paths  # the split does not follow `seed`
    assert not set(first.train.paths) & set(first.test.paths)


def test_rare_words_are_left_out_of_the_vocabulary(photo_folder):
    task = get_task("captioning")
    source = f"captions:{photo_folder}"
    config = make_config(task, "photos_tiny", source, ["min_word_count=6"])
    vocabulary = task.load_data(config, source).meta["vocabulary"]
    captions = [c for line in (photo_folder / "captions.csv").read_text().splitlines()[1:]
                for c in [line.split(",", 1)[1]]]
    counts = {}
    for caption in captions:  # every caption, train or not: a superset of the training counts
        for word in caption.split():
            counts[word] = counts.get(word, 0) + 1
    assert "a" in vocabulary and all(counts[w] >= 6 for w in vocabulary)


def test_photos_need_an_encoder(photo_folder):
    task = get_task("captioning")
    with pytest.raises(GalleryError, match="holds photos"):
        task.load_data(make_config(task, "tiny"), f"captions:{photo_folder}")


def test_the_photo_model_round_trips_keras(photo_folder, tmp_path):
    task = get_task("captioning")
    source = f"captions:{photo_folder}"
    config = make_config(task, "photos_tiny", source)
    model = task.build_model(config, task.load_data(config, source))
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    caption = np.array([[model.start_id, 2, 3, 0]] * 2, "int32")
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again([pixels, caption]), model([pixels, caption]), atol=1e-5)
    assert again.vocabulary == model.vocabulary


@pytest.mark.slow
def test_the_photo_finetune_template(tmp_path):
    import importlib.util
    import pathlib

    from gallery.cli import main

    base = tmp_path / "base"

    assert main(["train", "captioning", "--profile", "photos_tiny", "--out", str(base),
                 "--data", f"captions:{write_photo_folder(tmp_path / 'a')}"]) == 0
    path = pathlib.Path(__file__).resolve().parents[2] / "templates" / \
        "finetune_captioning_photos.py"
    spec = importlib.util.spec_from_file_location("finetune_captioning_photos", path)
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    template.SETTINGS = ["epochs=1"]
    mine = write_photo_folder(tmp_path / "mine", count=10, seed=3)
    metrics = template.main(str(base), str(mine), str(tmp_path / "tuned"))
    assert metrics["finetune"]["from"] == str(base)
    assert 0.0 <= metrics["bleu4"] <= 100.0


def test_decoding_never_writes_padding_unknown_or_start(photo_folder):
    task = get_task("captioning")
    source = f"captions:{photo_folder}"
    config = make_config(task, "photos_tiny", source)
    model = task.build_model(config, task.load_data(config, source))
    last = model.decoder.word_logits
    bias = np.zeros(last.bias.shape, "float32")
    bias[[0, 1, model.start_id]] = 50.0  # the untrained decoder would prefer them
    last.bias.assign(bias)
    features = np.random.default_rng(1).normal(size=(3, 49, 1280)).astype("float32")
    tokens, lengths, _ = model.beams(features, beam_width=3)
    written = [t for row, n in zip(tokens.numpy()[:, 0], lengths.numpy()[:, 0]) for t in row[:n]]
    assert written and not {0, 1, model.start_id} & set(written)


def test_validation_bleu_scores_the_validation_captions(photo_folder):
    from rnn_gallery.tasks.captioning.photo_task import VAL_BLEU, ValidationBleu, write_captions
    from rnn_gallery.tasks.captioning.photos import Photos

    task = get_task("captioning")
    source = f"captions:{photo_folder}"
    config = make_config(task, "photos_tiny", source)
    model = task.build_model(config, task.load_data(config, source))
    features = np.random.default_rng(2).normal(size=(2, 49, 1280)).astype("float16")
    part = Photos(["a.jpg", "b.jpg"], [["A dog runs on the grass.", "a cat"],
                                       ["Two men ride bikes down a hill!"]], features)
    callback = ValidationBleu(config, model, part)
    assert callback.write(features) == write_captions(config, model, features)  # as evaluated
    logs = {}
    callback.write = lambda _: ["a dog runs on the grass", "two men ride bikes down a hill"]
    callback.on_epoch_end(0, logs)
    assert logs[VAL_BLEU] == pytest.approx(100.0)  # lower-cased, punctuation removed
    callback.write = lambda _: ["a dog runs on the grass", "a dog runs on the grass"]
    callback.on_epoch_end(1, logs)
    assert 0.0 < logs[VAL_BLEU] < 100.0


def test_early_stopping_watches_validation_bleu_for_photos_only(photo_folder):
    task = get_task("captioning")
    config = make_config(task, "photos_tiny", f"captions:{photo_folder}")
    assert task.monitored(config) == ("val_bleu4", "max")
    assert task.monitored(make_config(task, "tiny")) == ("val_loss", "auto")
    with pytest.raises(GalleryError, match="needs an image encoder"):
        make_config(task, "tiny", None, ["early_stopping_on=val_bleu4"])
    with pytest.raises(GalleryError, match="val_loss or val_bleu4"):
        make_config(task, "photos_tiny", None, ["early_stopping_on=bleu"])


def test_a_photo_run_records_validation_bleu_every_epoch(tiny_photo_run):
    import json

    history = json.loads((tiny_photo_run / "history.json").read_text())
    assert len(history["val_bleu4"]) == len(history["val_loss"]) >= 1
    assert all(0.0 <= b <= 100.0 for b in history["val_bleu4"])
