"""Captioning photos with the encoder's last blocks fine-tuned
(``--set fine_tune_encoder_blocks=N``): the features are cached at the cut, the tail
trains while the front and the batch norms stay, and the model round-trips ``.keras``
and its exports. Random encoder weights (the ``photos_tiny`` profile)."""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import write_photo_folder

from gallery.config import apply_overrides
from gallery.profiles import make_config
from gallery.registry import get_task
from gallery.training import fit_core
from gallery.vision.efficientnet_lite import tail_blocks
from gallery.vision.encoders import split_encoder

TUNED = 2  # block15 and the head: the cut is block14's 7×7×192 grid


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = write_photo_folder(tmp_path_factory.mktemp("photos") / "photos", count=8)
    return f"captions:{folder}"


def build(source, blocks=TUNED, settings=()):
    task = get_task("captioning")
    config = make_config(task, "photos_tiny", source,
                         [f"fine_tune_encoder_blocks={blocks}", *settings])
    splits = task.load_data(config, source)
    keras.utils.set_random_seed(config.seed)  # as training does: same seed, same weights
    return task, config, splits, task.build_model(config, splits)


def pixels_and_caption(model, count=2):
    pixels = np.random.default_rng(0).uniform(0, 255, (count, 224, 224, 3)).astype("float32")
    return pixels, np.array([[model.start_id, 2, 3, 0]] * count, "int32")


def test_the_split_encoder_computes_the_encoder():
    from gallery.vision.efficientnet_lite import efficientnet_lite0

    encoder = efficientnet_lite0(weights=None)
    pixels = np.random.default_rng(1).uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    whole = np.asarray(encoder(pixels))
    cuts = {1: (7, 7, 320), 2: (7, 7, 192), 6: (14, 14, 112), len(tail_blocks()): (112, 112, 32)}
    for blocks, cut in cuts.items():
        front, tail = split_encoder(encoder, "efficientnet_lite0", blocks)
        assert front.output_shape[1:] == cut
        np.testing.assert_allclose(tail(front(pixels)), whole, atol=1e-4)
        assert not front.trainable_weights
        trained = {w.path.split("/")[0] for w in tail.trainable_weights}
        assert trained and not any(name.endswith("_bn") for name in trained)
        assert {w.path.split("/")[0] for w in tail.non_trainable_weights} == \
            {layer.name for layer in tail.layers
             if isinstance(layer, keras.layers.BatchNormalization)}


def test_the_tail_trains_on_features_cached_at_the_cut(photos, tmp_path, capsys):
    task, config, splits, model = build(photos, settings=["epochs=1"])
    folder = tmp_path / "checkpoint"
    task.prepare(config, model, splits, folder)
    assert splits.train.features.shape[1:] == (7, 7, 192)
    index = json.loads((folder / "features-train.json").read_text())
    assert ":front-without-last-2-blocks:" in index["encoder"]

    front = [w.numpy().copy() for w in model.front.weights]
    bn = [w.numpy().copy() for layer in model.tail.layers if "_bn" in layer.name
          for w in layer.weights]
    convs = {w.path: w.numpy().copy() for w in model.tail.trainable_weights}
    fit_core(task, config, model, splits, verbose=0)
    assert all(np.array_equal(w.numpy(), old) for w, old in zip(model.front.weights, front))
    assert all(np.array_equal(w.numpy(), old) for w, old in zip(
        [w for layer in model.tail.layers if "_bn" in layer.name for w in layer.weights], bn))
    assert all(not np.array_equal(w.numpy(), convs[w.path])
               for w in model.tail.trainable_weights)

    capsys.readouterr()  # a resumed run (a new model, same settings) reuses the features
    again = build(photos, settings=["epochs=1"])
    task.prepare(config, again[3], again[2], folder)
    assert "reused" in capsys.readouterr().err
    np.testing.assert_array_equal(again[2].train.features, splits.train.features)


# default tier: the cut is in the cache's encoder key (test_the_tail_trains_on_features_
# cached_at_the_cut), another key computes again (tests/gallery/test_feature_cache.py),
# the cut's grid (test_the_split_encoder_computes_the_encoder); this builds a third
# EfficientNet and runs its front on the photos.
@pytest.mark.slow
def test_another_cut_computes_its_own_features(photos, tmp_path, capsys):
    task, config, splits, model = build(photos, settings=["epochs=1"])
    folder = tmp_path / "checkpoint"
    task.prepare(config, model, splits, folder)
    capsys.readouterr()
    other = build(photos, blocks=1)  # another cut: computed again, at its own grid
    task.prepare(other[1], other[3], other[2], folder)
    assert "reused" not in capsys.readouterr().err
    assert other[2].train.features.shape[1:] == (7, 7, 320)


