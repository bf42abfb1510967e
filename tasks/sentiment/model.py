"""Sentiment model: text → ids → embedding → recurrent encoder → pooling → softmax.

Shapes: texts ``(B,)`` string → ids ``(B, T)`` → embeddings ``(B, T, E)`` (mask on)
→ encoder ``(B, T, H)`` (``H = 2·units`` bidirectional) → pooled ``(B, H)`` →
probabilities ``(B, C)`` over the label vocabulary.
"""

import keras

from gallery.layers.pooling import MaskedPooling
from gallery.layers.stack import recurrent_encoder
from gallery.layers.text import TextToIds
from tasks.sentiment.lexicon import NUM_FEATURES, lexicon_features


def build_core(config, vocabulary_size, num_labels):
    """The trained part: ids ``(B, T)`` int → probabilities ``(B, C)``.

    With ``config.lexicon`` a fixed (non-trainable) embedding ``"lexicon"`` of
    ``NUM_FEATURES`` word priors is concatenated to the learned one; its values are
    set by :func:`build_model` and saved with the weights.
    """
    ids = keras.Input((None,), dtype="int64", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, config.embedding_dim, mask_zero=True,
                               name="embedding")(ids)
    if config.lexicon:
        priors = keras.layers.Embedding(vocabulary_size, NUM_FEATURES, mask_zero=True,
                                        trainable=False, name="lexicon")(ids)
        x = keras.layers.Concatenate(name="embedding_and_lexicon")([x, priors])
    x = keras.layers.Dropout(config.dropout, name="embedding_dropout")(x)
    x = recurrent_encoder(x, config.cell, config.units, config.num_layers,
                          config.bidirectional, config.dropout,
                          return_sequences=config.pooling != "last", name="recurrent",
                          seed=config.seed)
    if config.pooling != "last":
        x = MaskedPooling(config.pooling, name="pooling")(x)
    x = keras.layers.Dropout(config.dropout, name="head_dropout")(x)
    probabilities = keras.layers.Dense(num_labels, activation="softmax", name="classifier")(x)
    return keras.Model(ids, probabilities, name="core")


def assemble(preprocessor, core):
    """Raw strings ``(B,)`` → probabilities: what is saved, exported and fine-tuned."""
    texts = keras.Input((), dtype="string", name="text")
    return keras.Model(texts, core(preprocessor(texts)), name="sentiment")


def build_model(config, train_texts, num_labels):
    preprocessor = TextToIds.adapt_new(train_texts, config.max_tokens, config.max_length,
                                       name="preprocessor")
    core = build_core(config, preprocessor.vocabulary_size, num_labels)
    if config.lexicon:
        core.get_layer("lexicon").set_weights([lexicon_features(preprocessor.vocabulary)])
    return assemble(preprocessor, core)
