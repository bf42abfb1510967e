"""The hierarchical multiscale LSTM: the three operations on hand-set weights, the
straight-through gradient, equation-level NumPy references, padding, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gallery.layers import HMLSTM, HMLSTMCell, Recurrent, SlopeAnnealing
from gallery.layers.hmlstm_cell import boundary
from tests.gallery.helpers import right_padded_mask


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_layer_norm(v, gain):
    return (v - v.mean()) / np.sqrt(v.var() + 1e-5) * gain


def np_hmlstm(weights, x, units, slope=1.0, gains=None, boundary_kernels=None):
    """Equation-level reference: ``x (B, T, D)`` → ``hs [(B, T, H_ℓ)], zs (B, T, L)``.

    ``weights[k] = (W, U, U_td or None, b)``; gate order f i o g z; the three cases
    written as the paper's if/else per sequence and layer. With ``gains[k] (4H_ℓ,)``,
    the gate pre-activations (not the boundary's) are layer-normalised before the bias.
    With ``boundary_kernels[k] (H_ℓ, 1)``, the boundary reads the new ``h`` instead:
    ``u = h_t v + b[z]`` (``boundary_input="hidden"``; the kernels have no z column).
    """
    batch, steps, _ = x.shape
    L = len(units)
    h = [np.zeros((batch, u)) for u in units]
    c = [np.zeros((batch, u)) for u in units]
    z = [np.zeros(batch) for _ in units]
    hs = [np.zeros((batch, steps, u)) for u in units]
    zs = np.zeros((batch, steps, L))
    for t in range(steps):
        h_prev = [v.copy() for v in h]
        below, z_below = x[:, t].astype("float64"), np.ones(batch)
        for k, H in enumerate(units):
            W, U, U_td, b = weights[k]
            for n in range(batch):
                s = h_prev[k][n] @ U
                if z_below[n] == 1:
                    s = s + below[n] @ W
                if k + 1 < L and z[k][n] == 1:
                    s = s + h_prev[k + 1][n] @ U_td
                if gains is not None:
                    s[:4 * H] = np_layer_norm(s[:4 * H], gains[k])
                s = s + b[:s.shape[-1]]
                f, i, o = sigmoid(s[:H]), sigmoid(s[H:2 * H]), sigmoid(s[2 * H:3 * H])
                g = np.tanh(s[3 * H:4 * H])
                if boundary_kernels is None:
                    z_new = float(np.clip((slope * s[4 * H] + 1) / 2, 0, 1) > 0.5)
                if z[k][n] == 1:  # FLUSH
                    c[k][n] = i * g
                    h[k][n] = o * np.tanh(c[k][n])
                elif z_below[n] == 1:  # UPDATE
                    c[k][n] = f * c[k][n] + i * g
                    h[k][n] = o * np.tanh(c[k][n])
                # COPY: c and h stay
                if boundary_kernels is not None:
                    u = h[k][n] @ boundary_kernels[k][:, 0] + b[4 * H]
                    z_new = float(np.clip((slope * u + 1) / 2, 0, 1) > 0.5)
                z[k][n] = z_new
            hs[k][:, t] = h[k]
            zs[:, t, k] = z[k]
            below, z_below = h[k], z[k]
    return hs, zs


def cell_weights(cell):
    """``[(W, U, U_td or None, b)]`` per layer, as NumPy arrays."""
    return [(np.asarray(cell.kernels[k]), np.asarray(cell.recurrent_kernels[k]),
             None if cell.top_down_kernels[k] is None else np.asarray(cell.top_down_kernels[k]),
             np.asarray(cell.biases[k])) for k in range(cell.num_layers)]


def run_cell(cell, x, **kwargs):
    """The cell over ``x`` in ``Recurrent``: ``(hs [(B, T, H_ℓ)], zs (B, T, L))``."""
    out = np.asarray(Recurrent(cell, return_sequences=True, **kwargs)(x))
    hs, start = [], 0
    for u in cell.units_per_layer:
        hs.append(out[..., start:start + u])
        start += u
    return hs, out[..., start:]


def set_boundary_bias(cell, value):
    for k, units in enumerate(cell.units_per_layer):
        b = np.asarray(cell.biases[k]).copy()
        b[4 * units] = value
        cell.biases[k].assign(b)


def assert_equals_reference(hs, zs, ref_hs, ref_zs):
    """Boundaries equal to the NumPy reference's (both kinds seen), hidden states close."""
    assert 0.1 < zs.mean() < 0.9, "the test should see both kinds of boundary"
    np.testing.assert_array_equal(zs, ref_zs)
    for ours, ref in zip(hs, ref_hs):
        np.testing.assert_allclose(ours, ref, atol=1e-5)


def assert_round_trips(layer, x, path):
    """``layer`` in a model saved to ``path`` and loaded gives the same outputs on ``x``;
    returns the loaded model."""
    model = keras.Sequential([keras.Input((None, x.shape[-1])), layer])
    model.save(path)
    loaded = keras.saving.load_model(path)
    for ours, theirs in zip(model(x), loaded(x)):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=1e-6)
    return loaded


