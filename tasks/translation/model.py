"""Translation model: a bidirectional recurrent encoder and an attentive recurrent decoder.

Core (trained), for a batch of ``B`` with ``S`` source and ``T`` target tokens::

    source_ids (B, S) (0 = padding)
      → Embedding (source_embedding, mask_zero) → dropout
      → gallery recurrent stack, bidirectional, units/2 per direction (encoder_layers)
      → memory (B, S, units)                       padding masked (source_mask)
    memory ─masked mean (source_summary)─▶ features (B, units)
    features, target_in (B, T) = <start> y1 … yn, memory
      → the gallery.seq2seq decoder (initial states from the features, decoder,
        Bahdanau or Luong attention over the memory) → logits (B, T, V)

Target ids (``V`` of them) are those of the target text's ``TextToIds`` with marks
(:func:`target_to_ids`): padding, unknown, the target vocabulary, <start>, <end>.

End-to-end model (:class:`TranslationModel`, saved): ``[source text (B,) string,
target_in (B, T)]`` → logits, with ``TextToIds`` (``model.source_ids``) in front of the
core, so the exported model reads raw strings. Decoding (:class:`Translator`) runs the
same layer objects (``gallery.seq2seq.Seq2Seq.generate``).
"""

import keras
import tensorflow as tf

from gallery.layers.pooling import MaskedPooling
from gallery.layers.stack import encoder_layers
from gallery.layers.text import MARK_TOKENS, TextToIds, join_tokens
from gallery.seq2seq import PaddingMask, Seq2Seq


def target_to_ids(config, meta):
    """The ``TextToIds`` layer that turns target text into target ids; it owns the
    target ids, ``<start>`` and ``<end>`` (``start_id``, ``end_id``) included."""
    return TextToIds(meta["target_vocabulary"], max_length=config.max_target,
                     tokens=config.target_tokens, marks=True, name="target_ids")


@keras.saving.register_keras_serializable(package="gallery")
class TranslationModel(Seq2Seq):
    """Source text and ``target_in`` → next-token logits; ``core``: ids → logits.

    ``target_size``: the ids the target ``TextToIds`` writes (padding, unknown, the
    target vocabulary: its ``vocabulary_size``); the decoder's vocabulary adds the
    <start> and <end> marks after them.
    """

    def __init__(self, source_vocabulary, target_size, *, cell="gru", units=192, num_layers=1,
                 embedding_dim=48, dropout=0.1, attention="bahdanau", max_source=100,
                 source_tokens="chars", seed=None, **kwargs):
        # === Layers ===
        self.source_ids = TextToIds(source_vocabulary, max_length=max_source,
                                    tokens=source_tokens, name="source_ids")
        self.source_embedding = keras.layers.Embedding(
            self.source_ids.vocabulary_size, embedding_dim, mask_zero=True,
            name="source_embedding")
        self.source_dropout = keras.layers.Dropout(dropout, seed=seed, name="source_dropout")
        self.encoder_layers = encoder_layers(cell, units // 2, num_layers, bidirectional=True,
                                             dropout=dropout, name="encoder", seed=seed)
        self.source_summary = MaskedPooling("mean", name="source_summary")
        self.source_mask = PaddingMask(name="source_mask")
        self._create_decoder(target_size + len(MARK_TOKENS), cell=cell, units=units,
                             embedding_dim=embedding_dim, seed=seed, attention=attention)

        # === Functional model ===
        source_ids = keras.Input((None,), dtype="int64", name="source_ids")
        target_in = keras.Input((None,), dtype="int32", name="target_in")
        memory = self.source_dropout(self.source_embedding(source_ids))
        for layer in self.encoder_layers:
            memory = layer(memory)
        logits, start = self._decoder_logits(self.source_summary(memory), target_in, memory,
                                             self.source_mask(source_ids))
        core = keras.Model([source_ids, target_in], logits, name="core")
        text = keras.Input((), dtype="string", name="source_text")
        target = keras.Input((None,), dtype="int32", name="target_in")
        super().__init__([text, target], core([self.source_ids(text), target]), **kwargs)
        self._set_decoding(core, source_ids, start)

        # === Config ===
        self.source_vocabulary = list(source_vocabulary)
        self.target_size, self.cell, self.units = target_size, cell, units
        self.num_layers, self.embedding_dim, self.dropout = num_layers, embedding_dim, dropout
        self.attention_kind, self.max_source = attention, max_source
        self.source_tokens, self.seed = source_tokens, seed

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "source_vocabulary": self.source_vocabulary, "target_size": self.target_size,
                "cell": self.cell, "units": self.units, "num_layers": self.num_layers,
                "embedding_dim": self.embedding_dim, "dropout": self.dropout,
                "attention": self.attention_kind, "max_source": self.max_source,
                "source_tokens": self.source_tokens, "seed": self.seed}


