"""The photo path of the captioning task (``--data flickr8k:DIR`` / ``captions:DIR``):
what :class:`~tasks.captioning.task.CaptioningTask` does when its settings name an
image ``encoder``. Same method names and arguments as ``gallery.task.Task``.

Training fits the decoder (and the encoder's tail, with ``fine_tune_encoder_blocks``)
on the frozen encoder's (or front's) features, computed once per run
(``gallery.data.feature_cache``, in the run's checkpoint folder). Scores: corpus
BLEU-1…4 of the beam-search captions against every reference caption
(``gallery.metrics.multi_reference_bleu``, words as ``caption_tokens`` splits them),
and METEOR when Java and ``pycocoevalcap``'s jar are present (``gallery.meteor``).
"""

import keras
import numpy as np
import tensorflow as tf

from gallery.data.bucketing import length_sorted_batches
from gallery.data.epochs import EpochClock
from gallery.data.feature_cache import cached_features, weights_digest
from gallery.errors import GalleryError
from gallery.images import decode_photo_batch, read_photos
from gallery.layers.text import TextToIds
from gallery.metrics import caption_tokens, multi_reference_bleu

from .config import VAL_BLEU
from .photos import load_photo_data

PHOTO_KINDS = ("flickr8k", "captions")
FEATURE_BATCH = 32


def is_photo_config(config):
    return config.encoder != "none"


def load_data(config, kind, value):
    if not is_photo_config(config):
        raise GalleryError(f"--data {kind}:... holds photos: train it with an image encoder "
                           "(--profile photos, or --set encoder=efficientnet_lite0)")
    splits = load_photo_data(kind, value)
    captions = [c for refs in splits.train.references for c in refs]
    words = TextToIds.adapt_new(captions, None, config.max_words, min_count=config.min_word_count)
    splits.meta["vocabulary"] = words.vocabulary
    return splits


def encoder_id(model):
    """What the cached features depend on: the encoder, and with a tail to fine-tune
    the cut and the frozen front's weights only (the tail's change in training)."""
    if model.tail is None:
        return f"{model.encoder_spec}:{weights_digest(model.encoder)}"
    return (f"{model.encoder_spec}:front-without-last-{model.fine_tune_encoder_blocks}-blocks:"
            f"{weights_digest(model.front)}")


def compute_features(model, paths):
    size = model.encoder.input_shape[1]
    return model.features(read_photos(paths, size)).numpy()


def prepare(config, model, splits, folder):
    """Features of every split's images, cached in ``folder`` (the checkpoint folder)."""
    key, done = encoder_id(model), {}
    for name, part in (("train", splits.train), ("validation", splits.validation),
                       ("test", splits.test)):
        if part.features is None and tuple(part.paths) in done:  # test = dev (Flickr8k)
            part.features = done[tuple(part.paths)]
        elif part.features is None:
            part.features = cached_features(folder, name, part.paths, key,
                                            lambda paths: compute_features(model, paths),
                                            FEATURE_BATCH)
        done[tuple(part.paths)] = part.features


def features_of(model, part):
    """The part's cached features, or computed now (``gallery evaluate``)."""
    if part.features is None:
        part.features = np.concatenate([
            compute_features(model, part.paths[i:i + FEATURE_BATCH]).astype(np.float16)
            for i in range(0, len(part), FEATURE_BATCH)])
    return part.features


def _pairs(model, part):
    """Every (image row, caption) pair: rows ``(N,)`` and ids ``(N, W)`` in and out."""
    rows = np.array([i for i, refs in enumerate(part.references) for _ in refs], np.int64)
    cin, cout = model.caption_ids([c for refs in part.references for c in refs])
    return rows, cin, cout