def test_matches_numpy_reference_with_learned_boundaries():
    units = [4, 3, 5]
    x = np.random.default_rng(0).normal(size=(3, 9, 2)).astype("float32")
    cell = HMLSTMCell(units, slope=1.5, bias_initializer="random_normal")
    hs, zs = run_cell(cell, x)
    ref_hs, ref_zs = np_hmlstm(cell_weights(cell), x, units, slope=1.5)
    assert_equals_reference(hs, zs, ref_hs, ref_zs)


def test_boundary_from_the_hidden_state_matches_numpy_reference(tmp_path):
    units = [4, 3, 5]
    x = np.random.default_rng(3).normal(size=(3, 9, 2)).astype("float32")
    cell = HMLSTMCell(units, slope=1.5, bias_initializer="random_normal",
                      boundary_input="hidden")
    cell.build((None, 2))
    rng = np.random.default_rng(4)
    for kernel in cell.boundary_kernels:  # large enough to fire about half the time
        kernel.assign(rng.normal(size=kernel.shape) * 3)
    set_boundary_bias(cell, 0.0)
    hs, zs = run_cell(cell, x)
    assert [tuple(k.shape) for k in cell.kernels] == [(2, 16), (4, 12), (3, 20)]
    v = [np.asarray(k) for k in cell.boundary_kernels]
    ref_hs, ref_zs = np_hmlstm(cell_weights(cell), x, units, slope=1.5, boundary_kernels=v)
    assert_equals_reference(hs, zs, ref_hs, ref_zs)
    assert_round_trips(HMLSTM(units, boundary_input="hidden", return_boundaries=True), x,
                       tmp_path / "m.keras")
    with pytest.raises(ValueError, match="boundary_input"):
        HMLSTMCell([2], boundary_input="input")


def test_layer_norm_matches_numpy_reference_and_round_trips(tmp_path):
    units = [4, 3]
    x = np.random.default_rng(6).normal(size=(2, 7, 3)).astype("float32")
    cell = HMLSTMCell(units, slope=2.0, bias_initializer="random_normal", layer_norm=True)
    cell.build((None, 3))
    rng = np.random.default_rng(7)
    for gain in cell.layer_norm_gains:  # not all ones, so the gain's place is checked
        gain.assign(rng.uniform(0.5, 1.5, gain.shape).astype("float32"))
    hs, zs = run_cell(cell, x)
    gains = [np.asarray(g) for g in cell.layer_norm_gains]
    ref_hs, ref_zs = np_hmlstm(cell_weights(cell), x, units, slope=2.0, gains=gains)
    assert_equals_reference(hs, zs, ref_hs, ref_zs)
    loaded = assert_round_trips(HMLSTM(units, layer_norm=True, return_boundaries=True), x,
                                tmp_path / "ln.keras")
    assert loaded.layers[0].cell.layer_norm and len(loaded.layers[0].cell.layer_norm_gains) == 2


