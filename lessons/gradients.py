"""Lesson: vanishing and exploding gradients, and what gradient clipping does.

**Part 1: ‖∂L/∂h_t‖ against t.** An untrained one-layer network reads a random
sequence (B=32, T=200, D=16, H=64, inputs N(0, 0.1²)); the loss reads only the last state,
``L = Σ w·h_T`` with a fixed random ``w``. Backpropagation gives ``∂L/∂h_t`` for every
step: it is ``∂L/∂h_T`` multiplied by the step Jacobians ``∂h_{k+1}/∂h_k`` from t to
T, so its norm shrinks (vanishes) or grows (explodes) geometrically with ``T − t``
unless the Jacobians have norm close to one. Compared: Elman tanh and Elman ReLU,
each with an orthogonal recurrent matrix (all singular values 1) and with a random
Gaussian one (``N(0, gain² / H)``, spectral radius about ``gain``, here 1.5), LSTM
and GRU (Keras default initialisation: orthogonal recurrent kernels, LSTM forget
bias 1), and an LSTM whose forget-gate bias is 5: the path through the cell state
``c_t = f ⊙ c_{t-1} + …`` is multiplied by ``f ≈ 0.99`` per step instead of
``f ≈ 0.73``; this is what a trained LSTM learns to do where it must remember.

**Part 2: clipping.** A ReLU Elman network whose recurrent matrix starts at 1.1 × the
identity (an "IRNN" a little too large: activations grow by 1.1 per step), trained
with Adam (learning rate 0.01) on the adding problem (T=50: output the sum of the
two marked numbers; predicting the mean scores an MSE of 0.167), once without
clipping and once with the gradient norm clipped at 1. The first steps see
exploding gradients either way; unclipped, the updates they cause wreck the
network (its loss stays far above the mean predictor's), clipped it recovers and
learns.
"""

import keras
import numpy as np
import tensorflow as tf

from gallery.layers import ElmanCell, GRUCell, LSTMCell, Recurrent

from .common import line_plot_panels, print_table

SUMMARY = 'vanishing and exploding gradients over 200 steps; what clipping does'

GAIN = 1.5
INPUT_SCALE = 0.1
BASELINE_MSE = 1 / 6  # adding problem: variance of the sum of two U(0, 1) numbers


def random_recurrent(gain, seed):
    return lambda shape, dtype=None: tf.random.stateless_normal(
        shape, seed=[seed, 1], stddev=gain / np.sqrt(shape[0]), dtype=dtype or "float32")


def cells(units=64, seed=0):
    """The compared cells, by name."""
    def elman(activation, recurrent):
        return ElmanCell(units, activation=activation, recurrent_initializer=recurrent,
                         kernel_initializer=keras.initializers.GlorotUniform(seed))
    orthogonal = keras.initializers.Orthogonal(seed=seed)
    return {
        "Elman tanh, orthogonal": elman("tanh", orthogonal),
        f"Elman tanh, random (gain {GAIN})": elman("tanh", random_recurrent(GAIN, seed)),
        "Elman ReLU, orthogonal": elman("relu", orthogonal),
        f"Elman ReLU, random (gain {GAIN})": elman("relu", random_recurrent(GAIN, seed)),
        "LSTM": LSTMCell(units, seed=seed),
        "LSTM, forget-gate bias 5": _with_forget_bias(LSTMCell(units, seed=seed), 5.0),
        "GRU": GRUCell(units, seed=seed),
    }


def _with_forget_bias(cell, value, input_dim=16):
    cell.build((None, input_dim))
    bias = cell.bias.numpy()
    bias[cell.units:2 * cell.units] = value  # gate order i, f, g, o
    cell.bias.assign(bias)
    return cell


