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

``MODEL.json`` records each model file's name and SHA-256: :class:`TFLiteModel` runs
the file it is given and nothing else, and hands the interpreter only bytes whose
hash matches (a truncated, changed or swapped file is a :class:`GalleryError`, never
a crash inside TFLite). It records, too, the range ``[0, limit)`` of every integer
input (``input_limits``: token ids below the embedding's size); :meth:`TFLiteModel.run`
refuses a value outside it before the interpreter sees it.

Nothing here imports TensorFlow unless the LiteRT runtime (``ai_edge_litert``) is
missing, in which case ``tf.lite.Interpreter`` runs the model::

    from gallery.tflite import TFLiteModel
    model = TFLiteModel("sentiment.tflite")
    model.predict(["a gorgeous, witty film"])  # [{"label": "pos", "probability": ...}]
"""

import collections.abc
import hashlib
import json
import os
import pathlib
import re
import unicodedata

import numpy as np

from gallery.errors import GalleryError

_STRIP = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_SPACE = re.compile(r"[ \t\n\v\f\r]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


#: The largest ``.json`` side file read (a vocabulary of a million words is ~10 MB).
MAX_SIDE_FILE_BYTES = 64 * 2**20
#: The largest model file read: 2 GiB, the limit of TFLite's FlatBuffer format itself.
MAX_MODEL_BYTES = 2 * 2**30
#: What to do about an export from before the side file held hashes.
RE_EXPORT = "re-export it with `gallery export TASK --model RUN --format tflite`"


def interpreter(content):
    """A TFLite interpreter for the model bytes ``content``, its tensors allocated."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import warnings

        from gallery.quiet import import_tensorflow

        import_tensorflow()  # without TensorFlow's start-up lines on stderr
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
    model = Interpreter(model_content=content)
    model.allocate_tensors()
    return model


def sha256(data):
    """The SHA-256 of ``data`` (bytes) as 64 hex digits: what the side file records."""
    return hashlib.sha256(data).hexdigest()


def _read_bounded(path, limit, what):
    """The bytes of ``path``, or a one-line error if it is missing or over ``limit``."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(limit + 1) if size <= limit else b""
    except FileNotFoundError:
        raise GalleryError(f"{path.name} not found") from None
    except IsADirectoryError:
        raise GalleryError(f"{path.name} is a folder, not a {what}") from None
    except OSError as error:
        raise GalleryError(f"cannot read {path.name}: {error.strerror or error}") from None
    if max(size, len(data)) > limit:
        raise GalleryError(f"{path.name} is larger than a {what} can be ({limit:,} bytes)")
    return data


def read_export(path):
    """``(info, {part: model bytes})`` of the export whose main file is ``path``:
    its side file ``path.with_suffix(".json")`` parsed, and each model file it lists
    read and checked against its recorded SHA-256. ``path`` must be the file the side
    file names first-hand (``gallery export --out``); anything else is refused."""
    path = pathlib.Path(path)
    if path.suffix != ".tflite":
        raise GalleryError(f"{path.name} is not a .tflite file (give the file "
                           "`gallery export --format tflite --out` wrote)")
    side = path.with_suffix(".json")
    if not side.exists():
        raise GalleryError(f"no {side.name} beside {path.name} (the side file `gallery "
                           "export --format tflite` writes with it)")
    try:
        info = json.loads(_read_bounded(side, MAX_SIDE_FILE_BYTES, "TFLite side file"))
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise GalleryError(f"{side.name} is not valid JSON ({error})") from None
    models = info.get("models") if isinstance(info, dict) else None
    if not isinstance(models, dict) or not models:
        raise GalleryError(f"{side.name} is not a gallery TFLite side file (no \"models\")")
    if not all(isinstance(entry, dict) and isinstance(entry.get("file"), str)
               and isinstance(entry.get("sha256"), str) for entry in models.values()):
        raise GalleryError(f"{side.name} records no SHA-256 of its model files (written by "
                           f"an older gallery); {RE_EXPORT}")
    if path.name not in [entry["file"] for entry in models.values()]:
        raise GalleryError(f"{side.name} describes {_files(models)}, not {path.name}; give "
                           f"the file it describes, or {RE_EXPORT}")
    contents = {}
    for part, entry in models.items():
        name = entry["file"]
        if pathlib.PurePath(name).name != name or name in (".", "..") or "\\" in name:
            raise GalleryError(f"{side.name} names {name!r} as a model file; only a file "
                               "beside it is read")
        data = _read_bounded(path.with_name(name), MAX_MODEL_BYTES, "TFLite model")
        if sha256(data) != entry["sha256"]:
            raise GalleryError(f"{name} ({len(data):,} bytes) is not the file {side.name} "
                               f"describes (its SHA-256 differs: a truncated, changed or "
                               f"swapped file); {RE_EXPORT}")
        contents[part] = data
    return info, contents


def _files(models):
    return ", ".join(entry["file"] for entry in models.values())


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


def _text(item):
    """A text input as ``str``: bytes are UTF-8 (invalid bytes → U+FFFD, as the Keras
    model reads a ``tf.string``); anything else is refused."""
    if isinstance(item, str):
        return item
    if isinstance(item, (bytes, bytearray)):
        return bytes(item).decode("utf-8", "replace")
    raise TypeError(f"each input of this model is a text (str), got {type(item).__name__}")


class TFLiteModel:
    """A ``.tflite`` file and its ``.json`` side file; ``predict(inputs)`` gives one
    dict per input, as ``gallery predict`` does. ``path`` is the file ``gallery export
    --format tflite --out`` wrote; it runs only if its side file describes it (name
    and SHA-256, :func:`read_export`)."""

    def __init__(self, path):
        self.info, contents = read_export(path)
        self.parts = {part: interpreter(data) for part, data in contents.items()}
        self.limits = self._input_limits(pathlib.Path(path).with_suffix(".json").name)
        if "vocabulary" in self.info:
            self._ids = {w: i + 2 for i, w in enumerate(self.info["vocabulary"])}

    def _input_limits(self, side):
        """``{part: {input: limit}}`` for every integer input, from the side file; an
        integer input without a limit there is refused (no guessing its range)."""
        declared = self.info.get("input_limits", {})
        limits = {}
        for part, model in self.parts.items():
            details = model.get_signature_runner().get_input_details()
            limits[part] = {}
            for name, detail in details.items():
                if not np.issubdtype(detail["dtype"], np.integer):
                    continue
                limit = declared.get(part, {}).get(name) if isinstance(declared, dict) else None
                if not isinstance(limit, int) or limit < 1:
                    raise GalleryError(f"{side} gives no range for the integer input {name!r} "
                                       f"of {part!r} (input_limits); {RE_EXPORT}")
                limits[part][name] = limit
        return limits

    def run(self, part, **inputs):
        """One invocation of model ``part``: ``name=array`` for each input (by its
        Keras input name) → its outputs, a list in the Keras model's order. Each array
        must have the input's shape, and an integer input's values must lie in
        ``[0, limit)`` (``input_limits``: e.g. ids below the embedding's size), or
        ``GalleryError``: the interpreter never sees them."""
        runner = self.parts[part].get_signature_runner()
        details = runner.get_input_details()
        feed = {}
        for name, detail in details.items():
            value = np.asarray(inputs[name])
            if value.shape != tuple(detail["shape"]):
                raise ValueError(f"{part} input {name!r} takes shape "
                                 f"{tuple(detail['shape'])}, got {value.shape}")
            limit = self.limits[part].get(name)
            if limit is not None and value.size and (value.min() < 0 or value.max() >= limit):
                bad = value.max() if value.max() >= limit else value.min()
                raise GalleryError(f"{part} input {name!r}: {bad} is outside 0..{limit - 1} "
                                   "(the range the model was exported with)")
            feed[name] = value.astype(detail["dtype"])
        result = runner(**feed)
        return [result[name] for name in sorted(
            result, key=lambda name: int(name.rsplit("_", 1)[-1]))]  # output_0, ...

    def predict(self, inputs):
        """One dict per item of ``inputs``: a list (tuple, or array whose first axis
        runs over inputs), never a bare string, bytes or scalar."""
        if isinstance(inputs, (str, bytes, bytearray, np.generic)) or not isinstance(
                inputs, (collections.abc.Sequence, np.ndarray)) or np.ndim(inputs) == 0:
            raise TypeError(f"TFLiteModel.predict takes a list of inputs, got a "
                            f"{type(inputs).__name__}; pass [item] for one input")
        return [getattr(self, "_" + self.info["kind"])(item) for item in inputs]

    def _text_classifier(self, text):
        ids = text_to_ids(_text(text), self._ids, self.info["max_length"], self.info["tokens"])
        probabilities = self.run("classify", token_ids=ids)[0][0]
        best = int(probabilities.argmax())
        return {"label": self.info["labels"][best], "probability": float(probabilities[best]),
                "probabilities": probabilities.tolist()}

    def _frame_tagger(self, frames):
        frames = np.asarray(frames, np.float32)
        steps, shape = self.info["frames"], tuple(self.info["frame_shape"])
        if frames.ndim != 1 + len(shape) or frames.shape[1:] != shape:
            raise ValueError(f"this model takes a stream of frames of shape (T, "
                             f"{', '.join(map(str, shape))}), got {frames.shape}")
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
        tokens = [ids.get(c, 0) for c in (_text(prime) or "\n")]  # 0: not in the vocabulary
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
        if isinstance(image, np.ndarray):
            pixels = image
            if pixels.shape != (info["height"], info["width"]):
                raise ValueError(f"this model takes ({info['height']}, {info['width']}) "
                                 f"pixels, got {pixels.shape}")
        elif isinstance(image, (bytes, bytearray)):
            pixels = image_pixels(bytes(image), info["height"], info["width"])
        else:
            raise TypeError(f"each input of this model is an encoded image (bytes) or "
                            f"an array of pixels, got {type(image).__name__}")
        states = self.run("encoder", pixels=pixels.reshape(1, *pixels.shape[:2], 1))
        tokens, score = self.greedy(states, info["start_id"], info["max_target"],
                                    end_id=info["end_id"])
        words = info["target_vocabulary"]
        return {"caption": " ".join(words[t] for t in tokens), "score": score}

    def _translator(self, text):
        """Greedy translation (as the SavedModel with ``beam_width=1``)."""
        info = self.info
        ids = text_to_ids(_text(text), self._ids, info["max_length"], info["tokens"])
        if not ids.any():  # no token at all: nothing to translate
            return {"translation": "", "score": float("-inf")}
        states = self.run("encoder", source_ids=ids)
        tokens, score = self.greedy(states, info["start_id"], info["max_target"],
                                    end_id=info["end_id"])
        words = ["", "[UNK]", *info["target_vocabulary"], "", ""]
        return {"translation": join_tokens([words[t] for t in tokens], info["target_tokens"]),
                "score": score}
