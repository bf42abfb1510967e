"""Sentiment model: text → ids → word features → recurrent encoder → pooling → softmax.

Shapes: texts ``(B,)`` string → ids ``(B, T)`` → word features ``(B, T, F)`` (mask on)
→ encoder ``(B, T, H)`` (``H = 2·units`` bidirectional) → pooled ``(B, H)`` →
probabilities ``(B, C)`` over the label vocabulary.

With ``config.ensemble = K > 1`` the word features feed ``K`` independent branches
(encoder, pooling, classifier), each with its own initialisation and its own loss;
the core returns their probabilities stacked ``(B, K, C)`` and the end-to-end model
averages them (``"branch_mean"``). ``K = 1`` is the same structure with one branch.
"""

import keras
import tensorflow as tf

from gallery.data.word_vectors import DIM as PRETRAINED_DIM
from gallery.data.word_vectors import known_words, word_vectors
from gallery.layers.ensemble import BranchMean, StackBranches
from gallery.layers.pooling import MaskedPooling
from gallery.layers.stack import recurrent_encoder
from gallery.layers.text import TextToIds

from .lexicon import NUM_FEATURES, lexicon_features, lexicon_words


def word_features(ids, config, vocabulary_size):
    """``(B, T)`` ids → ``(B, T, F)``: learned and/or fixed embeddings, concatenated.

    Beside the learned embedding ``"embedding"`` ``(V, E)`` (none with ``E = 0``), two
    fixed ones can be concatenated (values set by :func:`build_model`, saved with the
    weights): ``"pretrained"`` ``(V, 384)`` word vectors (``config.pretrained``;
    trainable with ``config.tune_pretrained``) and ``"lexicon"`` ``(V, NUM_FEATURES)``
    word-sentiment priors (``config.lexicon``).
    """
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
    return keras.layers.Dropout(config.dropout, name="embedding_dropout")(x)


def branch_features(x, config, k):
    """Branch ``k``: ``(B, T, F)`` → recurrent encoder → pooled ``(B, H)``."""
    h = recurrent_encoder(x, config.cell, config.units, config.num_layers,
                          config.bidirectional, config.dropout,
                          return_sequences=config.pooling != "last", name=f"recurrent{k}",
                          seed=config.seed + 1000 * k,
                          recurrent_dropout=config.recurrent_dropout)
    if config.pooling != "last":
        h = MaskedPooling(config.pooling, name=f"pooling{k}")(h)
    return keras.layers.Dropout(config.dropout, name=f"head_dropout{k}")(h)


def classify_branches(features, num_labels):
    """One softmax classifier per branch; probabilities stacked ``(B, K, C)``."""
    return StackBranches(name="branches")([
        keras.layers.Dense(num_labels, activation="softmax", name=f"classifier{k}")(f)
        for k, f in enumerate(features)])


def build_core(config, vocabulary_size, num_labels):
    """The trained part: ids ``(B, T)`` int → probabilities ``(B, K, C)``."""
    ids = keras.Input((None,), dtype="int64", name="token_ids")
    x = word_features(ids, config, vocabulary_size)
    features = [branch_features(x, config, k) for k in range(config.ensemble)]
    return keras.Model(ids, classify_branches(features, num_labels), name="core")


def with_new_labels(core, num_labels):
    """The same core with fresh classifiers for ``num_labels`` labels (fine-tuning)."""
    count = sum(1 for layer in core.layers if layer.name.startswith("classifier"))
    features = [core.get_layer(f"classifier{k}").input for k in range(count)]
    return keras.Model(core.input, classify_branches(features, num_labels), name="core")


def parts(model):
    """``(preprocessor, core)`` of an end-to-end model made by :func:`assemble`."""
    return model.get_layer("preprocessor"), model.get_layer("core")


