"""Fixed word features: MiniLM vectors (safetensors reader, WordPiece) and the config."""

import numpy as np
import pytest

from gallery.config import apply_overrides
from gallery.data.word_vectors import (
    known_words,
    minilm_pieces,
    read_safetensors_tensor,
    word_vectors,
    wordpiece,
)
from gallery.errors import GalleryError
from rnn_gallery.tasks.sentiment.config import SentimentConfig


def test_safetensors_reader_round_trip(tmp_path):
    import json
    import struct

    data = np.arange(6, dtype="<f4").reshape(2, 3)
    header = json.dumps({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}})
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + data.tobytes())
    np.testing.assert_array_equal(read_safetensors_tensor(path, "w"), data)
    with pytest.raises(KeyError):
        read_safetensors_tensor(path, "missing")


def test_wordpiece_greedy_longest_match():
    vocabulary = {"un": 0, "##watch": 1, "##able": 2, "watch": 3, "##a": 4, "##b": 5}
    assert wordpiece("unwatchable", vocabulary) == ["un", "##watch", "##able"]
    assert wordpiece("watch", vocabulary) == ["watch"]
    assert wordpiece("xyz", vocabulary) is None
    assert wordpiece("", vocabulary) is None


def test_minilm_vectors_put_similar_words_close():
    table, vocabulary = minilm_pieces()
    assert table.shape == (30522, 384) and vocabulary["[CLS]"] == 101
    vectors, found = word_vectors(["good", "great", "awful", "qqqqzzzz\u2603"])
    assert found.tolist() == [True, True, True, False]
    assert not vectors[3].any()
    unit = vectors[:3] / np.linalg.norm(vectors[:3], axis=1, keepdims=True)
    assert unit[0] @ unit[1] > unit[0] @ unit[2]  # good is closer to great than to awful
    assert "masterpiece" in known_words()


def test_sentiment_config_needs_some_word_features():
    with pytest.raises(GalleryError, match="no word features"):
        apply_overrides(SentimentConfig(), ["embedding_dim=0", "pretrained=false",
                                            "lexicon=false"])
    with pytest.raises(GalleryError, match="bucket_boundaries"):
        apply_overrides(SentimentConfig(), ["bucket_boundaries=30,10"])
