"""The feature cache: computed once, reused, recomputed for changed files or encoder."""

import os

import numpy as np

from gallery.data.feature_cache import cached_features
from gallery.runs import is_checkpoint_folder, remove_checkpoint_folder


def write_files(folder, count=5):
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(count):
        paths.append(folder / f"f{i}.bin")
        paths[-1].write_bytes(bytes([i]) * (i + 1))
    return paths


class Encoder:
    """Features = (file size, first byte, shift); counts the files it was asked for."""

    def __init__(self, shift=0.0):
        self.shift, self.seen = shift, []

    def __call__(self, paths):
        self.seen += [p.name for p in paths]
        return np.array([[p.stat().st_size, p.read_bytes()[0], self.shift] for p in paths])


def test_computed_once_then_reused(tmp_path, capsys):
    paths, cache = write_files(tmp_path / "data"), tmp_path / "run" / "checkpoint"
    encoder = Encoder()
    first = cached_features(cache, "train", paths, "enc:1", encoder, batch_size=2)
    assert len(encoder.seen) == 5 and first.dtype == np.float16
    again = cached_features(cache, "train", paths, "enc:1", encoder, batch_size=2)
    assert len(encoder.seen) == 5  # nothing computed again
    np.testing.assert_array_equal(first, again)
    assert "reused" in capsys.readouterr().err
    assert is_checkpoint_folder(cache)
    remove_checkpoint_folder(cache)  # deleted with the checkpoint once the run is complete
    assert not cache.exists()


def test_a_changed_file_is_computed_again_alone(tmp_path):
    paths, cache = write_files(tmp_path / "data"), tmp_path / "ck"
    encoder = Encoder()
    cached_features(cache, "train", paths, "enc:1", encoder)
    paths[2].write_bytes(b"\x09" * 10)
    os.utime(paths[2], ns=(1, 1))
    features = cached_features(cache, "train", paths, "enc:1", encoder)
    assert encoder.seen[5:] == ["f2.bin"]
    np.testing.assert_array_equal(features[2], [10, 9, 0])


def test_another_encoder_computes_everything_again(tmp_path):
    paths, cache = write_files(tmp_path / "data"), tmp_path / "ck"
    cached_features(cache, "train", paths, "enc:1", Encoder())
    other = Encoder(shift=1.0)
    features = cached_features(cache, "train", paths, "enc:2", other)
    assert len(other.seen) == 5 and (features[:, 2] == 1).all()