def datasets(config, model, splits, clock=None):
    clock = clock or EpochClock()
    train_features, val_features = splits.train.features, splits.validation.features
    rows, cin, cout = _pairs(model, splits.train)
    val_rows, val_in, val_out = _pairs(model, splits.validation)
    signature = ((tf.TensorSpec((None, *train_features.shape[1:]), tf.float32),
                  tf.TensorSpec((None, None), tf.int32)), tf.TensorSpec((None, None), tf.int32))

    def batches(features, rows, cin, cout, index_batches):
        for index in index_batches:  # each batch padded only to its longest caption
            width = int((cout[index] != 0).sum(axis=1).max())
            yield ((features[rows[index]].astype(np.float32), cin[index, :width]),
                   cout[index, :width])

    def train():  # similar lengths batched together: the loop runs few padded steps
        epoch = clock.next_pass()
        yield from batches(train_features, rows, cin, cout, length_sorted_batches(
            (cin != 0).sum(axis=1), config.batch_size,
            np.random.default_rng([config.seed, epoch])))

    def validation():
        order = np.argsort((val_in != 0).sum(axis=1), kind="stable")
        yield from batches(val_features, val_rows, val_in, val_out,
                           [order[i:i + config.batch_size]
                            for i in range(0, len(order), config.batch_size)])
    return tuple(tf.data.Dataset.from_generator(g, output_signature=signature).prefetch(2)
                 for g in (train, validation))


class Writer:
    """Cached features ``(B, S, D)`` → the beam's captions and scores, as tensors
    (``beam_width`` from the settings; 1 is greedy)."""

    def __init__(self, config, model, beam_width=None, length_penalty=None):
        self.model = model
        self.beam_width = beam_width or config.beam_width
        self.length_penalty = config.length_penalty if length_penalty is None else length_penalty
        self.words = tf.constant(model.text.id_to_token(blank_marks=True))

    def text(self, tokens, lengths):
        """``tokens (N, L)``, ``lengths (N,)`` → ``(N,)`` strings."""
        words = tf.RaggedTensor.from_tensor(tf.gather(self.words, tokens), lengths=lengths)
        return tf.strings.reduce_join(words, axis=1, separator=" ")

    def __call__(self, features):
        tokens, lengths, scores = self.model.beams(features, self.beam_width,
                                                   self.length_penalty)
        shape = tf.shape(tokens)
        captions = self.text(tf.reshape(tokens, [-1, shape[2]]), tf.reshape(lengths, [-1]))
        return {"tokens": tokens[:, 0], "lengths": lengths[:, 0],
                "captions": tf.reshape(captions, shape[:2]), "scores": scores}


def caption_writer(config, model, feature_shape, beam_width=None, length_penalty=None,
                   batch_size=100):
    """A function: cached features ``(N, *feature_shape)`` → the best captions
    (strings), traced once and run ``batch_size`` photos at a time."""
    writer = Writer(config, model, beam_width, length_penalty)
    run = tf.function(lambda f: writer(f)["captions"][:, 0], input_signature=[
        tf.TensorSpec((None, *feature_shape), tf.float32)])

    def write(features):
        out = []
        for start in range(0, len(features), batch_size):
            out += [c.decode() for c in run(features[start:start + batch_size]
                                            .astype(np.float32)).numpy()]
        return out
    return write


def write_captions(config, model, features, beam_width=None, length_penalty=None):
    """Best captions (strings) of cached features ``(N, S, D)``."""
    return caption_writer(config, model, features.shape[1:], beam_width,
                          length_penalty)(features)


class ValidationBleu(keras.callbacks.Callback):
    """After every epoch, ``logs["val_bleu4"]``: corpus BLEU-4 of the validation photos'
    captions, written as the export writes them (the settings' beam and length
    penalty), against all their references. Placed before early stopping, which can
    then watch it (``early_stopping_on=val_bleu4``, as Xu et al. 2015 stopped)."""

    def __init__(self, config, model, part):
        super().__init__()
        self.write = caption_writer(config, model, part.features.shape[1:])
        self.features = part.features
        self.references = [[caption_tokens(r) for r in refs] for refs in part.references]

    def on_epoch_end(self, epoch, logs=None):
        hypotheses = [caption_tokens(c) for c in self.write(self.features)]
        bleu4 = multi_reference_bleu(hypotheses, self.references)[3]
        if logs is not None:
            logs[VAL_BLEU] = bleu4
        print(f"[captioning] epoch {epoch + 1}: validation BLEU-4 {bleu4:.2f}", flush=True)


def caption_scores(captions, references):
    """BLEU-1…4 (and exact match: the caption equals one of its references, as words)."""
    hyps = [caption_tokens(c) for c in captions]
    refs = [[caption_tokens(r) for r in rs] for rs in references]
    bleu = multi_reference_bleu(hyps, refs)
    scores = {f"bleu{n}": round(b, 2) for n, b in enumerate(bleu, 1)}
    scores["exact_match"] = float(np.mean([h in r for h, r in zip(hyps, refs)]))
    return scores


