"""Captioning model: a convolutional encoder sets the initial state of a recurrent decoder.

Training (teacher forcing), shapes for a batch of ``B``:
image ``(B, H, W, 1)`` → 3 × [conv 3×3, ReLU, max-pool 2] → mean over the height
(the column order, i.e. reading order, is kept) → flatten → dropout →
one ``Dense(units, tanh)`` per decoder state (``init_states``) → decoder
``Recurrent`` over the embedded caption input ``(B, T)`` = ``<start> w1 … wn`` →
logits ``(B, T, V)`` for ``w1 … wn <end>``; padding (id 0) is masked out of the loss
and metrics. With ``attention=true`` the decoder outputs also attend over the image
columns ``(B, W/8, C)`` (``gallery.layers.attention``).

:class:`CaptioningModel` is a ``gallery.seq2seq.Seq2Seq``: it holds these layers as
attributes, and decoding (``model.generate``) runs the same layer objects one step
at a time inside ``gallery.decoding``.
"""

import keras
import tensorflow as tf

from gallery.seq2seq import Seq2Seq

SPECIALS = ["<pad>", "<start>", "<end>", "<unk>"]
PAD, START, END, UNKNOWN = 0, 1, 2, 3


def build_vocabulary(captions):
    return SPECIALS + sorted({w for c in captions for w in c.split()} - set(SPECIALS))


@keras.saving.register_keras_serializable(package="gallery")
class CaptioningModel(Seq2Seq):
    """``[image (B, H, W, 1), caption_in (B, T)]`` → word logits ``(B, T, V)``."""

    def __init__(self, vocabulary_size, *, height=40, width=112, filters=24, dropout=0.4,
                 cell="lstm", units=128, embedding_dim=32, attention=False, seed=None, **kwargs):
        # === Layers ===
        self.convolutions = [keras.layers.Conv2D(filters * 2 ** block, 3, padding="same",
                                                 activation="relu", name=f"conv{block}")
                             for block in range(3)]
        self.poolings = [keras.layers.MaxPooling2D(name=f"pool{block}") for block in range(3)]
        # average over the image height, keep the left-to-right order of the columns
        self.height_pool = keras.layers.AveragePooling2D((height // 8, 1), name="height_pool")
        self.columns = keras.layers.Reshape((-1, filters * 4), name="columns")  # (B, W/8, C)
        self.flatten = keras.layers.Flatten(name="flatten")
        self.feature_dropout = keras.layers.Dropout(dropout, name="feature_dropout")
        self._create_decoder(vocabulary_size, cell=cell, units=units,
                             embedding_dim=embedding_dim, seed=seed,
                             attention="bahdanau" if attention else "none")

        # === Functional model ===
        image = keras.Input((height, width, 1), name="image")
        caption_in = keras.Input((None,), dtype="int32", name="caption_in")
        x = image
        for convolution, pooling in zip(self.convolutions, self.poolings):
            x = pooling(convolution(x))
        x = self.height_pool(x)
        features = self.feature_dropout(self.flatten(x))
        logits, start = self._decoder_logits(features, caption_in, memory=self.columns(x))
        core = keras.Model([image, caption_in], logits, name="core")
        inputs = [keras.Input(t.shape[1:], dtype=t.dtype, name=t.name) for t in core.inputs]
        super().__init__(inputs, core(inputs), **kwargs)
        self._set_decoding(core, image, start)

        # === Config ===
        self.vocabulary_size, self.height, self.width = vocabulary_size, height, width
        self.filters, self.dropout, self.cell, self.units = filters, dropout, cell, units
        self.embedding_dim, self.attention_on, self.seed = embedding_dim, attention, seed

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "vocabulary_size": self.vocabulary_size, "height": self.height,
                "width": self.width, "filters": self.filters, "dropout": self.dropout,
                "cell": self.cell, "units": self.units, "embedding_dim": self.embedding_dim,
                "attention": self.attention_on, "seed": self.seed}


def build_model(config, vocabulary_size):
    """The saved model; ``model.core`` is the part training fits."""
    return CaptioningModel(vocabulary_size, height=config.height, width=config.width,
                           filters=config.filters, dropout=config.dropout, cell=config.cell,
                           units=config.units, embedding_dim=config.embedding_dim,
                           attention=config.attention, seed=config.seed, name="captioning")


class Captioner:
    """Image pixels → caption strings with the trained layers (greedy or beam search)."""

    def __init__(self, model, vocabulary, config):
        self.model, self.vocabulary = model, tf.constant(vocabulary)
        self.max_length = config.max_words + 1
        self.beam_width, self.length_penalty = config.beam_width, config.length_penalty

    def _words(self, tokens, lengths):
        words = tf.RaggedTensor.from_tensor(tf.gather(self.vocabulary, tokens), lengths=lengths)
        return tf.strings.reduce_join(words, axis=1, separator=" ")

    def __call__(self, pixels):
        """``(B, H, W, 1)`` float → ``(captions (B,) string, scores (B,) float)``."""
        tokens, lengths, scores = self.model.generate(pixels, START, END, self.max_length,
                                                      self.beam_width, self.length_penalty)
        return self._words(tokens, lengths), scores

    def beams(self, pixels):
        """``(B, H, W, 1)`` → the beam's captions ``(B, K)`` and scores ``(B, K)``, best
        first (``K = beam_width``)."""
        tokens, lengths, scores = self.model.beams(pixels, START, END, self.max_length,
                                                   self.beam_width, self.length_penalty)
        shape = tf.shape(tokens)
        captions = self._words(tf.reshape(tokens, [-1, shape[2]]), tf.reshape(lengths, [-1]))
        return tf.reshape(captions, shape[:2]), scores