def build_model(config, meta):
    return TranslationModel(
        meta["source_vocabulary"], target_to_ids(config, meta).vocabulary_size, cell=config.cell,
        units=config.units, num_layers=config.num_layers, embedding_dim=config.embedding_dim,
        dropout=config.dropout, attention=config.attention, max_source=config.max_source,
        source_tokens=config.source_tokens, seed=config.seed, name="translator")


class Translator:
    """Source strings → ``(translations (B,) string, scores (B,), truncated (B,) bool)``,
    by greedy or beam search over the trained layers. An input without a single
    token translates to ``""`` with score ``-inf``."""

    def __init__(self, model, meta, config):
        self.model, self.to_ids = model, model.source_ids
        target = target_to_ids(config, meta)
        self.start, self.end = target.start_id, target.end_id
        self.max_length = config.max_target + 1
        self.beam_width, self.length_penalty = config.beam_width, config.length_penalty
        self.tokens = tf.constant(target.id_to_token(blank_marks=True))
        self.shown = {"source": tf.constant(self.to_ids.id_to_token()),
                      "output": tf.constant(target.id_to_token())}
        self.mode = config.target_tokens

    def __call__(self, texts):
        ids = self.to_ids(texts)
        tokens, lengths, scores = self.model.generate(ids, self.start, self.end, self.max_length,
                                                      self.beam_width, self.length_penalty)
        words = tf.RaggedTensor.from_tensor(tf.gather(self.tokens, tokens), lengths=lengths)
        text = join_tokens(words, self.mode)
        empty = tf.reduce_all(tf.equal(ids, 0), axis=1)
        truncated = self.to_ids.count_tokens(texts) > self.to_ids.max_length
        return (tf.where(empty, "", text), tf.where(empty, float("-inf"), scores), truncated)

    def attention(self, texts):
        """Where the decoder looked while translating ``texts (B,)``: a dict of
        ``source_tokens (B, S)`` and ``output_tokens (B, L)`` (the words it wrote, then
        ``<end>``) as strings, their ``source_lengths``/``output_lengths (B,)`` and the
        attention ``weights (B, L, S)``. Needs a model with attention."""
        ids = self.to_ids(texts)
        tokens, lengths, _ = self.model.generate(ids, self.start, self.end, self.max_length,
                                                 self.beam_width, self.length_penalty)
        source_lengths = tf.reduce_sum(tf.cast(ids > 0, tf.int32), axis=1)
        output_lengths = tf.where(source_lengths > 0,
                                  tf.minimum(lengths + 1, tf.shape(tokens)[1]), 0)
        tokens = tokens[:, :tf.maximum(tf.reduce_max(output_lengths), 1)]
        return {"source_tokens": tf.gather(self.shown["source"], ids),
                "output_tokens": tf.gather(self.shown["output"], tokens),
                "source_lengths": source_lengths, "output_lengths": output_lengths,
                "weights": self.model.attention_weights(ids, tokens, self.start)}