def evaluate(config, model, data, meta):
    from gallery.meteor import meteor

    captions = write_captions(config, model, features_of(model, data))
    metrics = caption_scores(captions, data.references)
    score, why = meteor(captions, data.references)
    metrics["meteor"] = score
    if score is None:
        metrics["meteor_skipped"] = why
    metrics.update(examples=len(data), beam_width=config.beam_width,
                   split=meta.get("test_split", "test"),
                   samples=[{"image": str(p.name), "caption": c}
                            for p, c in zip(data.paths[:5], captions[:5])])
    return metrics


def after_training(config, model, splits, run_dir):
    """``test_captions.png``: a few test photos, each with its caption and where the
    decoder looked for each word (``gallery.plots.caption_attention``)."""
    from gallery.plots import caption_attention

    count = min(3, len(splits.test))
    features = features_of(model, splits.test)[:count].astype(np.float32)
    out = Writer(config, model)(tf.constant(features))
    alpha, _ = model.attention(tf.constant(features), out["tokens"])
    pixels = read_photos(splits.test.paths[:count], model.encoder.input_shape[1]).numpy()
    captions = [c.decode() for c in out["captions"][:, 0].numpy()]
    caption_attention(pixels, captions, alpha.numpy(), model.grid_shape[:2],
                      run_dir / "test_captions.png")


# -- serving ------------------------------------------------------------------------------
def _photo_size(model):
    return model.encoder.input_shape[1]


def serving_function(config, model, meta):
    """Encoded JPEG/PNG/GIF/BMP bytes of any size ``(B,)`` → ``caption (B,)``, ``score``
    (the beam's best, length-normalised log-probability), ``alternatives (B, K)`` and
    ``alternative_scores (B, K)`` (the whole final beam, best first), ``words (B, L)``
    (the caption's words, ``""``-padded) and ``attention (B, L, h, w)``: where the
    decoder looked over the encoder's ``h × w`` grid while writing each word. An entry
    that does not decode gets ``""`` and score ``-inf``."""
    writer = Writer(config, model)
    grid = model.grid_shape[:2]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image")])
    def serve(image):
        pixels, ok = decode_photo_batch(image, _photo_size(model))
        features = model.features(pixels)
        out = writer(features)
        alpha, _ = model.attention(features, out["tokens"])
        steps = tf.range(tf.shape(out["tokens"])[1])[None] < out["lengths"][:, None]
        words = tf.where(steps, tf.gather(writer.words, out["tokens"]), "")
        shape = tf.shape(alpha)
        return {"caption": tf.where(ok, out["captions"][:, 0], ""),
                "score": tf.where(ok, out["scores"][:, 0], float("-inf")),
                "alternatives": tf.where(ok[:, None], out["captions"], ""),
                "alternative_scores": tf.where(ok[:, None], out["scores"], float("-inf")),
                "words": tf.where(ok[:, None], words, ""),
                "attention": tf.reshape(alpha * tf.cast(steps, alpha.dtype)[..., None],
                                        [shape[0], shape[1], grid[0], grid[1]])}
    return serve


def tflite_models(config, model, meta):
    """``encoder``: pixels ``(1, size, size, 3)`` in 0..255 → the decoder's start state
    ``[h, c, features, keys]``; ``step``: one word and that state → logits and the new
    state (greedy decoding in Python, ``tasks.captioning.tflite_decoder``)."""
    import keras

    from gallery.export.tflite import step_model

    size = _photo_size(model)
    pixels = keras.Input((size, size, 3), batch_size=1, name="pixels")
    states = list(model.start(model.features(pixels)))

    def one_step(tokens, flat):
        logits, state = model.step(tokens, tuple(flat))
        return logits, list(state)
    step = step_model(one_step, "int32", [tuple(s.shape[1:]) for s in states])
    return {"encoder": keras.Model(pixels, states), "step": step}, {
        "target_vocabulary": model.text.id_to_token(blank_marks=True), "photo_size": size,
        "start_id": model.start_id, "end_id": model.end_id,
        "max_target": config.max_words + 1,
        "input_limits": {"step": {"token": model.decoder.vocabulary_size}}}


def predict_examples(splits, folder):
    return [str(path) for path in splits.test.paths[:2]]


def demo_request(splits):
    return {"image": tf.constant([path.read_bytes() for path in splits.test.paths[:2]]
                                 + [b"not an image"])}
