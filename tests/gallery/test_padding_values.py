"""Masked steps are selected, not blended: NaN or inf in the padding changes nothing.

``m·new + (1 − m)·old`` turns a NaN in a padded step into a NaN output (0·NaN = NaN);
the loops select instead. Checked on every loop: the TF loop (inference), the TF loop
under XLA (training, kernels off), the compiled kernels (training) and the generic
loop (a cell without a fused algebra), for outputs, final states and gradients with
respect to the inputs and every weight.
"""

import numpy as np
import pytest
import tensorflow as tf

from gallery import kernels
from gallery.layers import ElmanCell, GRUCell, LSTMCell, Recurrent

LENGTHS = np.array([5, 2, 4])
B, T, D, H = 3, 5, 3, 4
MASK = tf.constant(np.arange(T)[None] < LENGTHS[:, None])
CELLS = {"lstm": lambda: LSTMCell(H), "gru": lambda: GRUCell(H), "elman": lambda: ElmanCell(H),
         "gru_original_form": lambda: GRUCell(H, reset_after=False)}


def _padded(value):
    x = np.random.default_rng(0).normal(size=(B, T, D)).astype("float32")
    x[~np.asarray(MASK)] = value
    return tf.constant(x)


def _run(layer, x, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x, mask=MASK, training=training)
        flat = tf.nest.flatten(out)
        loss = sum(tf.reduce_sum(o * (k + 1.0)) for k, o in enumerate(flat))
    grads = tape.gradient(loss, [x, *layer.trainable_variables])
    return [np.asarray(t) for t in flat + grads]


KINDS = [("lstm", False), ("lstm", True), ("gru", False), ("elman", True),
         ("gru_original_form", False)]


def loop_cases():
    """Every kind on every loop; under XLA (a compile of a stack per case, the same
    selecting loop for every cell) only the Elman cell in the default run."""
    for kind, zero_output in KINDS:
        for path in ("plain", "xla", "compiled"):
            slow = path == "xla" and kind != "elman"
            yield pytest.param(kind, path, zero_output, id=f"{kind}-{zero_output}-{path}",
                               marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("kind,path,zero_output", loop_cases())
def test_nan_and_inf_padding_give_what_zero_padding_gives(kind, path, zero_output):
    if path == "compiled" and kernels.recurrent_ops() is None:
        pytest.fail("the compiled recurrent kernels did not build on this machine")
    layer = Recurrent([CELLS[kind](), CELLS[kind]()], return_sequences=True,
                      return_state=True, zero_output_for_mask=zero_output)
    layer.use_kernels = path == "compiled"
    layer(_padded(0.0))
    reference = _run(layer, _padded(0.0), training=path != "plain")
    for value in (np.nan, np.inf, -np.inf):
        got = _run(layer, _padded(value), training=path != "plain")
        for a, b in zip(got, reference, strict=True):
            assert np.isfinite(a).all()
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_the_kernels_select_masked_steps_themselves():
    """The ops alone (no zeroing of the padding in front of them): a NaN projection
    at a masked step reaches neither the outputs nor the gradients."""
    library = kernels.recurrent_ops()
    if library is None:
        pytest.fail("the compiled recurrent kernels did not build on this machine")
    rng = np.random.default_rng(1)
    mask = tf.cast(tf.transpose(MASK), tf.float32)  # (T, B)
    xp = rng.normal(size=(T, B, 4 * H)).astype("float32")
    u = tf.constant(rng.normal(size=(H, 4 * H)).astype("float32"))
    h0 = tf.zeros((B, H))
    results = []
    for value in (0.0, np.nan):
        xp_v = xp.copy()
        xp_v[~np.asarray(tf.transpose(MASK))] = value
        forward = library.gallery_recurrent_loop_forward(
            xp=xp_v, u=u, h0=h0, c0=h0, bias_h=tf.zeros([4 * H]), mask=mask,
            recurrent_mask=tf.zeros([0, 0]), cell="lstm")
        outputs, _, _, saved, prev_h, prev_c = forward
        backward = library.gallery_recurrent_loop_backward(
            d_outputs=tf.ones_like(outputs), dh_final=h0, dc_final=h0, saved=saved,
            prev_h=prev_h, prev_c=prev_c, u=u, mask=mask, recurrent_mask=tf.zeros([0, 0]),
            cell="lstm")
        results.append([forward[0], forward[1], forward[2], backward[0], backward[2]])
    for a, b in zip(*results, strict=True):
        assert np.isfinite(np.asarray(a)).all()
        np.testing.assert_array_equal(a, b)
