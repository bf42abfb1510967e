"""``check_layer`` (tests/gallery/layer_check.py) on every public layer of gallery.layers."""

import keras
import numpy as np
import pytest
from layer_check import check_layer

from gallery.layers import (
    HMLSTM,
    BranchMean,
    ElmanCell,
    FrameNormalizer,
    GRUCell,
    LSTMCell,
    MaskedPooling,
    PerFrame,
    Recurrent,
    ShowAttendTell,
    StackBranches,
    TextToIds,
    WithMask,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 5, 3)).astype("float32")
MASK = np.arange(5)[None] < np.array([5, 3])[:, None]


def _two(layer, inputs, **kwargs):
    return layer(inputs[0], inputs[1], **kwargs)


CASES = {
    "recurrent_lstm": dict(make=lambda **kw: Recurrent(LSTMCell(4), return_sequences=True, **kw),
                           inputs=X, mask=MASK),
    "recurrent_gru_stack": dict(
        make=lambda **kw: Recurrent([GRUCell(4, recurrent_dropout=0.1),
                                     GRUCell(3, reset_after=False)], return_sequences=True, **kw),
        inputs=X, mask=MASK),
    "recurrent_elman_backwards": dict(
        make=lambda **kw: Recurrent(ElmanCell(4, activation="relu"), go_backwards=True, **kw),
        inputs=X, mask=MASK),
    "hmlstm": dict(make=lambda **kw: HMLSTM([4, 3], **kw), inputs=X, mask=MASK),
    "masked_pooling": dict(make=lambda **kw: MaskedPooling("max", **kw), inputs=X, mask=MASK,
                           train=False),
    "per_frame": dict(make=lambda **kw: PerFrame(keras.layers.Dense(3, **kw), **kw),
                      inputs=X, mask=MASK),
    "with_mask": dict(make=lambda **kw: WithMask(**kw), inputs=[X, MASK], train=False),
    "frame_normalizer": dict(
        make=lambda **kw: FrameNormalizer([0.1, 0.2, 0.3], [1.0, 2.0, 0.5], **kw),
        inputs=[X, np.array([5, 3], "int32")], call=_two, train=False, mixed=False),
    "stack_branches": dict(make=lambda **kw: StackBranches(**kw), inputs=[X, 2 * X],
                           train=False),
    "branch_mean": dict(make=lambda **kw: BranchMean(**kw), inputs=X[:, :, None].repeat(2, 2),
                        train=False),
    "text_to_ids": dict(make=lambda **kw: TextToIds(["good", "film"], max_length=4, **kw),
                        inputs=np.array(["good film", "a bad film indeed, really"]),
                        train=False, mixed=False),
    "show_attend_tell": dict(
        make=lambda **kw: ShowAttendTell(7, units=4, embedding_dim=3, attention_units=3,
                                         dropout=0.0, seed=1, **kw),
        inputs=[RNG.normal(size=(2, 4, 5)).astype("float32"),
                np.array([[1, 4, 6, 2, 0], [1, 3, 0, 0, 0]], "int32")], call=_two),
}


@pytest.mark.parametrize("name", list(CASES))
def test_public_layer(name, tmp_path):
    check_layer(tmp_path=tmp_path, **CASES[name])


def test_every_public_layer_is_checked():
    import gallery.layers

    checked = {type(case["make"]()).__name__ for case in CASES.values()}
    checked |= {"LSTMCell", "GRUCell", "ElmanCell", "RecurrentCell", "HMLSTMCell"}
    not_layers = {"CELLS", "make_cell", "recurrent_encoder", "StateCarrier", "SlopeAnnealing"}
    assert set(gallery.layers.__all__) - not_layers <= checked
