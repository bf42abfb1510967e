"""Running a ``gallery export --format tflite`` model with plain Python and NumPy.

``MODEL.tflite`` holds the recurrent network with fixed input shapes and TFLite's
built-in ops only; ``MODEL.json`` beside it holds what TFLite cannot do (the
vocabulary, the labels) and says which ``kind`` of model it is:

- ``text_classifier`` (sentiment): text → ids ``(1, L)`` int64 → probabilities
  ``(1, C)``. Text becomes ids as the Keras model's ``TextToIds`` does it: ASCII
  letters lower-cased, the punctuation ``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'`` removed,
  split on ASCII whitespace; a word's id is ``2 + its index`` in the vocabulary
  (``1`` unknown, ``0`` padding); the first ``L`` ids are kept, right-padded with 0.
- ``char_generator`` (charlm): the ``step`` model, character id ``(1,)`` and the
  states of every layer → next-character logits and new states; the prime is read
  one character at a time, then each arg-max character is fed back (greedy, what
  the SavedModel's ``generate`` gives with temperature 0).
- ``translator`` (translation): ``encoder``, source ids ``(1, S)`` → the decoder's
  first states (with the attention keys and source mask), and ``step``, one target
  token and the states → logits and new states; decoded greedily from ``start_id``
  to ``end_id`` (what the SavedModel gives with ``beam_width=1``).
- ``captioner`` (captioning): the same pair with pixels ``(1, H, W, 1)`` into the
  ``encoder``; images are decoded with Pillow (:func:`image_pixels`).
- ``frame_tagger`` (frame tagging): frames ``(1, T, C)`` float32 and lengths ``(1,)``
  int32 → per-frame probabilities ``(1, T, K)``; a stream of up to ``T`` frames is
  zero-padded to ``T`` (the model normalises and masks the padding itself).

Nothing here imports TensorFlow unless the LiteRT runtime (``ai_edge_litert``) is
missing, in which case ``tf.lite.Interpreter`` runs the model::

    from gallery.tflite import TFLiteModel
    model = TFLiteModel("sentiment.tflite")
    model.predict(["a gorgeous, witty film"])  # [{"label": "pos", "probability": ...}]
"""

import json
import pathlib
import re
import unicodedata

import numpy as np

