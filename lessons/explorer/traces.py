"""The held-out text of a trained run and its recurrent layer's outputs at every step.

A :class:`Trace` holds ``tokens`` (the ``T`` steps as the model saw them: characters or
words, ``[UNK]`` for words outside its vocabulary), ``ends`` (the steps that end a
sequence; each sequence is read from a zero state) and ``activations (T, H)``: the
output ``h_t`` of the top recurrent layer (both directions, concatenated, for a
bidirectional encoder).

Two kinds of model are read:

* a character stream model (``charlm``): the test text as one stream, through the
  task's own :class:`~rnn_gallery.tasks.charlm.model.CharStepper` (its embedding and recurrent
  stack are attributes);
* a model with a :class:`~gallery.layers.text.TextToIds` in front of a core whose
  first input feeds a recurrent stack (``sentiment``; ``translation``: its encoder):
  the test texts, one by one. Layers are found by type and by how they connect,
  never by name.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from gallery.errors import GalleryError
from gallery.layers.text import TextToIds


@dataclasses.dataclass
class Trace:
    tokens: list          # (T,) strings
    ends: list            # indices of the last step of each sequence
    activations: np.ndarray  # (T, H) float32
    kind: str             # "chars" or "words"
    layer: str            # what was recorded, for the page
    stream: bool = False  # one text read as a stream (a character model's held-out text)


def is_recurrent(layer):
    return isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))


def text_encoder(model):
    """``(TextToIds layer, probe: ids (B, S) → (B, S, H))`` of ``model``, or ``None``.

    The probe runs the core from its first input to the top of the first recurrent
    stack: the first recurrent layer, then each recurrent layer fed by the previous,
    up to the last that returns every step (``pooling=last`` keeps only the top's
    last step).
    """
    to_ids = next((layer for layer in model.layers if isinstance(layer, TextToIds)), None)
    core = next((layer for layer in model.layers if isinstance(layer, keras.Model)), None)
    if to_ids is None or core is None:
        return None
    stack = [layer for layer in core.layers if is_recurrent(layer)][:1]
    while stack:
        above = [layer for layer in core.layers
                 if is_recurrent(layer)
                 and any(x is stack[-1].output for x in keras.tree.flatten(layer.input))]
        if not above:
            break
        stack.append(above[0])
    while stack and len(stack[-1].output.shape) != 3:  # returns its last step only
        stack.pop()
    if not stack:
        return None
    try:
        probe = keras.Model(core.inputs[0], stack[-1].output)
    except ValueError:  # the stack needs more than the text (e.g. a decoder)
        return None
    return to_ids, probe, f"{core.name}: {len(stack)} recurrent layer(s), top layer's h_t"


def is_stream_model(model):
    """A character stream model: its core has one input and a stateful recurrent layer."""
    core = next((layer for layer in model.layers if isinstance(layer, keras.Model)), None)
    return core is not None and len(core.inputs) == 1 and any(
        isinstance(layer, keras.layers.RNN) and layer.stateful for layer in core.layers)


def held_out(task, config, meta):
    """The run's test split, re-read from the data it was trained on."""
    from gallery.runs import run_data_source

    return task.load_data(config, run_data_source(meta)).test


def trace_stream(model, meta, text):
    """A character model's outputs over ``text``, read as one stream."""
    from rnn_gallery.tasks.charlm.model import CharStepper
    from rnn_gallery.tasks.charlm.task import encode_text

    stepper = CharStepper(model, meta["vocabulary"])
    ids = tf.constant(encode_text(text, meta["vocabulary"])[None])
    outputs, _ = stepper.rnn(stepper.embedding(ids), stepper.zero_state(1))
    return Trace(list(text), [len(text) - 1], np.asarray(outputs[0], np.float32), "chars",
                 f"recurrent stack ({len(stepper.rnn.cells)} layer(s)), top layer's h_t",
                 stream=True)


def trace_texts(to_ids, probe, texts, steps, layer="", batch=64):
    """Outputs of ``probe`` over ``texts`` read one by one, until ``steps`` tokens."""
    words = to_ids.id_to_token()
    tokens, ends, rows = [], [], []
    for begin in range(0, len(texts), batch):
        ids = np.asarray(to_ids(tf.constant(list(texts[begin:begin + batch]))))
        outputs = np.asarray(probe(ids, training=False), np.float32)
        for row, out in zip(ids, outputs):
            n = int((row > 0).sum())
            if n == 0:
                continue
            if tokens and len(tokens) + n > steps:
                return _joined(tokens, ends, rows, to_ids, layer)
            tokens += [words[i] for i in row[:n]]
            ends.append(len(tokens) - 1)
            rows.append(out[:n])
    if not tokens:
        raise GalleryError("no held-out text with a known token to read")
    return _joined(tokens, ends, rows, to_ids, layer)


def _joined(tokens, ends, rows, to_ids, layer):
    kind = "chars" if to_ids.tokens == "chars" else "words"
    return Trace(tokens, ends, np.concatenate(rows), kind, layer)


def trace_run(task, config, model, meta, steps):
    """The :class:`Trace` of a loaded run over its held-out text: at most
    ``steps[kind]`` steps (``kind``: ``"chars"`` or ``"words"``), whole sequences."""
    stream = is_stream_model(model)
    encoder = None if stream else text_encoder(model)
    if encoder is None and not stream:
        raise GalleryError(f"a {task.name} run has no recurrent layer reading text; the "
                           "activations lesson reads charlm, sentiment and translation runs")
    test = held_out(task, config, meta)
    if stream:
        return trace_stream(model, meta, test.text[:steps["chars"]])
    to_ids, probe, layer = encoder
    texts = getattr(test, "sources", None)
    return trace_texts(to_ids, probe, texts if texts is not None else test.texts,
                       steps["chars" if to_ids.tokens == "chars" else "words"], layer=layer)