def test_the_tuned_model_round_trips_keras(photos, tmp_path):
    _, _, _, model = build(photos)
    pixels, caption = pixels_and_caption(model)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again([pixels, caption]), model([pixels, caption]), atol=1e-5)
    assert again.fine_tune_encoder_blocks == TUNED
    assert [w.path for w in again.core.trainable_weights] == \
        [w.path for w in model.core.trainable_weights]


def test_fine_tuning_a_run_can_change_its_tuned_blocks(photos):
    """``gallery finetune --from RUN --set fine_tune_encoder_blocks=N``: the run's model
    rebuilt with its weights, giving the same outputs."""
    task, config, _, model = build(photos, blocks=0)
    pixels, caption = pixels_and_caption(model)
    tuned = task.model_for_settings(apply_overrides(config, ["fine_tune_encoder_blocks=2"]),
                                    model)
    assert tuned.fine_tune_encoder_blocks == 2 and tuned.tail is not None
    np.testing.assert_allclose(tuned([pixels, caption]), model([pixels, caption]), atol=1e-4)
    assert task.model_for_settings(config, model) is model


FROZEN_LAYOUT = ["pixels", "efficientnet_lite0", "grid", "caption_in", "core"]


def test_a_frozen_model_keeps_the_layout_saved_before_the_setting(photos):
    """A config without ``fine_tune_encoder_blocks`` (a ``.keras`` file written before
    the setting existed) builds the frozen model, whose layers (and so the weights'
    places in the file) are those such files hold."""
    _, _, _, model = build(photos, blocks=0)
    config = model.get_config()
    del config["fine_tune_encoder_blocks"]
    again = type(model).from_config(config)
    assert again.tail is None and [layer.name for layer in again.layers] == FROZEN_LAYOUT
    assert [w.path for w in again.weights] == [w.path for w in model.weights]


@pytest.mark.slow  # default tier: test_a_frozen_model_keeps_the_layout_saved_before_the_setting
def test_a_frozen_model_saved_without_the_setting_loads(photos, tmp_path):
    """The whole file: saved, its config stripped of the setting, loaded."""
    _, _, _, model = build(photos, blocks=0)
    pixels, caption = pixels_and_caption(model)
    model.save(tmp_path / "new.keras")
    with zipfile.ZipFile(tmp_path / "new.keras") as new, \
            zipfile.ZipFile(tmp_path / "old.keras", "w") as old:
        for item in new.namelist():
            data = new.read(item)
            if item == "config.json":
                saved = json.loads(data)
                del saved["config"]["fine_tune_encoder_blocks"]
                data = json.dumps(saved).encode()
            old.writestr(item, data)
    again = keras.saving.load_model(tmp_path / "old.keras")
    assert again.tail is None and [layer.name for layer in again.layers] == FROZEN_LAYOUT
    np.testing.assert_allclose(again([pixels, caption]), model([pixels, caption]), atol=1e-6)


@pytest.mark.slow  # default tier: test_the_tuned_model_round_trips_keras; the frozen
# model's exports: test_contract's captioning:photos case
def test_the_tuned_model_exports(photos, tmp_path):
    from gallery.export.saved_model import export_saved_model
    from gallery.export.tflite import export_tflite
    from gallery.export.tflite_runtime import TFLiteModel

    task, config, splits, model = build(photos)
    meta = splits.meta
    images = tf.constant([path.read_bytes() for path in splits.test.paths[:2]])
    expected = task.serving_function(config, model, meta)(images)
    served = tf.saved_model.load(str(export_saved_model(
        task, config, model, meta, tmp_path / "saved" / "1"))).signatures["serving_default"]
    response = served(image=images)
    for key in ("caption", "alternatives", "words"):
        np.testing.assert_array_equal(response[key].numpy(), expected[key].numpy())
    for key in ("score", "attention"):
        np.testing.assert_allclose(response[key].numpy(), expected[key].numpy(), atol=1e-5)

    lite = TFLiteModel(export_tflite(task, config, model, meta, tmp_path / "m.tflite")[0])
    pixels, _ = pixels_and_caption(model, count=1)
    states = lite.run("encoder", pixels=pixels)
    keras_states = model.start(model.features(pixels))
    for got, want in zip(states, keras_states):  # the encoder is front + tail
        np.testing.assert_allclose(got, np.asarray(want), atol=1e-4)
