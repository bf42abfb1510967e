"""Translation model: a bidirectional recurrent encoder and an attentive recurrent decoder.

Core (trained), for a batch of ``B`` with ``S`` source and ``T`` target tokens::

    source_ids (B, S) (0 = padding)
      → Embedding "source_embedding" (mask_zero) → dropout
      → gallery recurrent stack, bidirectional, units/2 per direction "encoder_*"
      → memory (B, S, units)                       padding masked ("source_mask")
    memory ─masked mean "source_summary"─▶ features (B, units)
    features, target_in (B, T) = <start> y1 … yn, memory
      → gallery.seq2seq.decoder_logits (initial states from the features, decoder,
        Bahdanau or Luong attention over the memory) → logits (B, T, V + 2)

Target ids: ``0`` padding, ``1`` unknown, ``2 … V-1`` the target vocabulary,
``V`` = <start>, ``V + 1`` = <end>.

End-to-end model (saved): ``[source text (B,) string, target_in (B, T)]`` → logits,
with ``TextToIds`` ("source_ids") in front of the core, so the exported model reads
raw strings. Decoding (:class:`Translator`) runs the same layers, looked up by name.
"""

import keras
import tensorflow as tf

from gallery.layers.pooling import MaskedPooling
from gallery.layers.stack import recurrent_encoder
from gallery.layers.text import TextToIds, join_tokens
from gallery.seq2seq import PaddingMask, SequenceDecoder, decoder_logits


def special_ids(meta):
    """``(start, end)`` ids: right after the target ids ``0 … V-1`` (``V`` = the target
    vocabulary plus padding and unknown)."""
    size = len(meta["target_vocabulary"]) + 2
    return size, size + 1


def target_to_ids(config, meta):
    """The ``TextToIds`` layer that turns target text into target ids."""
    return TextToIds(meta["target_vocabulary"], max_length=config.max_target,
                     tokens=config.target_tokens)


def build_core(config, source_size, target_size):
    source_ids = keras.Input((None,), dtype="int64", name="source_ids")
    target_in = keras.Input((None,), dtype="int32", name="target_in")
    x = keras.layers.Embedding(source_size, config.embedding_dim, mask_zero=True,
                               name="source_embedding")(source_ids)
    x = keras.layers.Dropout(config.dropout, seed=config.seed, name="source_dropout")(x)
    memory = recurrent_encoder(x, cell=config.cell, units=config.units // 2,
                               num_layers=config.num_layers, bidirectional=True,
                               dropout=config.dropout, name="encoder", seed=config.seed)
    features = MaskedPooling("mean", name="source_summary")(memory)
    memory_mask = PaddingMask(name="source_mask")(source_ids)
    logits = decoder_logits(features, target_in, target_size + 2, cell=config.cell,
                            units=config.units, embedding_dim=config.embedding_dim,
                            seed=config.seed, memory=memory, memory_mask=memory_mask,
                            attention=config.attention)
    return keras.Model([source_ids, target_in], logits, name="core")


def build_model(config, meta):
    to_ids = TextToIds(meta["source_vocabulary"], max_length=config.max_source,
                       tokens=config.source_tokens, name="source_ids")
    core = build_core(config, to_ids.vocabulary_size, len(meta["target_vocabulary"]) + 2)
    text = keras.Input((), dtype="string", name="source_text")
    target_in = keras.Input((None,), dtype="int32", name="target_in")
    return keras.Model([text, target_in], core([to_ids(text), target_in]), name="translator")


class Translator:
    """Source strings → ``(translations (B,) string, scores (B,), truncated (B,) bool)``,
    by greedy or beam search over the trained layers. An input without a single
    token translates to ``""`` with score ``-inf``."""

    def __init__(self, model, meta, config):
        core = model.get_layer("core")
        self.to_ids = model.get_layer("source_ids")
        start, end = special_ids(meta)
        self.decoder = SequenceDecoder(core, core.inputs[0], start, end, config.max_target + 1,
                                       config.beam_width, config.length_penalty,
                                       memory_mask="source_mask")
        self.tokens = tf.constant(["", "[UNK]", *meta["target_vocabulary"], "", ""])
        self.shown = {"source": tf.constant(["", "[UNK]", *self.to_ids.vocabulary]),
                      "output": tf.constant(["", "[UNK]", *meta["target_vocabulary"],
                                             "<start>", "<end>"])}
        self.mode = config.target_tokens

    def __call__(self, texts):
        ids = self.to_ids(texts)
        tokens, lengths, scores = self.decoder(ids)
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
        tokens, lengths, _ = self.decoder(ids)
        source_lengths = tf.reduce_sum(tf.cast(ids > 0, tf.int32), axis=1)
        output_lengths = tf.where(source_lengths > 0,
                                  tf.minimum(lengths + 1, tf.shape(tokens)[1]), 0)
        tokens = tokens[:, :tf.maximum(tf.reduce_max(output_lengths), 1)]
        return {"source_tokens": tf.gather(self.shown["source"], ids),
                "output_tokens": tf.gather(self.shown["output"], tokens),
                "source_lengths": source_lengths, "output_lengths": output_lengths,
                "weights": self.decoder.attention_weights(ids, tokens)}
