"""`TextToIds`: raw strings in, right-padded token ids out, inside the model.

Keeping vectorization in the model means an exported model serves raw strings. The
steps, for a batch ``(B,)`` of ``tf.string``:

1. invalid UTF-8 bytes become U+FFFD (so no input can make the graph fail);
2. split into tokens with ``TextVectorization``, by ``tokens``:
   ``"words"``: lower-case, strip punctuation, split on whitespace;
   ``"words_punct"``: case kept, each punctuation mark its own token, split on
   whitespace; ``"chars"``: one token per Unicode character, case kept;
3. map tokens to ids;
4. keep the first ``max_length`` tokens, pad on the right to the batch's longest,
   and at least one column, so an empty string gives one all-padding row.

Output: int64 ids ``(B, T)`` with ``1 <= T <= max_length``.

The layer owns its id layout, and everything that turns ids back into tokens or
tokens into ids (models, the TFLite side file, the explorer) asks it
(:meth:`TextToIds.id_to_token`, ``padding_id``, ``unknown_id``, ``start_id``,
``end_id``)::

    id        0        1         2 … V+1                  V+2        V+3
    token     ""       "[UNK]"   vocabulary[0 … V-1]      <start>    <end>
              padding  unknown   (V = len(vocabulary))    only with ``marks=True``

Padding and unknown are the ids and tokens ``TextVectorization`` gives them. The
marks are never written by the layer; a decoder's targets start and end with them.
"""

import keras
import tensorflow as tf

TOKEN_MODES = ("words", "words_punct", "chars")
_PUNCTUATION = r"([^\pL\pN\pM\s])"  # neither a letter, digit, mark nor space
SPECIAL_TOKENS = ("", "[UNK]")  # ids 0 (padding) and 1 (unknown), TextVectorization's
MARK_TOKENS = ("<start>", "<end>")  # the two ids after the vocabulary, with marks=True


def _vectorizer(tokens, **kwargs):
    if tokens == "words":
        return keras.layers.TextVectorization(**kwargs)
    return keras.layers.TextVectorization(
        standardize=None, split="character" if tokens == "chars" else "whitespace", **kwargs)


def prepare_text(texts, tokens="words"):
    """``(B,)`` strings → valid UTF-8 (bad bytes → U+FFFD); for ``words_punct`` with
    spaces around every punctuation mark."""
    texts = tf.strings.unicode_transcode(tf.reshape(tf.cast(texts, tf.string), [-1]), "UTF-8",
                                         "UTF-8", errors="replace", replacement_char=0xFFFD)
    if tokens == "words_punct":
        texts = tf.strings.regex_replace(texts, _PUNCTUATION, r" \1 ")
    return texts


def join_tokens(tokens, mode="words"):
    """Ragged token strings ``(B, None)`` → ``(B,)`` text: characters joined as they are,
    words with spaces; for ``words_punct`` without the space before ``. , ! ? ; :``
    and ``)``, and after ``(``."""
    text = tf.strings.reduce_join(tokens, axis=-1, separator="" if mode == "chars" else " ")
    if mode == "words_punct":
        text = tf.strings.regex_replace(text, r" ([.,!?;:)])", r"\1")
        text = tf.strings.regex_replace(text, r"\( ", "(")
    return text


@keras.saving.register_keras_serializable(package="gallery")
class TextToIds(keras.layers.Layer):
    """Strings ``(B,)`` → ids ``(B, T)`` (the module's docstring); ``marks=True`` adds
    the ``<start>`` and ``<end>`` ids of a decoder's targets after the vocabulary."""

    padding_id = 0
    unknown_id = 1

    def __init__(self, vocabulary, max_length=200, tokens="words", marks=False, **kwargs):
        super().__init__(**kwargs)
        if max_length <= 0:
            raise ValueError(f"`max_length` must be positive; received {max_length}.")
        if tokens not in TOKEN_MODES:
            raise ValueError(f"`tokens` must be one of {TOKEN_MODES}; received {tokens!r}.")
        self.vocabulary = list(vocabulary)
        self.max_length = int(max_length)
        self.tokens = tokens
        self.marks = bool(marks)
        self._vectorize = _vectorizer(tokens, vocabulary=self.vocabulary or None, ragged=True,
                                      name="words")

    @classmethod
    def adapt_new(cls, texts, max_tokens, max_length, extra_words=(), min_count=1, **kwargs):
        """A layer with the ``max_tokens - 2`` most frequent words of ``texts`` (``None``:
        no limit) that occur at least ``min_count`` times, then ``extra_words`` not
        among them (e.g. words that have pretrained vectors, so words never seen in
        training still get meaningful features)."""
        tokens = kwargs.get("tokens", "words")
        counter = _vectorizer(tokens, max_tokens=max_tokens)
        batches = tf.data.Dataset.from_tensor_slices(list(texts)).batch(512).map(
            lambda batch: prepare_text(batch, tokens))
        counter.adapt(batches)
        vocabulary = counter.get_vocabulary()
        if min_count > 1:
            counts = sum(tf.math.bincount(tf.cast(counter(batch), tf.int32),  # 0: padding
                                          minlength=len(vocabulary)).numpy()
                         for batch in batches)
            vocabulary = [w for w, n in zip(vocabulary, counts) if n >= min_count]
        vocabulary = [w for w in vocabulary if w not in SPECIAL_TOKENS]
        known = set(vocabulary)
        vocabulary += [w for w in dict.fromkeys(extra_words) if w and w not in known]
        return cls(vocabulary, max_length=max_length, **kwargs)

    def build(self, input_shape=None):
        self.built = True

    @property
    def vocabulary_size(self):
        """The ids :meth:`call` writes run from 0 to ``vocabulary_size - 1`` (padding,
        unknown, the vocabulary); with ``marks``, ``start_id`` and ``end_id`` follow."""
        return len(SPECIAL_TOKENS) + len(self.vocabulary)

    @property
    def start_id(self):
        """The ``<start>`` id (``marks=True`` only): what a decoder is fed first."""
        return self._mark_id(0)

    @property
    def end_id(self):
        """The ``<end>`` id (``marks=True`` only): what a decoder writes last."""
        return self._mark_id(1)

    def _mark_id(self, index):
        if not self.marks:
            raise ValueError(f"{self.name} has no <start> and <end> ids (marks=False).")
        return self.vocabulary_size + index

    def id_to_token(self, blank_marks=False):
        """The token of every id, a list indexed by id (the module's table);
        ``blank_marks``: ``<start>`` and ``<end>`` as ``""``, for joining into text."""
        marks = ("", "") if blank_marks else MARK_TOKENS
        return [*SPECIAL_TOKENS, *self.vocabulary, *(marks if self.marks else ())]

    def call(self, texts):
        ids = self._vectorize(prepare_text(texts, self.tokens))[:, : self.max_length]
        dense = ids.to_tensor(default_value=0)
        width = tf.shape(dense)[1]
        return tf.pad(dense, [[0, 0], [0, tf.maximum(1 - width, 0)]])

    def count_tokens(self, texts):
        """``(B,)`` strings → ``(B,)`` int: tokens before truncation to ``max_length``."""
        return self._vectorize(prepare_text(texts, self.tokens)).row_lengths()

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary,
                "max_length": self.max_length, "tokens": self.tokens, "marks": self.marks}
