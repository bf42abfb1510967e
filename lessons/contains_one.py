"""Lesson: "does the sequence contain a 1?" (docs/worked_examples.md §5), with our layers.

Data: 500 sequences of 16 steps, one feature, each value 1 with probability 0.05
(else 0); the label is 1 when any value is 1. Model: a two-layer tanh Elman network
with hidden size 1 (``gallery.layers.ElmanCell``), weights drawn from N(0, 0.01²),
biases zero; the last output times 10 is the logit of a sigmoid; binary
cross-entropy, Adam (learning rate 0.001), batch 100, 500 epochs.

The network has to learn to *latch*: once a 1 has been seen, keep the state high
until the end. The reference run reports a training loss of 0.6315 after 50
epochs, 0.0121 after 100 and 0.0010 after 500.
"""

import keras
import numpy as np

from gallery.layers import ElmanCell, Recurrent

from .common import line_plot_panels, print_table

SUMMARY = '"does the sequence contain a 1?" (docs/worked_examples.md §5) with our layers'

REFERENCE = {50: 0.6315, 100: 0.0121, 500: 0.0010}


def make_data(count=500, length=16, p=0.05, seed=0):
    """``x (count, length, 1)`` of 0/1 and ``y (count,)``: does ``x`` hold a 1."""
    rng = np.random.default_rng(seed)
    x = (rng.random((count, length, 1)) < p).astype("float32")
    return x, x.max(axis=(1, 2)).astype("float32")


def build_model(seed=0):
    small = keras.initializers.RandomNormal(stddev=0.01, seed=seed)
    cells = [ElmanCell(1, activation="tanh", kernel_initializer=small,
                       recurrent_initializer=small, bias_initializer="zeros")
             for _ in range(2)]
    inputs = keras.Input((None, 1))
    states = Recurrent(cells, return_sequences=True, name="recurrent")(inputs)
    logit = keras.layers.Rescaling(10.0)(states[:, -1])
    return keras.Model(inputs, keras.layers.Activation("sigmoid")(logit))


def hidden_states(model, sequence):
    """Both layers' ``h_t`` over one sequence ``(T, 1)``: ``(2, T)``."""
    cells = model.get_layer("recurrent").cells
    h = [np.zeros((1, 1), "float32") for _ in cells]
    trace = [[] for _ in cells]
    for x_t in sequence:
        inputs = x_t[None].astype("float32")
        for i, cell in enumerate(cells):
            inputs, new = cell(inputs, [h[i]])
            h[i] = np.asarray(new[0])
            trace[i].append(float(h[i][0, 0]))
    return np.array(trace)


def run(out_dir, epochs=500, seed=0, verbose=True):
    """Train, print the loss every 50 epochs beside the reference, plot the states."""
    keras.utils.set_random_seed(seed)
    x, y = make_data(seed=seed)
    model = build_model(seed)
    model.compile(keras.optimizers.Adam(0.001), "binary_crossentropy", metrics=["accuracy"])
    example = x[np.argmax(x[:, 3:8, 0].max(axis=1) * (x[:, :, 0].sum(axis=1) == 1))]
    before = hidden_states(model, example)
    history = model.fit(x, y, batch_size=100, epochs=epochs, shuffle=True, verbose=0)
    losses = history.history["loss"]
    after = hidden_states(model, example)
    rows = [(e, losses[e - 1], REFERENCE.get(e)) for e in range(50, epochs + 1, 50)]
    if verbose:
        print_table(["epoch", "training loss", "reference"],
                    [(e, f"{loss:.4f}", "" if ref is None else f"{ref:.4f}")
                     for e, loss, ref in rows])
    steps = np.arange(1, len(example) + 1)
    line_plot_panels(
        out_dir / "contains_one_states.png",
        [("loss per epoch (log scale)", {"training": (np.arange(1, epochs + 1), losses)},
          "epoch", "log"),
         ("hidden states before training", {"input x_t": (steps, example[:, 0]),
                                            "layer 1 h_t": (steps, before[0]),
                                            "layer 2 h_t": (steps, before[1])}, "t", None),
         ("after training", {"input x_t": (steps, example[:, 0]),
                             "layer 1 h_t": (steps, after[0]),
                             "layer 2 h_t": (steps, after[1])}, "t", None)],
        title='"Does the sequence contain a 1?" (two-layer tanh RNN, hidden size 1)')
    accuracy = float(history.history["accuracy"][-1])
    return {"loss_by_epoch": {e: loss for e, loss, _ in rows}, "final_loss": losses[-1],
            "final_accuracy": accuracy, "states_after": after.tolist(),
            "example": example[:, 0].tolist()}