def np_stacked_lstm_with_extra_inputs(weights, x, units):
    """A stacked LSTM whose layer ℓ reads ``[h_t^{ℓ-1}, h_{t-1}^{ℓ+1}]`` and whose cell is
    reset every step (what FLUSH does); gate order f i o g, the z column ignored."""
    batch, steps, _ = x.shape
    h = [np.zeros((batch, u)) for u in units]
    out = [np.zeros((batch, steps, u)) for u in units]
    for t in range(steps):
        below, prev = x[:, t], [v.copy() for v in h]
        for k, H in enumerate(units):
            W, U, U_td, b = weights[k]
            inputs, kernel = (below, W) if U_td is None else (
                np.concatenate([below, prev[k + 1]], -1), np.concatenate([W, U_td], 0))
            s = inputs @ kernel + prev[k] @ U + b
            i, o, g = sigmoid(s[:, H:2 * H]), sigmoid(s[:, 2 * H:3 * H]), np.tanh(s[:, 3 * H:4 * H])
            c = i * g  # + f * c_{t-1} with c_{t-1} flushed to 0
            h[k] = o * np.tanh(c)
            below = h[k]
            out[k][:, t] = h[k]
    return out


def test_boundaries_forced_to_one_reduce_to_a_stacked_lstm_with_extra_inputs():
    units = [3, 4, 2]
    x = np.random.default_rng(1).normal(size=(2, 6, 3)).astype("float32")
    cell = HMLSTMCell(units)
    cell.build((None, 3))
    set_boundary_bias(cell, 50.0)  # z = 1 everywhere: every layer FLUSHes every step
    hs, zs = run_cell(cell, x)
    assert zs.min() == 1.0
    for ours, ref in zip(hs, np_stacked_lstm_with_extra_inputs(cell_weights(cell), x, units)):
        np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_boundaries_forced_to_zero_make_layer_one_a_keras_lstm():
    """z ≡ 0: layer 1 UPDATEs every step (the input is always there), i.e. it is a plain
    LSTM; the layers above COPY their zero state forever."""
    units = [4, 3]
    x = np.random.default_rng(2).normal(size=(2, 7, 3)).astype("float32")
    cell = HMLSTMCell(units, bias_initializer="random_normal")
    cell.build((None, 3))
    set_boundary_bias(cell, -50.0)
    hs, zs = run_cell(cell, x)
    assert zs.max() == 0.0 and np.abs(hs[1]).max() == 0.0
    keras_lstm = keras.layers.LSTM(4, return_sequences=True)
    keras_lstm.build((None, 7, 3))
    order = lambda w: np.concatenate([w[..., 4:8], w[..., 0:4], w[..., 12:16], w[..., 8:12]], -1)  # noqa: E731 f i o g -> i f g o
    W, U, _, b = cell_weights(cell)[0]
    keras_lstm.set_weights([order(W[..., :16]), order(U[..., :16]), order(b[:16])])
    np.testing.assert_allclose(hs[0], np.asarray(keras_lstm(x)), atol=1e-5)


def hand_set_cell():
    """Three layers of one unit: all kernels 0 except the top-down one into layer 2 and
    layer 2's bottom-up one (both 1 on every column); gates from the biases alone."""
    cell = HMLSTMCell([1, 1, 1])
    cell.build((None, 1))
    for k in range(3):
        for w in (cell.kernels[k], cell.recurrent_kernels[k], cell.top_down_kernels[k]):
            if w is not None:
                w.assign(np.zeros(w.shape))
    cell.kernels[1].assign(np.ones((1, 5)))
    cell.top_down_kernels[1].assign(np.ones((1, 5)))
    return cell


