"""The photo captioning model: a pretrained CNN's grid read by a Show, Attend and
Tell decoder (``gallery.layers.soft_attention``).

Shapes for a batch of ``B`` (Lite0: ``S = 7·7 = 49``, ``D = 1280``), the encoder
frozen (``fine_tune_encoder_blocks = 0``, the default)::

    pixels (B, 224, 224, 3) in 0..255 ──encoder (frozen)──▶ grid (B, 7, 7, D)
      → reshape (B, S, D)                                          = what is cached
    core: features (B, S, D) → Dense(feature_units) (B, S, F)
          caption_in (B, T) = <start> w1 … wn (0 = padding)
          → ShowAttendTell → logits (B, T, V) for w1 … wn <end>

With ``fine_tune_encoder_blocks = N > 0`` the encoder is cut before its last ``N``
blocks (``gallery.vision.encoders.split_encoder``): its frozen front's grid is what is
cached, and its tail, trained with the decoder, is the core's first part::

    pixels ──front (frozen)──▶ cut grid (B, h', w', c')            = what is cached
    core: cut grid → tail (B, 7, 7, D) → reshape (B, S, D) → Dense → ShowAttendTell

The word ids are :class:`gallery.layers.TextToIds`'s (``marks=True``: 0 padding,
1 unknown, the vocabulary, then ``<start>`` and ``<end>``), so the exported model and
the TFLite side file read the id table from the one layer that owns it.
Training fits ``model.core`` on cached features; decoding (:meth:`start`, :meth:`step`,
:meth:`beams`) and the attention maps (:meth:`attention`) run the same layers.
"""

import keras
import tensorflow as tf
from keras import ops

from gallery.decoding import beam_search_all
from gallery.layers.soft_attention import ShowAttendTell
from gallery.layers.text import TextToIds
from gallery.vision.encoders import image_encoder, split_encoder


