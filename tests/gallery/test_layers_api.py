"""Serialization round trips, dropout, and clear errors on bad arguments."""

import keras
import numpy as np
import pytest

from gallery.layers import ElmanCell, GRUCell, LSTMCell, Recurrent, make_cell


def _model():
    inputs = keras.Input((None, 3))
    x = keras.layers.Masking()(inputs)
    x = keras.layers.Bidirectional(
        Recurrent([LSTMCell(4), GRUCell(4, reset_after=False)], return_sequences=True))(x)
    x = Recurrent(ElmanCell(3, activation="relu", dropout=0.2), go_backwards=True)(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def test_keras_file_round_trip(tmp_path):
    model = _model()
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    x[1, 3:] = 0.0  # padding the Masking layer removes
    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), expected)
    cells = restored.layers[2].forward_layer.cells
    assert [type(c).__name__ for c in cells] == ["LSTMCell", "GRUCell"]
    assert cells[1].reset_after is False


@pytest.mark.parametrize("cell", [ElmanCell(3, activation=None, use_bias=False),
                                  LSTMCell(3, unit_forget_bias=False, dropout=0.1),
                                  GRUCell(3, reset_after=False, seed=4)])
def test_cell_config_round_trip(cell):
    clone = type(cell).from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()


def test_dropout_only_in_training_and_one_mask_per_sequence():
    cell = ElmanCell(4, activation=None, dropout=0.5, use_bias=False, seed=1)
    layer = Recurrent(cell, return_sequences=True)
    x = np.ones((64, 6, 8), "float32")
    layer(x)
    cell.set_weights([np.eye(8, 4, dtype="float32"), np.zeros((4, 4), "float32")])
    np.testing.assert_array_equal(layer(x, training=False), x[..., :4])
    dropped = np.asarray(layer(x, training=True))
    assert set(np.unique(dropped)) == {0.0, 2.0}  # inverted dropout, rate 0.5
    np.testing.assert_array_equal(dropped, np.repeat(dropped[:, :1], 6, axis=1))


@pytest.mark.parametrize("units", [0, -3, 2.5, None, True])
def test_bad_units(units):
    with pytest.raises(ValueError, match=r"`units` must be a positive integer; received"):
        LSTMCell(units)


def test_bad_activation_and_cell_name_and_rate():
    with pytest.raises(ValueError, match=r"activation.*nonsense"):
        ElmanCell(3, activation="nonsense")
    with pytest.raises(ValueError, match=r"received cell='rnn'"):
        make_cell("rnn", 3)
    with pytest.raises(ValueError, match=r"dropout.*received dropout=1.5"):
        GRUCell(3, dropout=1.5)


@pytest.mark.parametrize("mask_shape", [(2, 4), (2, 5, 1), (3, 5)])
def test_mask_of_wrong_shape(mask_shape):
    layer = Recurrent(LSTMCell(3))
    with pytest.raises(ValueError, match=r"`mask` must have shape \(batch, time\) = \(2, 5\)"):
        layer(np.zeros((2, 5, 3), "float32"), mask=np.ones(mask_shape, bool))
