"""The fused loop (hand-written backward pass; in training XLA or the compiled kernels)
against autodiff and Keras."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gallery import kernels
from gallery.layers import ElmanCell, GRUCell, LSTMCell, Recurrent

CELLS = {
    "lstm": (lambda: LSTMCell(6), keras.layers.LSTMCell),
    "gru": (lambda: GRUCell(6), keras.layers.GRUCell),
    "elman_tanh": (lambda: ElmanCell(6), keras.layers.SimpleRNNCell),
    "elman_relu": (lambda: ElmanCell(6, activation="relu"),
                   lambda n: keras.layers.SimpleRNNCell(n, activation="relu")),
    "elman_linear": (lambda: ElmanCell(6, activation="linear"),
                     lambda n: keras.layers.SimpleRNNCell(n, activation=None)),
}
X = tf.constant(np.random.default_rng(0).normal(size=(3, 9, 5)).astype("float32"))
MASK = tf.constant(np.arange(9)[None] < np.array([9, 5, 2])[:, None])


def outputs_and_grads(layer, training, mask, fused, compiled=False):
    for sub in [layer] + list(getattr(layer, "_layers", [])) + \
            [getattr(layer, n, None) for n in ("forward_layer", "backward_layer")]:
        if isinstance(sub, Recurrent):
            sub.use_fused, sub.use_kernels = fused, compiled
    with tf.GradientTape() as tape:
        out = layer(X, mask=mask, training=training)
        flat = tf.nest.flatten(out)
        loss = sum(tf.reduce_sum(o * (k + 1.0)) for k, o in enumerate(flat))
    return flat, tape.gradient(loss, layer.trainable_variables)


def assert_close(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-5, rtol=1e-5)


@pytest.fixture(params=["plain", "xla", "compiled"])
def path(request):
    """Which fused loop runs: the TF loop (inference), the TF loop under XLA
    (training, kernels off) or the compiled kernels (training)."""
    if request.param == "compiled" and kernels.recurrent_ops() is None:
        pytest.fail("the compiled recurrent kernels did not build on this machine")
    return request.param


def autodiff_cases():
    """Every shape, cell and mask on every loop; under XLA (one compile per case) the
    default run keeps the masked two-layer backwards stack of the three gate layouts
    (LSTM, GRU, Elman); both shapes run in the default tier on the other two loops."""
    for path_ in ("plain", "xla", "compiled"):
        for shape in ("stack2_backwards", "bidirectional"):
            for name in CELLS:
                for masked in (False, True):
                    slow = path_ == "xla" and (not masked or shape == "bidirectional"
                                               or name in ("elman_relu", "elman_linear"))
                    case = f"{path_}-{shape}-{name}-{'mask' if masked else 'nomask'}"
                    yield pytest.param(name, masked, path_, shape, id=case,
                                       marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("name,masked,path,shape", autodiff_cases(), indirect=["path"])
def test_fused_equals_autodiff_loop(name, masked, path, shape):
    training = path != "plain"
    keras.utils.set_random_seed(3)
    make = CELLS[name][0]
    if shape == "bidirectional":
        layer = keras.layers.Bidirectional(Recurrent(make(), return_sequences=True))
    else:
        layer = Recurrent([make(), make()], return_sequences=True, return_state=True,
                          go_backwards=True)
    mask = MASK if masked else None
    runs = [outputs_and_grads(layer, training, mask, fused, compiled=path == "compiled")
            for fused in (True, False)]
    assert_close(*[outputs for outputs, _ in runs])
    assert_close(*[grads for _, grads in runs])


def builtin_cases():
    """Every cell on every loop; under XLA the default run keeps the three gate layouts
    (Elman's other activations: the same loop, in the slow tier)."""
    for path_ in ("plain", "xla", "compiled"):
        for name in CELLS:
            slow = path_ == "xla" and name in ("elman_relu", "elman_linear")
            yield pytest.param(name, path_, id=f"{path_}-{name}",
                               marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("name,path", builtin_cases(), indirect=["path"])
def test_fused_gradients_equal_keras_builtins(name, path):
    keras.utils.set_random_seed(4)
    ours_cell, keras_cell = CELLS[name]
    ours = Recurrent(ours_cell(), return_sequences=True)
    theirs = keras.layers.RNN(keras_cell(6), return_sequences=True)
    ours(X), theirs(X)
    theirs.set_weights(ours.get_weights())
    a, ga = outputs_and_grads(ours, path != "plain", MASK, True, compiled=path == "compiled")
    with tf.GradientTape() as tape:
        b = theirs(X, mask=MASK, training=path != "plain")
        loss = tf.reduce_sum(b)
    gb = tape.gradient(loss, theirs.trainable_variables)
    assert_close(a, [b])
    assert_close(ga, gb)


def test_the_original_gru_form_uses_the_generic_loop():
    assert GRUCell(4, reset_after=False).fused_algebra() is None
    assert GRUCell(4).fused_algebra() is not None


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman_tanh"])
def test_compiled_kernels_run_in_training_only(cell):
    """Training traces the compiled op; inference (and so every export) does not."""
    if kernels.recurrent_ops() is None:
        pytest.fail("the compiled recurrent kernels did not build on this machine")
    layer = Recurrent(CELLS[cell][0](), return_sequences=True)
    layer(X)

    def op_types(training):
        graph = tf.function(lambda x: layer(x, mask=MASK, training=training)) \
            .get_concrete_function(X).graph
        return {op.type for op in graph.get_operations()}

    assert "GalleryRecurrentLoopForward" in op_types(True)
    assert "GalleryRecurrentLoopForward" not in op_types(False)


def test_kernels_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("GALLERY_KERNELS", "0")
    assert kernels.recurrent_ops() is None


@pytest.mark.parametrize("batch", [1, 5])
def test_compiled_kernels_match_the_tf_loop_on_long_wide_sequences(batch):
    """T=60, H=40 and batches that do not split evenly over the threads."""
    if kernels.recurrent_ops() is None:
        pytest.fail("the compiled recurrent kernels did not build on this machine")
    rng = np.random.default_rng(batch)
    x = tf.constant(rng.normal(size=(batch, 60, 7)).astype("float32"))
    mask = tf.constant(np.arange(60)[None] < rng.integers(1, 61, size=batch)[:, None])
    for make in (lambda: LSTMCell(40), lambda: GRUCell(40)):
        keras.utils.set_random_seed(5)
        layer = Recurrent(make(), return_sequences=True)
        layer(x)
        results = []
        for compiled in (True, False):
            layer.use_kernels = compiled
            with tf.GradientTape() as tape:
                out = layer(x, mask=mask, training=True)
                loss = tf.reduce_sum(out * out)
            results.append([out, *tape.gradient(loss, layer.trainable_variables)])
        assert_close(*results)


def test_a_failed_build_falls_back_to_the_tf_loop(monkeypatch, capsys):
    def no_compiler():
        raise RuntimeError("no C++ compiler (g++) found")

    monkeypatch.setattr(kernels, "_loaded", {})
    monkeypatch.setattr(kernels, "build", no_compiler)
    assert kernels.recurrent_ops() is None
    assert "using the TensorFlow loop" in capsys.readouterr().err
    layer = Recurrent(LSTMCell(6), return_sequences=True)
    out = tf.function(lambda x: layer(x, mask=MASK, training=True))(X)
    assert out.shape == (3, 9, 6)


def test_a_kernel_build_error_names_the_compiler(monkeypatch, tmp_path):
    monkeypatch.setenv("GALLERY_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", "false")
    with pytest.raises(RuntimeError, match="false failed"):
        kernels.build()


def test_the_kernel_ops_refuse_mismatched_shapes_and_take_empty_ones():
    library = kernels.recurrent_ops()
    if library is None:
        pytest.fail("the compiled recurrent kernels did not build on this machine")
    z = tf.zeros
    no_mask = z([0, 0])

    def forward(xp, u, h, bias, mask=no_mask, recurrent_mask=no_mask):
        return library.gallery_recurrent_loop_forward(xp=xp, u=u, h0=h, c0=h, bias_h=bias,
                                                      mask=mask, recurrent_mask=recurrent_mask,
                                                      cell="lstm")

    for bad in [(z((2, 3, 7)), z((5, 20)), z((3, 5)), z([20])),      # xp width != 4H
                (z((2, 3, 20)), z((5, 20)), z((4, 5)), z([20])),     # h0 rows != B
                (z((2, 3, 20)), z((5, 20)), z((3, 5)), z([7]))]:     # bias size
        with pytest.raises(tf.errors.InvalidArgumentError):
            forward(*bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match="mask"):
        forward(z((2, 3, 20)), z((5, 20)), z((3, 5)), z([20]), mask=z([2, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="recurrent_mask"):
        forward(z((2, 3, 20)), z((5, 20)), z((3, 5)), z([20]), recurrent_mask=z([3, 4]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="forward op's shapes"):
        library.gallery_recurrent_loop_backward(
            d_outputs=z((2, 3, 5)), dh_final=z((3, 5)), dc_final=z((3, 5)),
            saved=z((1, 3, 25)), prev_h=z((2, 3, 5)), prev_c=z((2, 3, 5)), u=z((5, 20)),
            mask=no_mask, recurrent_mask=no_mask, cell="lstm")
    for steps, batch in [(0, 3), (4, 0)]:  # no steps, no rows: defined, empty results
        out = forward(z((steps, batch, 20)), z((5, 20)), z((batch, 5)), z([20]))
        assert out[0].shape == (steps, batch, 5) and out[1].shape == (batch, 5)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_a_long_eager_call_traced_into_a_graph_equals_the_step_by_step_loop(name, monkeypatch):
    """From ``EAGER_GRAPH_STEPS`` steps on, an eager call traces its loop first; the
    outputs and gradients are those of the loop run step by step from Python."""
    from gallery.layers import fused

    layer = Recurrent(CELLS[name][0](), return_sequences=True)
    x = tf.constant(np.random.default_rng(1).normal(size=(2, 120, 5)).astype("float32"))
    layer(x)

    def run():
        with tf.GradientTape() as tape:
            out = layer(x, training=False)
            loss = tf.reduce_sum(out * tf.range(120, dtype=tf.float32)[None, :, None])
        return [out, *tape.gradient(loss, layer.trainable_variables)]

    assert x.shape[1] >= fused.EAGER_GRAPH_STEPS
    traced = run()
    monkeypatch.setattr(fused, "EAGER_GRAPH_STEPS", 10_000)
    assert_close(traced, run())


def test_repeated_long_eager_calls_log_no_retracing_warning(caplog):
    """Each long eager call traces its own loop; TensorFlow must not warn about it."""
    import logging

    layer = Recurrent(LSTMCell(3), return_sequences=True)
    x = tf.zeros((1, 120, 2))
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for _ in range(8):
            layer(x)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


@pytest.mark.parametrize("name", ["lstm", "gru", "elman_tanh"])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_the_unrolled_inference_loop_equals_the_step_by_step_loop(name, zero_output_for_mask):
    """Inference runs ``INFERENCE_UNROLL`` steps an iteration and then the rest one by
    one (a padded batch: one by one): every length around the boundaries
    (1 … 2·unroll + 1), rows of other lengths (masked), and a start state, give the
    generic loop's outputs and final states, also traced with the batch and length
    unknown (a SavedModel's signature: the block or the rest may be empty), and for a
    batch of one (a TFLite export's: masked steps selected without a ``tf.cond``,
    padded with masked steps to whole blocks of the unrolled loop)."""
    from gallery.layers.fused import INFERENCE_UNROLL

    keras.utils.set_random_seed(5)
    layer = Recurrent(CELLS[name][0](), return_sequences=True, return_state=True,
                      zero_output_for_mask=zero_output_for_mask)
    rng = np.random.default_rng(1)
    count = (len(layer.cell.state_size)
             if isinstance(layer.cell.state_size, (list, tuple)) else 1)
    state_specs = [tf.TensorSpec([None, 6], tf.float32)] * count
    unknown = {
        False: tf.function(lambda x, *s: tf.nest.flatten(layer(x, initial_state=list(s))),
                           input_signature=[tf.TensorSpec([None, None, 5])] + state_specs),
        True: tf.function(lambda x, m, *s: tf.nest.flatten(
            layer(x, initial_state=list(s), mask=m)), input_signature=[
                tf.TensorSpec([None, None, 5]), tf.TensorSpec([None, None], tf.bool),
                *state_specs])}
    for steps in range(1, 2 * INFERENCE_UNROLL + 2):
        x = tf.constant(rng.normal(size=(3, steps, 5)).astype("float32"))
        start = [tf.constant(rng.normal(size=(3, 6)).astype("float32"))
                 for _ in range(count)]
        mask = tf.constant(np.arange(steps)[None] < np.array([steps, (steps + 1) // 2, 1])[:, None])
        for m in (None, mask):
            runs = []
            for fast in (True, False):
                layer.use_fast_path = fast
                runs.append(tf.nest.flatten(layer(x, initial_state=start, mask=m)))
            layer.use_fast_path = True
            assert_close(*runs)
            assert_close(unknown[m is not None](x, *([] if m is None else [m]), *start),
                         runs[1])
        # A batch of one known when traced (a TFLite export's) takes the selects
        # without a tf.cond: padded after half its steps, and not padded.
        for m in (mask[1:2], mask[:1]):
            runs = []
            for fast in (True, False):
                layer.use_fast_path = fast
                runs.append(tf.nest.flatten(layer(x[1:2], initial_state=[s[1:2] for s in start],
                                                  mask=m)))
            layer.use_fast_path = True
            assert_close(*runs)