def layer2_step(z1_bias, z2_tm1, h1_value=0.5, h3_tm1=2.0, c2_tm1=0.8, h2_tm1=-0.3):
    """One step with layer 1's boundary forced by bias and ``z_{t-1}^2`` by the state;
    returns ``h_t^1`` and layer 2's ``h_t, c_t`` and its gate biases."""
    cell = hand_set_cell()
    biases = np.array([0.4, -0.2, 0.3, 0.7, -50.0])  # f i o g z (layer 2 never fires)
    cell.biases[1].assign(biases)
    cell.biases[0].assign(np.array([0, 0, 0, 1.0, z1_bias]))  # h_t^1 = ½ tanh(½ tanh 1)
    states = [np.full((1, 1), v, "float32") for v in
              (h1_value, 0.0, 0.0, h2_tm1, c2_tm1, z2_tm1, h3_tm1, 0.0, 0.0)]
    _, new = cell(np.zeros((1, 1), "float32"), states)
    h1 = float(new[0][0, 0])
    return h1, float(new[3][0, 0]), float(new[4][0, 0]), biases


def test_update_uses_bottom_up_but_not_top_down():
    h1, h2, c2, b = layer2_step(z1_bias=50.0, z2_tm1=0.0)
    s = b[:4] + h1  # bottom-up h_t^1 (z^1 = 1); no top-down (z_{t-1}^2 = 0)
    f, i, o, g = sigmoid(s[0]), sigmoid(s[1]), sigmoid(s[2]), np.tanh(s[3])
    assert c2 == pytest.approx(f * 0.8 + i * g, abs=1e-6)
    assert h2 == pytest.approx(o * np.tanh(f * 0.8 + i * g), abs=1e-6)


def test_copy_keeps_c_and_h():
    _, h2, c2, _ = layer2_step(z1_bias=-50.0, z2_tm1=0.0)
    assert (c2, h2) == (float(np.float32(0.8)), float(np.float32(-0.3)))  # bit for bit


@pytest.mark.parametrize("z1_bias", [50.0, -50.0])
def test_flush_forgets_c_and_reads_top_down(z1_bias):
    h1, h2, c2, b = layer2_step(z1_bias=z1_bias, z2_tm1=1.0)
    s = b[:4] + 2.0 + (h1 if z1_bias > 0 else 0.0)  # top-down h_{t-1}^3 = 2 (z_{t-1}^2 = 1)
    i, o, g = sigmoid(s[1]), sigmoid(s[2]), np.tanh(s[3])
    assert c2 == pytest.approx(i * g, abs=1e-6)
    assert h2 == pytest.approx(o * np.tanh(i * g), abs=1e-6)


@pytest.mark.parametrize("slope", [1.0, 2.5])
def test_straight_through_gradient_is_the_hard_sigmoids(slope):
    u = tf.constant(np.linspace(-1.5, 1.5, 31) + 0.013, tf.float32)  # off the kinks
    with tf.GradientTape() as tape:
        tape.watch(u)
        z = boundary(u, slope)
    grad = tape.gradient(z, u).numpy()
    a_u = slope * u.numpy()
    np.testing.assert_array_equal(z.numpy(), (a_u > 0).astype("float32"))
    expected = np.where(np.abs(a_u) < 1, slope / 2, 0.0)
    np.testing.assert_allclose(grad, expected, atol=1e-6)


@pytest.mark.parametrize("slope", [1.0, 2.5])
def test_sigmoid_straight_through_gradient_is_the_sigmoids(slope):
    u = tf.constant(np.linspace(-6.0, 6.0, 41) + 0.013, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(u)
        z = boundary(u, slope, "sigmoid")
    grad = tape.gradient(z, u).numpy()
    a_u = slope * u.numpy()
    np.testing.assert_array_equal(z.numpy(), (a_u > 0).astype("float32"))
    expected = slope * sigmoid(a_u) * (1 - sigmoid(a_u))
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)  # float32 σ(1 - σ)
    assert (grad > 0).all()  # never exactly 0, unlike the hard sigmoid's beyond |a·u| = 1


