"""Captioning data: composed house numbers, users' folders, TFDS (mocked)."""

import numpy as np
import pytest
from conftest import write_caption_folder

from gallery.config import apply_overrides
from gallery.errors import GalleryError
from rnn_gallery.tasks.captioning.config import CaptioningConfig
from rnn_gallery.tasks.captioning.data import (
    DIGIT_WORDS,
    compose,
    load_captioning_data,
    mnist_digits,
)


def _config(*settings):
    return apply_overrides(CaptioningConfig(), ["train_images=50", "val_images=10",
                                                "test_images=20", *settings])


def test_compose_is_seeded_and_captions_name_the_digits():
    digits, labels = mnist_digits()
    a = compose(digits, labels, 30, seed=9)
    b = compose(digits, labels, 30, seed=9)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.captions == b.captions
    assert a.images.shape == (30, 40, 112, 1) and 0 <= a.images.min() <= a.images.max() <= 1
    counts = {len(c.split()) for c in a.captions}
    assert counts <= {1, 2, 3, 4} and len(counts) > 1
    assert all(w in DIGIT_WORDS for c in a.captions for w in c.split())


def test_single_digit_image_holds_that_digit():
    digits, labels = mnist_digits()
    one = compose(digits[labels == 7][:1], labels[labels == 7][:1], 5, seed=1, max_digits=1)
    assert one.captions == ["seven"] * 5
    assert one.images.sum() > 30  # ink was drawn


def test_default_splits_use_disjoint_source_digits(monkeypatch):
    import rnn_gallery.tasks.captioning.data as data

    pools = []
    real = data.compose

    def spy(digits, labels, *args, **kwargs):
        pools.append({d.tobytes() for d in digits})
        return real(digits, labels, *args, **kwargs)
    monkeypatch.setattr(data, "compose", spy)
    splits = load_captioning_data(_config())
    train_pool, val_pool, test_pool = pools
    assert len(train_pool & test_pool) == 0 and train_pool == val_pool
    assert len(splits.train) == 50 and len(splits.test) == 20
    assert splits.meta["source"].endswith("(embedded)")


def test_user_folder_including_dark_on_light_images(tmp_path):
    data = write_caption_folder(tmp_path / "mine", count=20, dark_on_light=True)
    splits = load_captioning_data(_config(), str(tmp_path / "mine"))
    total = len(splits.train) + len(splits.validation) + len(splits.test)
    assert total == 20
    assert set(splits.train.captions) <= set(data.captions)
    assert splits.train.images.mean() < 0.3  # inverted: ink bright on a dark background


def test_folder_errors(tmp_path):
    with pytest.raises(GalleryError, match="not a folder"):
        load_captioning_data(_config(), str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(GalleryError, match="needs a captions.tsv"):
        load_captioning_data(_config(), str(tmp_path / "empty"))
    write_caption_folder(tmp_path / "gaps", count=5)
    (tmp_path / "gaps" / "img3.png").unlink()
    with pytest.raises(GalleryError, match="names 1 missing image"):
        load_captioning_data(_config(), str(tmp_path / "gaps"))
    write_caption_folder(tmp_path / "junk", count=5)
    (tmp_path / "junk" / "img2.png").write_text("this is not a picture")
    with pytest.raises(GalleryError, match="img2.png is not a readable image"):
        load_captioning_data(_config(), str(tmp_path / "junk"))


def test_tfds_coco_captions_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=4):
        splits = load_captioning_data(_config(), "tfds:coco_captions")
    assert splits.train.images.shape[1:] == (40, 112, 1)
    assert len(splits.test) == 4 and all(isinstance(c, str) for c in splits.test.captions)


def test_training_data_is_drawn_anew_each_epoch_and_augment_changes_digits():
    splits = load_captioning_data(_config())
    again = splits.train.fresh(77)
    assert len(again) == len(splits.train)
    assert not np.array_equal(again.images, splits.train.images)
    digits, labels = mnist_digits()
    plain = compose(digits, labels, 5, seed=4)
    varied = compose(digits, labels, 5, seed=4, augment=True)
    assert plain.captions == varied.captions and not np.array_equal(plain.images, varied.images)
