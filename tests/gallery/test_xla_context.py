"""A model compiled with ``jit_compile=True`` trains with the gallery's layers.

XLA cannot compile the gallery's custom kernel ops, so inside an XLA-compiled
function the layers run their TensorFlow loops (``gallery.layers.fused.inside_xla``,
which uses a private TensorFlow function: these tests fail loudly if it changes).
"""

import keras
import numpy as np
import tensorflow as tf

from gallery.layers import GRUCell, LSTMCell, Recurrent
from gallery.layers.fused import inside_xla


def test_inside_xla_tells_an_xla_trace_from_a_plain_one():
    seen = {}

    def probe(key):
        seen[key] = inside_xla()
        return tf.constant(0.0)

    tf.function(lambda: probe("xla"), jit_compile=True)()
    tf.function(lambda: probe("graph"))()
    tf.function(lambda: tf.function(lambda: probe("nested"), jit_compile=True)())()
    probe("eager")
    assert seen == {"xla": True, "graph": False, "nested": True, "eager": False}


def _op_types(function, *args):
    return {op.type for op in function.get_concrete_function(*args).graph.get_operations()}


def test_an_xla_compiled_training_step_uses_no_kernel_op():
    layer = Recurrent(LSTMCell(4), return_sequences=True)
    x = tf.random.stateless_normal((3, 5, 2), seed=(1, 2))
    layer(x)
    step = tf.function(lambda x: layer(x, training=True), jit_compile=True)
    assert "GalleryRecurrentLoopForward" not in _op_types(step, x)


def test_fit_with_jit_compile_matches_fit_without():
    """The same seed and data: one epoch with and without XLA gives the same weights."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")

    def trained(jit):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6, 3)), Recurrent([LSTMCell(4), GRUCell(3)]),
                                  keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=jit)
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        return model.get_weights()

    for with_xla, without in zip(trained(True), trained(False)):
        np.testing.assert_allclose(with_xla, without, rtol=1e-4, atol=1e-5)