_STRIP = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_SPACE = re.compile(r"[ \t\n\v\f\r]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def interpreter(path):
    """A TFLite interpreter for ``path`` with its tensors allocated."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import warnings

        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
    model = Interpreter(model_path=str(path))
    model.allocate_tensors()
    return model


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


def text_to_ids(text, vocabulary, length, mode="words"):
    """``(1, length)`` int64 ids of ``text`` (``vocabulary``: a ``{token: id}`` dict;
    ``1`` for a token outside it, ``0`` padding)."""
    ids = [vocabulary.get(w, 1) for w in tokens_of(text, mode)][:length]
    return np.array([ids + [0] * (length - len(ids))], np.int64)


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


class TFLiteModel:
    """A ``.tflite`` file and its ``.json`` side file; ``predict(inputs)`` gives one
    dict per input, as ``gallery predict`` does."""

    def __init__(self, path):
        path = pathlib.Path(path)
        self.info = json.loads(path.with_suffix(".json").read_text())
        self.parts = {part: interpreter(path.with_name(name))
                      for part, name in self.info["models"].items()}
        if "vocabulary" in self.info:
            self._ids = {w: i + 2 for i, w in enumerate(self.info["vocabulary"])}

    def run(self, part, **inputs):
        """One invocation of model ``part``: ``name=array`` for each input (by its
        Keras input name) → its outputs, a list in the Keras model's order."""
        runner = self.parts[part].get_signature_runner()
        details = runner.get_input_details()
        result = runner(**{name: np.asarray(inputs[name]).astype(details[name]["dtype"])
                           for name in details})
        return [result[name] for name in sorted(
            result, key=lambda name: int(name.rsplit("_", 1)[-1]))]  # output_0, ...

    def predict(self, inputs):
        return [getattr(self, "_" + self.info["kind"])(item) for item in inputs]

    def _text_classifier(self, text):
        ids = text_to_ids(text, self._ids, self.info["max_length"], self.info["tokens"])
        probabilities = self.run("classify", token_ids=ids)[0][0]
        best = int(probabilities.argmax())
        return {"label": self.info["labels"][best], "probability": float(probabilities[best]),
                "probabilities": probabilities.tolist()}

    def _frame_tagger(self, frames):
        frames = np.asarray(frames, np.float32)
        steps = self.info["frames"]
        if len(frames) > steps:
            raise ValueError(f"this model takes streams of up to {steps} frames, "
                             f"got {len(frames)}")
        padded = np.zeros((1, steps, *frames.shape[1:]), np.float32)
        padded[0, :len(frames)] = frames
        out = self.run("tag", frames=padded, lengths=np.array([len(frames)], np.int32))
        probabilities = out[0][0, :len(frames)]
        labels = self.info["labels"]
        return {"labels": [labels[k] for k in probabilities.argmax(-1)],
                "probabilities": probabilities.tolist()}

    def greedy(self, step_inputs, first_token, length, end_id=None):
        """Greedy decoding around the ``step`` model: ``(tokens, score)`` with up to
        ``length`` tokens (fewer if ``end_id`` comes), each the arg-max of the logits
        after the previous one; ``score`` sums their log-probabilities (the end token
        included). ``step_inputs``: the states before ``first_token``."""
        states, token, tokens, score = list(step_inputs), first_token, [], 0.0
        for _ in range(length):
            logits, *states = self.step(token, states)
            logits = logits[0].astype(np.float64)
            token = int(logits.argmax())
            score += logits[token] - logits.max() - np.log(np.exp(logits - logits.max()).sum())
            if token == end_id:
                break
            tokens.append(token)
        return tokens, float(score)

    def step(self, token, states):
        """One decoder step: ``[logits (1, V), *new states]``."""
        inputs = {f"state{i}": s for i, s in enumerate(states)}
        return self.run("step", token=np.array([token]), **inputs)

    def _char_generator(self, prime, length=None):
        """Continue ``prime`` greedily (as ``generate`` with temperature 0)."""
        ids = {c: i + 1 for i, c in enumerate(self.info["vocabulary"])}
        chars = ["\ufffd", *self.info["vocabulary"]]
        tokens = [ids.get(c, 0) for c in (prime or "\n")]
        states = [np.zeros((1, size), np.float32) for size in self.info["state_sizes"]]
        for token in tokens[:-1]:  # read the prime; its last character starts decoding
            _, *states = self.step(token, states)
        length = self.info["sample_length"] if length is None else length
        generated, _ = self.greedy(states, tokens[-1], length)
        return {"prime": prime, "text": "".join(chars[t] for t in generated)}

    def _captioner(self, image):
        """Greedy caption (as the SavedModel with ``beam_width=1``) of encoded image
        bytes or a ``(H, W)`` array in ``[0, 1]``."""
        info = self.info
        pixels = image if isinstance(image, np.ndarray) else image_pixels(
            image, info["height"], info["width"])
        states = self.run("encoder", pixels=pixels.reshape(1, *pixels.shape[:2], 1))
        tokens, score = self.greedy(states, info["start_id"], info["max_target"],
                                    end_id=info["end_id"])
        words = info["target_vocabulary"]
        return {"caption": " ".join(words[t] for t in tokens), "score": score}

    def _translator(self, text):
        """Greedy translation (as the SavedModel with ``beam_width=1``)."""
        info = self.info
        ids = text_to_ids(text, self._ids, info["max_length"], info["tokens"])
        if not ids.any():  # no token at all: nothing to translate
            return {"translation": "", "score": float("-inf")}
        states = self.run("encoder", source_ids=ids)
        tokens, score = self.greedy(states, info["start_id"], info["max_target"],
                                    end_id=info["end_id"])
        words = ["", "[UNK]", *info["target_vocabulary"], "", ""]
        return {"translation": join_tokens([words[t] for t in tokens], info["target_tokens"]),
                "score": score}