def test_rejects_an_unknown_boundary_gradient():
    with pytest.raises(ValueError, match="boundary_gradient"):
        HMLSTM([3], boundary_gradient="tanh")


def boundary_chain_gradient(top_down_gradient, steps=60, slope=5.0):
    """``∂(Σ_t z_t^1)/∂U_td^1[z]`` for a 2-layer cell (1 unit each) set up so that layer
    1's boundary stays on at ``a·u_t = 0.05`` only through its top-down gate: each step
    ``u_t = z_{t-1}^1 · h^2 · M - (h^2 · M - 0.01)`` with a constant ``h^2``. Through
    the gate, the straight-through chain gains ``a·σ'(a·u)·h^2·M ≈ 7.6`` per step.
    Returns ``(gradient, the one-step value a·σ'(0.05)·h^2)``."""
    cell = HMLSTMCell([1, 1], slope=slope, boundary_gradient="sigmoid",
                      top_down_gradient=top_down_gradient)
    cell.build((None, 1))
    for w in cell.weights[:-1]:
        w.assign(np.zeros(w.shape))
    h2 = float(np.tanh(1.0))  # layer 2 starts (and stays) at c = 1, h = tanh 1
    cell.biases[1].assign([-20.0, 20.0, 20.0, 20.0, -20.0])  # f=0, i=o=g=1, z²=0
    big = 8.0
    cell.biases[0].assign([0.0, 0.0, 0.0, 0.0, -(h2 * big - 0.01)])
    column = tf.Variable([[0.0, 0.0, 0.0, 0.0, big]])
    cell.top_down_kernels[0].assign(column)
    initial = [tf.zeros((1, 1)), tf.zeros((1, 1)), tf.ones((1, 1)),      # h¹ c¹ z¹
               tf.fill((1, 1), h2), tf.ones((1, 1)), tf.zeros((1, 1))]   # h² c² z²
    x = tf.zeros((1, steps, 1))
    with tf.GradientTape() as tape:
        out = Recurrent(cell, return_sequences=True)(x, initial_state=initial, training=True)
        total = tf.reduce_sum(out[..., -2])  # z¹ at every step
    assert float(total) == steps  # the boundary stays on
    grad = float(tape.gradient(total, cell.top_down_kernels[0])[0, 4])
    a_u = slope * 0.01
    return grad, slope * sigmoid(a_u) * (1 - sigmoid(a_u)) * h2


def test_straight_through_chain_through_the_top_down_gate_explodes_unless_cut():
    """The lesson's HM-LSTM went NaN this way: the paper's gradient through the top-down
    gate multiplies from step to step, here ≈ 7.6^60 > float32's range; cut, every step
    contributes its own a·σ'(a·u)·h² once."""
    paper, _ = boundary_chain_gradient(top_down_gradient=True)
    assert not np.isfinite(paper) or abs(paper) > 1e30
    cut, one_step = boundary_chain_gradient(top_down_gradient=False)
    assert cut == pytest.approx(60 * one_step, rel=1e-3)
    config = HMLSTM([2, 2], top_down_gradient=False).get_config()
    assert HMLSTM.from_config(config).cell.top_down_gradient is False


def test_boundary_rate_penalty_value_gradient_and_mask():
    layer = HMLSTM([3, 2], boundary_rate_weight=2.0, boundary_rate_target=[0.25, 0.5])
    z = np.array([[[1, 0], [0, 0], [1, 1], [1, 1]],
                  [[0, 1], [0, 1], [9, 9], [9, 9]]], "float32")  # 9s are padding
    mask = np.array([[True] * 4, [True, True, False, False]])
    rates = np.array([3 / 6, 4 / 6])  # over the six valid steps
    expected = 2.0 * ((rates[0] - 0.25) ** 2 + (rates[1] - 0.5) ** 2)
    z = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(z)
        penalty = layer.boundary_rate_penalty(z, mask)
    assert float(penalty) == pytest.approx(expected, rel=1e-6)
    grad = tape.gradient(penalty, z).numpy()  # 2λ(rate - r)/6 at every valid step
    per_layer = 2 * 2.0 * (rates - [0.25, 0.5]) / 6
    np.testing.assert_allclose(grad[mask], np.broadcast_to(per_layer, (6, 2)), rtol=1e-5)
    np.testing.assert_array_equal(grad[~mask], 0.0)


