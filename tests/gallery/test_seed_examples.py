"""The worked examples of docs/worked_examples.md (sections 1–4 and 7), exactly."""

import numpy as np
import pytest
import tensorflow as tf

from gallery.layers import ElmanCell, GRUCell, LSTMCell, Recurrent


def _elman(w_ih, w_hh, activation="relu"):
    cell = ElmanCell(1, activation=activation, use_bias=False)
    cell.build((None, 1))
    cell.set_weights([np.array([[w_ih]], "float32"), np.array([[w_hh]], "float32")])
    return cell


def _seq(*rows):
    return np.array(rows, "float32")[..., None]  # (B, T, 1)


def test_section1_bptt_by_hand():
    """Linear one-unit RNN: forward values and the hand-derived gradients."""
    cell = _elman(1.0, -1.0, activation=None)
    layer = Recurrent(cell, return_sequences=True)
    x, z0, y = _seq([1, 1]), tf.constant([[1.0]]), 2.0
    with tf.GradientTape() as tape:
        z = layer(x, initial_state=[z0])
        loss = (z[0, -1, 0] - y) ** 2
    np.testing.assert_allclose(z[0, :, 0], [0.0, 1.0])
    assert float(loss) == 1.0
    d_theta1, d_theta2 = tape.gradient(loss, [cell.kernel, cell.recurrent_kernel])
    assert float(d_theta1[0, 0]) == 0.0
    assert float(d_theta2[0, 0]) == 2.0


def test_section2_one_layer_relu():
    layer = Recurrent(_elman(1.0, 1.0), return_sequences=True, return_state=True)
    out, state = layer(_seq([1, 2, 3]), initial_state=[tf.constant([[0.5]])])
    np.testing.assert_array_equal(out[0, :, 0], [1.5, 3.5, 6.5])
    np.testing.assert_array_equal(state, [[6.5]])
    out, _ = layer(_seq([1, 2]), initial_state=[tf.constant([[0.5]])])
    np.testing.assert_array_equal(out[0, :, 0], [1.5, 3.5])
    out, _ = layer(_seq([1, 2, 3], [10, 20, 30]), initial_state=[tf.constant([[0.5], [5.0]])])
    np.testing.assert_array_equal(out[:, :, 0], [[1.5, 3.5, 6.5], [15, 35, 65]])


def test_section3_two_layer_relu():
    first, second = _elman(2.0, 1.0), _elman(1.0, 0.5)
    x = _seq([1, 2, 3], [10, 20, 30])
    h0 = [tf.constant([[0.5], [5.0]]), tf.constant([[0.2], [2.0]])]
    stack = Recurrent([first, second], return_sequences=True, return_state=True)
    out, state1, state2 = stack(x, initial_state=h0)
    np.testing.assert_allclose(out[:, :, 0], [[2.6, 7.8, 16.4], [26, 78, 164]], rtol=1e-6)
    np.testing.assert_allclose(state1[:, 0], [12.5, 125])
    layer1 = Recurrent(first, return_sequences=True)(x, initial_state=[h0[0]])
    np.testing.assert_allclose(layer1[0, :, 0], [2.5, 6.5, 12.5])


def test_section4_variable_length_batch():
    layer = Recurrent(_elman(1.0, 1.0), return_sequences=True, return_state=True)
    x = _seq([1, 2, 3], [10, 20, 0])
    mask = np.array([[True, True, True], [True, True, False]])
    out, state = layer(x, initial_state=[tf.constant([[0.5], [5.0]])], mask=mask)
    np.testing.assert_array_equal(out[0, :, 0], [1.5, 3.5, 6.5])
    np.testing.assert_array_equal(out[1, :2, 0], [15, 35])
    np.testing.assert_array_equal(state[:, 0], [6.5, 35])


# Section 7: the gated cells against their equations in PyTorch's notation (NumPy).
def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _weights(rng, d, h, gates):
    return (rng.normal(size=(d, gates * h)), rng.normal(size=(h, gates * h)))


@pytest.mark.parametrize("seed", [0, 1])
def test_section7_lstm_equations(seed):
    rng = np.random.default_rng(seed)
    d, h, b = 3, 4, 2
    w, u = _weights(rng, d, h, 4)
    bias = rng.normal(size=(4 * h,))
    x = rng.normal(size=(b, d))
    h_prev, c_prev = rng.normal(size=(b, h)), rng.normal(size=(b, h))
    cell = LSTMCell(h)
    cell.build((None, d))
    cell.set_weights([w.astype("float32"), u.astype("float32"), bias.astype("float32")])
    out, (h_new, c_new) = cell(x.astype("float32"), [h_prev.astype("float32"),
                                                     c_prev.astype("float32")])
    gate = {k: slice(i * h, (i + 1) * h) for i, k in enumerate("ifgo")}
    pre = x @ w + bias + h_prev @ u
    i, f, o = (_sigmoid(pre[:, gate[k]]) for k in "ifo")
    g = np.tanh(pre[:, gate["g"]])
    c_ref = f * c_prev + i * g
    h_ref = o * np.tanh(c_ref)
    np.testing.assert_allclose(c_new, c_ref, atol=1e-5)
    np.testing.assert_allclose(h_new, h_ref, atol=1e-5)
    np.testing.assert_allclose(out, h_ref, atol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_section7_gru_equations(reset_after):
    rng = np.random.default_rng(7)
    d, h, b = 3, 4, 2
    w, u = _weights(rng, d, h, 3)
    bias = rng.normal(size=(2, 3 * h) if reset_after else (3 * h,))
    x, h_prev = rng.normal(size=(b, d)), rng.normal(size=(b, h))
    cell = GRUCell(h, reset_after=reset_after)
    cell.build((None, d))
    cell.set_weights([w.astype("float32"), u.astype("float32"), bias.astype("float32")])
    out, (h_new,) = cell(x.astype("float32"), [h_prev.astype("float32")])
    zs, rs, ns = slice(0, h), slice(h, 2 * h), slice(2 * h, 3 * h)
    if reset_after:  # r, z = σ(W x + b_i + U h + b_h); n = tanh(W_n x + b_in + r ⊙ (U_n h + b_hn))
        xi, hh = x @ w + bias[0], h_prev @ u + bias[1]
        z, r = _sigmoid(xi[:, zs] + hh[:, zs]), _sigmoid(xi[:, rs] + hh[:, rs])
        n = np.tanh(xi[:, ns] + r * hh[:, ns])
    else:  # h̃ = tanh(W x + U (r ⊙ h) + b)
        xi = x @ w + bias
        z = _sigmoid(xi[:, zs] + h_prev @ u[:, zs])
        r = _sigmoid(xi[:, rs] + h_prev @ u[:, rs])
        n = np.tanh(xi[:, ns] + (r * h_prev) @ u[:, ns])
    h_ref = (1 - z) * n + z * h_prev
    np.testing.assert_allclose(h_new, h_ref, atol=1e-5)
    np.testing.assert_allclose(out, h_ref, atol=1e-5)