def state_gradient_norms(cell, x, seed=0):
    """``‖∂L/∂h_t‖`` (mean over the batch) for ``t = 1..T``, ``L = Σ w·h_T``.

    The step loop runs here in Python so every ``h_t`` is a tensor the tape can
    differentiate against (the state passed on to the next step, not a copy).
    """
    batch, steps, _ = x.shape
    if not cell.built:
        cell.build((batch, x.shape[-1]))
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    w = tf.random.stateless_normal([sizes[0]], seed=[seed, 2])
    with tf.GradientTape() as tape:
        states = [tf.zeros([batch, s]) for s in sizes]
        hs = []
        for t in range(steps):
            _, states = cell(x[:, t], states)
            states = list(states)
            hs.append(states[0])
        loss = tf.reduce_sum(hs[-1] * w)
    grads = tape.gradient(loss, hs)
    return np.array([float(tf.reduce_mean(tf.norm(g, axis=-1))) for g in grads])


def adding_problem(count, length, seed):
    """Inputs ``(count, length, 2)``: a random number and a 0/1 marker (two per
    sequence); target: the sum of the two marked numbers."""
    rng = np.random.default_rng(seed)
    values = rng.random((count, length)).astype("float32")
    markers = np.zeros((count, length), "float32")
    for row in markers:
        row[rng.choice(length, 2, replace=False)] = 1
    x = np.stack([values, markers], axis=-1)
    return x, (values * markers).sum(axis=1, keepdims=True)


def train_adding(clipnorm, epochs=6, seed=0):
    """Per-epoch training loss (NaN once it diverged) of the ReLU Elman model."""
    keras.utils.set_random_seed(seed)
    x, y = adding_problem(2000, 50, seed)
    cell = ElmanCell(64, activation="relu",
                     recurrent_initializer=keras.initializers.Identity(gain=1.1))
    inputs = keras.Input((None, 2))
    model = keras.Model(inputs, keras.layers.Dense(1)(Recurrent(cell)(inputs)))
    options = {"clipnorm": clipnorm} if clipnorm else {}
    model.compile(keras.optimizers.Adam(0.01, **options), "mse")
    losses = []
    for _ in range(epochs):
        loss = model.fit(x, y, batch_size=50, epochs=1, verbose=0).history["loss"][-1]
        losses.append(float(loss) if np.isfinite(loss) else float("nan"))
        if not np.isfinite(loss):
            losses += [float("nan")] * (epochs - len(losses))
            break
    return losses


def run(out_dir, steps=200, epochs=6, seed=0, verbose=True):
    keras.utils.set_random_seed(seed)  # the cells' initial weights
    x = tf.random.stateless_normal([32, steps, 16], seed=[seed, 0]) * INPUT_SCALE
    norms = {name: state_gradient_norms(cell, x, seed) for name, cell in cells(seed=seed).items()}
    t = np.arange(1, steps + 1)
    if verbose:
        print_table(["cell", "‖∂L/∂h_T‖", f"‖∂L/∂h_{steps // 2}‖", "‖∂L/∂h_1‖", "h_1 / h_T"],
                    [(name, f"{n[-1]:.3g}", f"{n[steps // 2 - 1]:.3g}", f"{n[0]:.3g}",
                      f"{n[0] / n[-1]:.3g}") for name, n in norms.items()])
        print("(0: below float32's smallest number: the gradient has vanished)")
    clipped, unclipped = train_adding(1.0, epochs, seed), train_adding(0.0, epochs, seed)
    if verbose:
        print_table(["adding problem, epoch"] + [str(e) for e in range(1, epochs + 1)],
                    [["no clipping"] + [f"{v:.3g}" for v in unclipped],
                     ["clipnorm=1"] + [f"{v:.3g}" for v in clipped]])
        print(f"(predicting the mean: MSE {BASELINE_MSE:.3f})")
    epochs_axis = np.arange(1, epochs + 1)
    line_plot_panels(out_dir / "gradient_norms.png", [
        (f"‖∂L/∂h_t‖, L reads h_T (T={steps})",
         {k: (t, np.maximum(v, 1e-38)) for k, v in norms.items()}, "t", "log"),
        ("adding problem (T=50), ReLU Elman, 1.1 × identity",
         {"no clipping": (epochs_axis, unclipped), "clipnorm=1": (epochs_axis, clipped),
          "predicting the mean": (epochs_axis, [BASELINE_MSE] * epochs)},
         "epoch", "log")],
        title="Vanishing and exploding gradients")
    return {"norms": {k: v.tolist() for k, v in norms.items()},
            "adding_loss": {"no_clipping": unclipped, "clipnorm_1": clipped}}