@keras.saving.register_keras_serializable(package="gallery")
class PhotoCaptioningModel(keras.Model):
    """``[pixels (B, 224, 224, 3), caption_in (B, T)]`` → word logits ``(B, T, V)``."""

    def __init__(self, vocabulary, *, encoder="efficientnet_lite0", pretrained=True,
                 feature_units=512, units=512, embedding_dim=256, attention_units=256,
                 dropout=0.5, regulariser=0.02, gate=True, max_words=20, seed=None,
                 fine_tune_encoder_blocks=0, **kwargs):
        # === Layers ===
        self.text = TextToIds(vocabulary, max_length=max_words, marks=True, name="caption_ids")
        self.text.build()  # no weights; used beside the graph (training ids, export's words)
        self.encoder, grid = image_encoder(encoder, weights="imagenet" if pretrained else None)
        self.encoder.trainable = False
        self.front = self.tail = None  # with blocks to fine-tune: encoder = tail ∘ front
        if fine_tune_encoder_blocks:
            self.front, self.tail = split_encoder(self.encoder, encoder,
                                                  fine_tune_encoder_blocks)
        self.grid = keras.layers.Reshape((grid[0] * grid[1], grid[2]), name="grid")
        self.project = keras.layers.Dense(feature_units, name="feature_projection")
        self.decoder = ShowAttendTell(self.text.vocabulary_size + 2, units=units,
                                      embedding_dim=embedding_dim,
                                      attention_units=attention_units, dropout=dropout,
                                      regulariser=regulariser, gate=gate, seed=seed,
                                      name="show_attend_tell")

        # === Functional model ===
        # (frozen, the layout is the one .keras files saved before tails existed have)
        tuned = self.tail is not None
        cut = self.front.output_shape[1:] if tuned else (grid[0] * grid[1], grid[2])
        features = keras.Input(cut, name="features")
        caption_in = keras.Input((None,), dtype="int32", name="caption_in")
        cells = self.grid(self.tail(features)) if tuned else features
        core = keras.Model([features, caption_in],
                           self.decoder(self.project(cells), caption_in), name="core")
        pixels = keras.Input(self.encoder.input_shape[1:], name="pixels")
        caption = keras.Input((None,), dtype="int32", name="caption_in")
        cached = self.front(pixels) if tuned else self.grid(self.encoder(pixels))
        super().__init__([pixels, caption], core([cached, caption]), **kwargs)
        self.core = core

        # === Config ===
        self.vocabulary, self.encoder_spec, self.grid_shape = list(vocabulary), encoder, grid
        self.feature_units, self.units, self.embedding_dim = feature_units, units, embedding_dim
        self.attention_units, self.dropout, self.regulariser = attention_units, dropout, regulariser
        self.gate, self.max_words, self.seed = gate, max_words, seed
        self.fine_tune_encoder_blocks = fine_tune_encoder_blocks

    def get_config(self):
        # the encoder's weights are in the saved file: no pretrained weights on reload
        return {"name": self.name, "trainable": self.trainable, "vocabulary": self.vocabulary,
                "encoder": self.encoder_spec, "pretrained": False,
                "feature_units": self.feature_units, "units": self.units,
                "embedding_dim": self.embedding_dim, "attention_units": self.attention_units,
                "dropout": self.dropout, "regulariser": self.regulariser, "gate": self.gate,
                "max_words": self.max_words, "seed": self.seed,
                "fine_tune_encoder_blocks": self.fine_tune_encoder_blocks}

    def with_tuned_blocks(self, blocks):
        """This model with the encoder's last ``blocks`` blocks to fine-tune (``0``:
        frozen), its weights copied: itself when it has that many already. The outputs
        are the same, ``tail(front(x)) == encoder(x)``."""
        if blocks == self.fine_tune_encoder_blocks:
            return self
        model = type(self).from_config({**self.get_config(),
                                        "fine_tune_encoder_blocks": blocks})
        for mine, theirs in ((self.encoder, model.encoder), (self.project, model.project),
                             (self.decoder, model.decoder)):
            theirs.set_weights(mine.get_weights())
        return model

    # -- ids ----------------------------------------------------------------------------
    @property
    def start_id(self):
        return self.text.start_id

    @property
    def end_id(self):
        return self.text.end_id

    def caption_ids(self, captions):
        """Caption strings → ``(caption_in, caption_out)`` int32 ``(N, max_words + 1)``:
        ``<start> w1 … wn`` and ``w1 … wn <end>``, 0-padded (NumPy)."""
        import numpy as np

        ids = self.text(tf.constant(list(captions))).numpy()
        lengths = (ids != 0).sum(axis=1)
        width = self.max_words + 1
        cin, cout = np.zeros((len(ids), width), np.int32), np.zeros((len(ids), width), np.int32)
        for row, (line, n) in enumerate(zip(ids, lengths)):
            cin[row, :n + 1] = [self.start_id, *line[:n]]
            cout[row, :n + 1] = [*line[:n], self.end_id]
        return cin, cout

    # -- decoding -----------------------------------------------------------------------
    def features(self, pixels):
        """``(B, 224, 224, 3)`` → the cached kind of features: the grid's cells
        ``(B, S, D)``, or with a tail the front's grid ``(B, h', w', c')``."""
        if self.tail is not None:
            return self.front(pixels, training=False)
        return self.grid(self.encoder(pixels, training=False))

    def cells(self, features):
        """Cached features → the grid's cells ``(B, S, D)`` the decoder attends over
        (through the tail when it has one)."""
        if self.tail is None:
            return features
        return self.grid(self.tail(features, training=False))

    def start(self, features):
        """Cached features → the decoder's start state."""
        return self.decoder.start(self.project(self.cells(features)))

    def step(self, tokens, state):
        """The decoder's step with the ids no caption holds (padding, unknown, ``<start>``)
        ruled out: their logits are ``-1e9``, so decoding never writes them."""
        logits, state = self.decoder.step(tokens, state)
        banned = ops.one_hot([self.text.padding_id, self.text.unknown_id, self.start_id],
                             self.decoder.vocabulary_size)
        return logits - 1e9 * ops.sum(banned, axis=0), state

    def beams(self, features, beam_width=3, length_penalty=0.0, max_length=None):
        """Every sequence of the final beam, best first: ``tokens (B, K, L)``,
        ``lengths (B, K)``, ``scores (B, K)`` (``gallery.decoding.beam_search_all``;
        ``beam_width=1`` is greedy decoding)."""
        state = self.start(features)
        return beam_search_all(self.step, state, tf.shape(features)[0], self.start_id,
                               self.end_id, max_length or self.max_words + 1, beam_width,
                               length_penalty)

    def attention(self, features, tokens):
        """Where the decoder looked while writing ``tokens (B, L)`` (``end``-padded):
        ``α (B, L, S)``, row ``t`` for the step that wrote ``tokens[:, t]``, and the gate
        ``β (B, L)``."""
        fed = ops.concatenate([ops.full((ops.shape(tokens)[0], 1), self.start_id, "int32"),
                               ops.cast(tokens[:, :-1], "int32")], axis=1)
        _, alpha, beta = self.decoder.read(self.project(self.cells(features)), fed,
                                           training=False)
        return alpha, beta


def build_photo_model(config, vocabulary):
    return PhotoCaptioningModel(
        vocabulary, encoder=config.encoder, pretrained=config.pretrained,
        feature_units=config.feature_units, units=config.units,
        embedding_dim=config.embedding_dim, attention_units=config.attention_units,
        dropout=config.dropout, regulariser=config.attention_regulariser,
        gate=config.attention_gate, max_words=config.max_words, seed=config.seed,
        fine_tune_encoder_blocks=config.fine_tune_encoder_blocks, name="photo_captioning")
