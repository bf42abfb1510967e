"""NumPy helpers the tasks' TFLite decoders share: text → ids as the Keras model's
``TextToIds`` makes them, tokens → text, image bytes → pixels, and greedy decoding
around a one-token ``step`` model. No TensorFlow: a decoder runs with plain Python,
NumPy and a TFLite interpreter (:mod:`gallery.export.tflite_runtime`).

Text becomes ids as ``TextToIds`` does it (``gallery/layers/text.py``): for
``tokens="words"`` ASCII letters lower-cased, the punctuation
``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'`` removed, split on ASCII whitespace; a token's id
is its place in the layer's own id → token table, which the exporter writes into the
side file with the padding and unknown ids (:class:`TextIds`); the first ``L`` ids are
kept, right-padded to ``L`` (:meth:`TextIds.trimmed`: not padded, as the layer gives a
batch of that one text, for a model whose loop runs over the real length).
"""

import re
import unicodedata

import numpy as np

from gallery.export.tflite_runtime import TFLiteDecoder

_STRIP = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_SPACE = re.compile(r"[ \t\n\v\f\r]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def as_text(item):
    """A text input as ``str``: bytes are UTF-8 (invalid bytes → U+FFFD, as the Keras
    model reads a ``tf.string``); anything else is refused."""
    if isinstance(item, str):
        return item
    if isinstance(item, (bytes, bytearray)):
        return bytes(item).decode("utf-8", "replace")
    raise TypeError(f"each input of this model is a text (str), got {type(item).__name__}")


def words(text):
    """The words of ``text`` as ``TextToIds(tokens="words")`` splits them."""
    return [w for w in _SPACE.split(_STRIP.sub("", text.translate(_ASCII_LOWER))) if w]


def tokens_of(text, mode="words"):
    """``text`` split as ``TextToIds(tokens=mode)`` splits it: ``words`` (above),
    ``chars`` (one token per character), ``words_punct`` (case kept, every mark that
    is neither letter, digit, combining mark nor space its own token)."""
    if mode == "chars":
        return list(text)
    if mode == "words_punct":
        text = "".join(f" {c} " if _is_punctuation(c) else c for c in text)
        return [w for w in _SPACE.split(text) if w]
    return words(text)


def _is_punctuation(char):
    return unicodedata.category(char)[0] not in "LNM" and char not in " \t\n\f\r"


def join_tokens(tokens, mode="words"):
    """Tokens → text, as ``gallery.layers.text.join_tokens`` joins them."""
    if mode == "chars":
        return "".join(tokens)
    text = " ".join(tokens)
    if mode == "words_punct":
        text = re.sub(r"\( ", "(", re.sub(r" ([.,!?;:)])", r"\1", text))
    return text


class TextIds:
    """Text → ``(1, max_length)`` int64 ids as a ``TextToIds`` layer gives them, right
    -padded (``(1, T)`` with :meth:`trimmed`), from the facts the exporter wrote
    (``gallery.export.tflite.text_facts``): the layer's id → token table, its padding
    and unknown ids, token mode and length."""

    def __init__(self, id_to_token, padding_id, unknown_id, tokens, max_length):
        self.ids = {token: i for i, token in enumerate(id_to_token)
                    if i not in (padding_id, unknown_id)}
        self.padding_id, self.unknown_id = padding_id, unknown_id
        self.tokens, self.max_length = tokens, max_length

    def trimmed(self, text):
        """``(1, T)`` ids, what the layer gives for a batch of this one text: ``T`` its
        token count cut to ``max_length``, and one padding id for a text without any."""
        found = [self.ids.get(token, self.unknown_id)
                 for token in tokens_of(text, self.tokens)][:self.max_length]
        return np.array([found or [self.padding_id]], np.int64)

    def __call__(self, text):
        ids = self.trimmed(text)
        return np.pad(ids, [(0, 0), (0, self.max_length - ids.shape[1])],
                      constant_values=self.padding_id)


class TextDecoder(TFLiteDecoder):
    """A decoder whose input is text: ``self.ids_for(part, name, text)`` gives the ids
    the model's ``TextToIds`` would (its facts in the side file's ``text``) in the
    shape input ``name`` of ``part`` takes: ``(1, T)`` for a time axis of any length,
    ``(1, max_length)`` padded for a fixed one; subclasses write ``predict_one``."""

    def __init__(self, model):
        super().__init__(model)
        self.text_ids = TextIds(**self.info["text"])

    def ids_for(self, part, name, text):
        if self.model.inputs[part][name]["shape_signature"][1] == -1:
            return self.text_ids.trimmed(text)
        return self.text_ids(text)


def image_pixels(data, height, width):
    """Encoded image bytes → ``(height, width)`` float32 grayscale in ``[0, 1]``, as
    ``gallery.images`` makes them: ITU-R 601 luma, inverted when the background is
    bright, fitted into ``height × width`` keeping the aspect ratio, padded with 0
    (Pillow's bilinear resampling, so a resized image can differ slightly from
    TensorFlow's; an image of exactly that size is used as it is)."""
    import io

    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255.0
    gray = rgb @ np.array([0.2989, 0.587, 0.114], np.float32)
    if gray.mean() > 0.5:
        gray = 1.0 - gray
    if gray.shape == (height, width):
        return gray
    scale = min(height / gray.shape[0], width / gray.shape[1])
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    resized = np.asarray(Image.fromarray(gray).resize(size, Image.BILINEAR), np.float32)
    out = np.zeros((height, width), np.float32)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    out[top:top + size[1], left:left + size[0]] = resized
    return out


def photo_pixels(data, size):
    """Encoded image bytes → ``(size, size, 3)`` float32 RGB in 0..255, as
    ``gallery.images.decode_photo_batch`` makes them (resized without keeping the
    aspect ratio; Pillow's bilinear filter, so a resized photo can differ slightly
    from TensorFlow's; a photo of exactly that size is used as it is)."""
    import io

    from PIL import Image

    picture = Image.open(io.BytesIO(data)).convert("RGB")
    if picture.size != (size, size):
        picture = picture.resize((size, size), Image.BILINEAR)
    return np.asarray(picture, np.float32)


def step(model, token, states):
    """One call of the exported ``step`` part: token ``(1,)`` and ``state0 …`` →
    ``[logits (1, V), *new states]`` (``model``: a ``TFLiteModel``)."""
    inputs = {f"state{i}": s for i, s in enumerate(states)}
    return model.run("step", token=np.array([token]), **inputs)


def greedy(model, states, first_token, length, end_id=None):
    """Greedy decoding around the ``step`` part: ``(tokens, score)`` with up to
    ``length`` tokens (fewer if ``end_id`` comes), each the arg-max of the logits
    after the previous one; ``score`` sums their log-probabilities (the end token
    included). ``states``: the states before ``first_token``."""
    states, token, tokens, score = list(states), first_token, [], 0.0
    for _ in range(length):
        logits, *states = step(model, token, states)
        logits = logits[0].astype(np.float64)
        token = int(logits.argmax())
        score += logits[token] - logits.max() - np.log(np.exp(logits - logits.max()).sum())
        if token == end_id:
            break
        tokens.append(token)
    return tokens, float(score)
