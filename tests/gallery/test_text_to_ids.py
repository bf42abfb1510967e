"""`TextToIds` owns its id layout: the ids it writes and its `id_to_token()` table agree."""

import numpy as np
import pytest
import tensorflow as tf

from gallery.layers.text import TextToIds


@pytest.mark.parametrize("mode, vocabulary, text", [
    ("words", ["good", "film", "a"], "A good, GOOD film"),
    ("words_punct", ["Ein", "Mann", "!", "("], "Ein Mann (klein)!"),
    ("chars", list("abc "), "cab ba"),
])
def test_ids_round_trip_through_the_table(mode, vocabulary, text):
    """Every vocabulary token gets its table id, in order after padding and unknown; a
    token outside the vocabulary gets ``unknown_id``, whose table entry is ``[UNK]``."""
    layer = TextToIds(vocabulary, max_length=50, tokens=mode, marks=True)
    table = layer.id_to_token()
    assert table[layer.padding_id] == "" and table[layer.unknown_id] == "[UNK]"
    assert [table.index(token) for token in vocabulary] == \
        list(range(2, 2 + len(vocabulary))) == list(range(2, layer.vocabulary_size))
    separator = "" if mode == "chars" else " "
    alone = np.asarray(layer(tf.constant([separator.join(vocabulary)])))[0]
    assert [table[i] for i in alone] == vocabulary
    ids = np.asarray(layer(tf.constant([text, ""])))
    tokens = [table[i] for i in ids[0] if i != layer.padding_id]
    expected = {"words": ["a", "good", "good", "film"],
                "words_punct": ["Ein", "Mann", "(", "[UNK]", "[UNK]", "!"],
                "chars": list("cab ba")}[mode]
    assert tokens == expected
    assert set(ids[1]) == {layer.padding_id}


def test_marks_follow_the_vocabulary():
    layer = TextToIds(["x", "y"], marks=True)
    table = layer.id_to_token()
    assert (layer.start_id, layer.end_id) == (4, 5) == (len(table) - 2, len(table) - 1)
    assert (table[layer.start_id], table[layer.end_id]) == ("<start>", "<end>")
    assert layer.id_to_token(blank_marks=True) == ["", "[UNK]", "x", "y", "", ""]
    assert TextToIds.from_config(layer.get_config()).id_to_token() == table
    plain = TextToIds(["x", "y"])
    assert plain.id_to_token() == ["", "[UNK]", "x", "y"]
    with pytest.raises(ValueError, match="no <start> and <end>"):
        plain.start_id