def rate_penalty_gradients(rate_gradient, boundary_input, boundary_gradient):
    """The forward ``z`` and the penalty's gradient on each layer's boundary bias, for a
    layer whose boundaries never fire (boundary bias -50, slope 3)."""
    layer = HMLSTM([3, 2], slope=3.0, boundary_bias=-50.0, boundary_rate_weight=2.0,
                   boundary_rate_target=[0.25, 0.5], rate_gradient=rate_gradient,
                   boundary_input=boundary_input, boundary_gradient=boundary_gradient)
    x = np.random.default_rng(9).normal(size=(2, 5, 4)).astype("float32")
    layer.build(x.shape)
    with tf.GradientTape() as tape:
        _, z = layer.split(layer.rnn(x, training=True))
        penalty = layer.boundary_rate_penalty(z)
    grads = tape.gradient(penalty, layer.cell.biases)
    return np.asarray(z), [float(np.asarray(g)[-1]) for g in grads]


@pytest.mark.parametrize("boundary_input, boundary_gradient, derivative",
                         [("hidden", "sigmoid", 3.0 / 4), ("gates", "hard_sigmoid", 3.0 / 2)])
def test_linear_rate_gradient_pulls_a_layer_that_never_fires(boundary_input, boundary_gradient,
                                                             derivative):
    z_est, grads_est = rate_penalty_gradients("estimator", boundary_input, boundary_gradient)
    z_lin, grads_lin = rate_penalty_gradients("linear", boundary_input, boundary_gradient)
    np.testing.assert_array_equal(z_est, 0.0)  # never fires
    np.testing.assert_array_equal(z_lin, z_est)  # the same forward value, exactly
    assert grads_est == [0.0, 0.0]  # the estimator's gradient has faded to nothing
    # 2λ(rate - r) · ∂z/∂u (∂u/∂b = 1 at each of the 10 steps, averaged over them)
    expected = [2 * 2.0 * (0.0 - r) * derivative for r in (0.25, 0.5)]
    np.testing.assert_allclose(grads_lin, expected, rtol=1e-5)
    config = HMLSTM([2, 2], rate_gradient="linear").get_config()
    assert HMLSTM.from_config(config).cell.rate_gradient == "linear"
    with pytest.raises(ValueError, match="rate_gradient"):
        HMLSTMCell([2], rate_gradient="straight")


def test_boundary_rate_penalty_is_added_only_in_training():
    tokens = keras.Input((None,), dtype="int32")
    layer = HMLSTM([3, 2], boundary_rate_weight=1.0, boundary_rate_target=0.3)
    model = keras.Model(tokens, layer(keras.layers.Embedding(5, 4)(tokens)))
    x = np.random.default_rng(8).integers(0, 5, (2, 6))
    model(x, training=False)
    assert not model.losses
    model(x, training=True)
    assert len(model.losses) == 1 and float(model.losses[0]) >= 0.0


def test_padding_leaves_every_state_unchanged():
    units, lengths, T = [3, 2, 2], [7, 4], 7
    x = np.random.default_rng(3).normal(size=(2, T, 2)).astype("float32")
    cell = HMLSTMCell(units, bias_initializer="random_normal")
    layer = Recurrent(cell, return_sequences=True, return_state=True)
    padded = x.copy()
    padded[1, 4:] = 99.0  # garbage in the padding
    out, *states = layer(padded, mask=right_padded_mask(lengths, T))
    alone, *alone_states = layer(x[1:, :4])
    np.testing.assert_allclose(np.asarray(out)[1, :4], np.asarray(alone)[0], atol=1e-6)
    last = np.asarray(alone)[0, -1]
    np.testing.assert_allclose(np.asarray(out)[1, 4:], np.stack([last] * 3),
                               atol=1e-6)
    for s, a in zip(states, alone_states):  # h, c and z of every layer
        np.testing.assert_allclose(np.asarray(s)[1], np.asarray(a)[0], atol=1e-6)


