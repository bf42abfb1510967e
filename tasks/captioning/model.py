"""Captioning model: a convolutional encoder sets the initial state of a recurrent decoder.

Training (teacher forcing), shapes for a batch of ``B``:
image ``(B, H, W, 1)`` → 3 × [conv 3×3, ReLU, max-pool 2] → mean over the height
(the column order, i.e. reading order, is kept) → flatten → dropout →
one ``Dense(units, tanh)`` per decoder state (``"init_state0"``, ...) → decoder
``Recurrent`` (``"decoder"``) over the embedded caption input ``(B, T)`` =
``<start> w1 … wn`` → logits ``(B, T, V)`` for ``w1 … wn <end>``; padding (id 0)
is masked out of the loss and metrics. With ``attention=true`` the decoder outputs
also attend over the image columns ``(B, W/8, C)`` (``gallery.layers.attention``).

The decoder is ``gallery.seq2seq.decoder_logits``; decoding
(``gallery.seq2seq.SequenceDecoder``) uses the same layers, looked up by name: the
encoder part gives the initial states, then ``word_embedding`` → ``decoder.cell`` →
``word_logits`` runs one step at a time inside ``gallery.decoding``.
"""

import keras
import tensorflow as tf

from gallery.seq2seq import SequenceDecoder, decoder_logits

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
    caption_in = keras.Input((None,), dtype="int32", name="caption_in")
    logits = decoder_logits(x, caption_in, vocabulary_size, cell=config.cell, units=config.units,
                            embedding_dim=config.embedding_dim, seed=config.seed,
                            memory=columns,
                            attention="bahdanau" if config.attention else "none")
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
        self.decoder = SequenceDecoder(core, core.inputs[0], START, END, config.max_words + 1,
                                       config.beam_width, config.length_penalty)
        self.vocabulary = tf.constant(vocabulary)

    def _words(self, tokens, lengths):
        words = tf.RaggedTensor.from_tensor(tf.gather(self.vocabulary, tokens), lengths=lengths)
        return tf.strings.reduce_join(words, axis=1, separator=" ")

    def __call__(self, pixels):
        """``(B, H, W, 1)`` float → ``(captions (B,) string, scores (B,) float)``."""
        tokens, lengths, scores = self.decoder(pixels)
        return self._words(tokens, lengths), scores

    def beams(self, pixels):
        """``(B, H, W, 1)`` → the beam's captions ``(B, K)`` and scores ``(B, K)``, best
        first (``K = beam_width``)."""
        tokens, lengths, scores = self.decoder.beams(pixels)
        shape = tf.shape(tokens)
        captions = self._words(tf.reshape(tokens, [-1, shape[2]]), tf.reshape(lengths, [-1]))
        return tf.reshape(captions, shape[:2]), scores
