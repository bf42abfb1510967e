"""Captioning model: a convolutional encoder sets the initial state of a recurrent decoder.

Training (teacher forcing), shapes for a batch of ``B``:
image ``(B, H, W, 1)`` → 3 × [conv 3×3, ReLU, max-pool 2] → mean over the height
(the column order, i.e. reading order, is kept) → flatten → dropout →
one ``Dense(units, tanh)`` per decoder state (``"init_state0"``, ...) → decoder
``Recurrent`` (``"decoder"``) over the embedded caption input ``(B, T)`` =
``<start> w1 … wn`` → logits ``(B, T, V)`` for ``w1 … wn <end>``; padding (id 0)
is masked out of the loss and metrics. With ``attention=true`` the decoder outputs
also attend over the image columns ``(B, W/8, C)`` (``gallery.layers.attention``).

Decoding uses the same layers, looked up by name: the encoder part gives the
initial states, then ``word_embedding`` → ``decoder.cell`` → ``word_logits`` runs
one step at a time inside ``gallery.decoding``.
"""

import keras
import tensorflow as tf

from gallery.decoding import beam_search, greedy_decode
from gallery.layers import Recurrent, make_cell
from gallery.layers.attention import AttentionReadout, attend, attention_keys

SPECIALS = ["<pad>", "<start>", "<end>", "<unk>"]
PAD, START, END, UNKNOWN = 0, 1, 2, 3


def build_vocabulary(captions):
    return SPECIALS + sorted({w for c in captions for w in c.split()} - set(SPECIALS))


def build_core(config, vocabulary_size):
    """``[image (B, H, W, 1), caption_in (B, T)]`` → word logits ``(B, T, V)``."""
    image = keras.Input((config.height, config.width, 1), name="image")
    x = image
    for block in range(3):
        x = keras.layers.Conv2D(config.filters * 2 ** block, 3, padding="same",
                                activation="relu", name=f"conv{block}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{block}")(x)
    # average over the image height, keep the left-to-right order of the columns
    x = keras.layers.AveragePooling2D((config.height // 8, 1), name="height_pool")(x)
    columns = keras.layers.Reshape((-1, x.shape[-1]), name="columns")(x)  # (B, W/8, C)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(config.dropout, name="feature_dropout")(x)
    cell = make_cell(config.cell, config.units, seed=config.seed)
    states = [keras.layers.Dense(config.units, activation="tanh", name=f"init_state{i}")(x)
              for i in range(cell.num_states)]
    caption_in = keras.Input((None,), dtype="int32", name="caption_in")
    words = keras.layers.Embedding(vocabulary_size, config.embedding_dim, mask_zero=True,
                                   name="word_embedding")(caption_in)
    outputs = Recurrent(cell, return_sequences=True, name="decoder")(words, initial_state=states)
    if config.attention:
        outputs = attend(outputs, attention_keys(columns, config.units))
    logits = keras.layers.Dense(vocabulary_size, name="word_logits")(outputs)
    return keras.Model([image, caption_in], logits, name="core")


def build_model(config, vocabulary_size):
    """The saved model: the core, wrapped so every task's model has a ``"core"`` layer."""
    core = build_core(config, vocabulary_size)
    inputs = [keras.Input(t.shape[1:], dtype=t.dtype, name=t.name) for t in core.inputs]
    return keras.Model(inputs, core(inputs), name="captioning")


class Captioner:
    """Image pixels → caption strings with the trained layers (greedy or beam search)."""

    def __init__(self, model, vocabulary, config):
        core = model.get_layer("core")
        count = sum(1 for layer in core.layers if layer.name.startswith("init_state"))
        outputs = [core.get_layer(f"init_state{i}").output for i in range(count)]
        self.readout = None
        if any(layer.name == "attention" for layer in core.layers):
            self.readout = AttentionReadout(core)
            outputs.append(core.get_layer("attention_keys").output)  # carried as a state
        self.encoder = keras.Model(core.inputs[0], outputs)
        self.embedding = core.get_layer("word_embedding")
        self.cell = core.get_layer("decoder").cell
        self.head = core.get_layer("word_logits")
        self.vocabulary = tf.constant(vocabulary)
        self.config = config

    def step(self, tokens, states):
        words = tf.gather(self.embedding.embeddings, tokens)  # no mask: every step is real
        if self.readout is None:
            output, states = self.cell(words, states, training=False)
            return self.head(output), states
        keys = states[-1]
        output, states = self.cell(words, states[:-1], training=False)
        return self.head(self.readout(output, keys)), list(states) + [keys]

    def __call__(self, pixels):
        """``(B, H, W, 1)`` float → ``(captions (B,) string, scores (B,) float)``."""
        states = self.encoder(pixels, training=False)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        batch = tf.shape(pixels)[0]
        c = self.config
        if c.beam_width > 1:
            tokens, lengths, scores = beam_search(self.step, states, batch, START, END,
                                                  c.max_words + 1, c.beam_width,
                                                  c.length_penalty)
        else:
            tokens, lengths, scores = greedy_decode(self.step, states, batch, START, END,
                                                    c.max_words + 1)
        words = tf.RaggedTensor.from_tensor(tf.gather(self.vocabulary, tokens), lengths=lengths)
        return tf.strings.reduce_join(words, axis=1, separator=" "), scores
