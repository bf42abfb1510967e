"""Sentiment model: text → ids → embedding → recurrent encoder → pooling → softmax.

Shapes: texts ``(B,)`` string → ids ``(B, T)`` → embeddings ``(B, T, E)`` (mask on)
→ encoder ``(B, T, H)`` (``H = 2·units`` bidirectional) → pooled ``(B, H)`` →
probabilities ``(B, C)`` over the label vocabulary.
"""

import keras

from gallery.data.word_vectors import DIM as PRETRAINED_DIM
from gallery.data.word_vectors import known_words, word_vectors
from gallery.layers.pooling import MaskedPooling
from gallery.layers.stack import recurrent_encoder
from gallery.layers.text import TextToIds
from tasks.sentiment.lexicon import NUM_FEATURES, lexicon_features, lexicon_words


def build_core(config, vocabulary_size, num_labels):
    """The trained part: ids ``(B, T)`` int → probabilities ``(B, C)``.

    Beside the learned embedding ``"embedding"`` ``(V, E)`` (none with ``E = 0``), two
    fixed ones can be concatenated (their values are set by :func:`build_model` and saved with the
    weights): ``"pretrained"`` ``(V, 384)`` word vectors (``config.pretrained``,
    trainable with ``config.tune_pretrained``) and ``"lexicon"`` ``(V, NUM_FEATURES)``
    word-sentiment priors (``config.lexicon``).
    """
    ids = keras.Input((None,), dtype="int64", name="token_ids")
    parts = []
    if config.embedding_dim:
        parts.append(keras.layers.Embedding(vocabulary_size, config.embedding_dim,
                                            mask_zero=True, name="embedding")(ids))
    if config.pretrained:
        parts.append(keras.layers.Embedding(vocabulary_size, PRETRAINED_DIM, mask_zero=True,
                                            trainable=config.tune_pretrained,
                                            name="pretrained")(ids))
    if config.lexicon:
        parts.append(keras.layers.Embedding(vocabulary_size, NUM_FEATURES, mask_zero=True,
                                            trainable=False, name="lexicon")(ids))
    x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="word_features")(parts)
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
    """The end-to-end model, its vocabulary learned from ``train_texts``.

    With ``config.extend_vocabulary`` the vocabulary also holds the words that have
    fixed features (pretrained vectors, lexicon entries) but do not occur in the
    training texts: a test review's rare word still carries its prior.
    """
    extra = []
    if config.extend_vocabulary:
        extra += known_words() if config.pretrained else []
        extra += lexicon_words() if config.lexicon else []
    preprocessor = TextToIds.adapt_new(train_texts, config.max_tokens, config.max_length,
                                       extra_words=sorted(set(extra)), name="preprocessor")
    core = build_core(config, preprocessor.vocabulary_size, num_labels)
    if config.lexicon:
        core.get_layer("lexicon").set_weights([lexicon_features(preprocessor.vocabulary)])
    if config.pretrained:
        vectors, _ = word_vectors(["", "[UNK]"] + preprocessor.vocabulary)
        core.get_layer("pretrained").set_weights([vectors])
    return assemble(preprocessor, core)