def assemble(preprocessor, core):
    """Raw strings ``(B,)`` → probabilities ``(B, C)``: what is saved and exported."""
    texts = keras.Input((), dtype="string", name="text")
    branches = core(preprocessor(texts))
    return keras.Model(texts, BranchMean(name="branch_mean")(branches), name="sentiment")


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
        core.get_layer("lexicon").set_weights([lexicon_features(preprocessor.id_to_token())])
    if config.pretrained:
        vectors, _ = word_vectors(preprocessor.id_to_token())
        core.get_layer("pretrained").set_weights([vectors])
    return assemble(preprocessor, core)


def with_vocabulary(model, config, words):
    """The end-to-end model with its vocabulary cut to ``words`` (kept in the model's
    order; a word cut is ``[UNK]`` from then on): each kept word's rows of the word
    features (learned, pretrained, lexicon) move with it, every other weight is copied.
    A text whose words are all kept gets exactly the outputs it got before."""
    preprocessor, core = parts(model)
    wanted = set(words)
    smaller = TextToIds([w for w in preprocessor.vocabulary if w in wanted],
                        max_length=preprocessor.max_length, tokens=preprocessor.tokens,
                        marks=preprocessor.marks, name=preprocessor.name)
    old_id = {token: i for i, token in enumerate(preprocessor.id_to_token())}
    rows = [old_id[token] for token in smaller.id_to_token()]
    new_core = build_core(config, smaller.vocabulary_size, core.output.shape[-1])
    if [type(layer) for layer in new_core.layers] != [type(layer) for layer in core.layers]:
        raise ValueError("the model's core does not have the layers its settings build")
    for old, new in zip(core.layers, new_core.layers):
        weights = old.get_weights()
        if isinstance(old, keras.layers.Embedding):  # one row per id
            weights = [weights[0][rows]]
        new.set_weights(weights)
    return assemble(smaller, new_core)


def _part(model, kind):
    """The one layer of ``kind`` in the end-to-end model (found by type, not by name)."""
    (layer,) = [layer for layer in model.layers if isinstance(layer, kind)]
    return layer


def prefix_probabilities(model, texts):
    """What the model says after each word: texts ``(B,)`` → ``(tokens (B, T) string,
    lengths (B,) int32, probabilities (B, T, C))``.

    Row ``t`` of text ``b`` is the model's output for the text cut after its token
    ``t`` (``p(· | w_1 … w_t)``), computed as one batch of ``B·T`` right-padded prefixes
    ``ids[b] · 1[j ≤ t]`` (a padded step changes nothing, so each prefix gives what it
    gives alone). Rows ``t ≥ lengths[b]`` repeat the whole text's output. ``tokens`` are
    the words the model saw (``[UNK]`` for words outside its vocabulary).
    """
    preprocessor, core = _part(model, TextToIds), _part(model, keras.Model)
    mean = _part(model, BranchMean)
    ids = preprocessor(texts)  # (B, T)
    batch, steps = tf.shape(ids)[0], tf.shape(ids)[1]
    keep = tf.sequence_mask(tf.range(1, steps + 1), steps, dtype=ids.dtype)  # (T, T)
    prefixes = tf.reshape(ids[:, None, :] * keep[None], [batch * steps, steps])
    probabilities = mean(core(prefixes, training=False))  # (B·T, C)
    words = tf.constant(preprocessor.id_to_token())
    lengths = tf.reduce_sum(tf.cast(ids > 0, tf.int32), axis=1)
    return (tf.gather(words, ids), lengths,
            tf.reshape(probabilities, [batch, steps, tf.shape(probabilities)[-1]]))


def ids_model(model):
    """Ids ``(1, T)`` int64, any ``T`` → probabilities ``(1, C)``: the end-to-end model
    past its ``TextToIds``, for one text, so its loop converts to TFLite's ``WHILE`` and
    runs the text's own ``T`` steps (``gallery export --format tflite``)."""
    core, mean = _part(model, keras.Model), _part(model, BranchMean)
    ids = keras.Input((None,), batch_size=1, dtype="int64", name="token_ids")
    return keras.Model(ids, mean(core(ids)), name="sentiment_ids")


def preprocessor_of(model):
    """The ``TextToIds`` of the end-to-end model (its vocabulary, ids and length)."""
    return _part(model, TextToIds)