def small_model(vocab=7):
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab, 4)(tokens)
    h_e, z = HMLSTM([5, 4, 3], output_units=6, return_boundaries=True, slope=1.0,
                    boundary_gradient="sigmoid", boundary_rate_weight=0.5,
                    boundary_rate_target=[0.3, 0.2, 0.1])(x)
    return keras.Model(tokens, [keras.layers.Dense(vocab)(h_e), z])


def test_keras_round_trip_keeps_weights_slope_and_outputs(tmp_path):
    model = small_model()
    layer = model.layers[2]
    layer.slope.assign(3.0)
    tokens = np.random.default_rng(4).integers(0, 7, (2, 9))
    before = [np.asarray(t) for t in model(tokens)]
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[2], HMLSTM) and float(loaded.layers[2].slope) == 3.0
    assert loaded.layers[2].get_config() == layer.get_config()
    for a, b in zip(before, loaded(tokens)):
        np.testing.assert_allclose(a, np.asarray(b), atol=1e-6)


def test_output_module_is_eq_11():
    layer = HMLSTM([2, 3], output_units=4)
    x = np.random.default_rng(5).normal(size=(2, 5, 3)).astype("float32")
    h_e = np.asarray(layer(x))
    hs, _ = layer.split(np.asarray(layer.rnn(x)))
    hs = [np.asarray(h) for h in hs]
    w = np.asarray(layer.gate_kernel)
    gates = sigmoid(np.concatenate(hs, -1) @ w)
    mixed = sum(gates[..., k:k + 1] * (hs[k] @ np.asarray(layer.output_kernels[k]))
                for k in range(2))
    np.testing.assert_allclose(h_e, np.maximum(mixed, 0), atol=1e-6)


def test_slope_annealing_sets_the_slope_each_batch():
    layer = HMLSTM([3, 2], output_units=7)
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(7, 4),
                              layer])
    seen = []
    annealing = SlopeAnnealing([layer], start=1.0, rate=0.5, maximum=2.0)
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(float(layer.slope)))
    model.compile("adam", run_eagerly=True,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tokens = np.random.default_rng(6).integers(0, 7, (8, 5))
    model.fit(tokens, tokens, batch_size=2, epochs=1, verbose=0, callbacks=[annealing, record])
    assert seen == [1.0, 1.5, 2.0, 2.0]
    assert annealing.get_config() == {"start": 1.0, "rate": 0.5, "maximum": 2.0}


def test_rejects_bad_units():
    with pytest.raises(ValueError, match="units_per_layer"):
        HMLSTM([4, 0])


def test_exports_as_a_saved_model(tmp_path):
    model = small_model()
    tokens = np.random.default_rng(7).integers(0, 7, (2, 6)).astype("int32")
    expected = [np.asarray(t) for t in model(tokens)]
    model.export(tmp_path / "export", format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "export"))  # held: it owns the variables
    served = loaded.serve(tf.constant(tokens))
    for a, b in zip(expected, served):
        np.testing.assert_allclose(a, np.asarray(b), atol=1e-6)


def test_initial_biases_forget_gate_one_and_boundary_bias():
    cell = HMLSTMCell([3, 2], boundary_bias=2.0)
    cell.build((None, 4))
    for k, units in enumerate([3, 2]):
        b = np.asarray(cell.biases[k])
        np.testing.assert_array_equal(b, [1.0] * units + [0.0] * 3 * units + [2.0])
