"""Translation (encoder-decoder): a sentence in, its translation out."""

import keras
import numpy as np
import tensorflow as tf

from gallery import plots
from gallery.data.bucketing import length_sorted_batches
from gallery.data.epochs import EpochClock
from gallery.data.padding import pad_right
from gallery.data.sources import parse_source
from gallery.errors import GalleryError
from gallery.layers.text import TextToIds
from gallery.metrics import corpus_bleu, exact_match
from gallery.predicting import shown_text, utf8_bytes
from gallery.seq2seq import SmoothedSparseCrossentropy
from gallery.task import Task

from .config import PROFILES, TranslationConfig
from .data import load_translation_data
from .model import Translator, build_model, target_to_ids
from .tflite_decoder import TranslationDecoder


def token_ids(to_ids, texts, batch_size=2048):
    """Texts → list of int arrays (no padding), with a ``TextToIds`` layer."""
    out = []
    for start in range(0, len(texts), batch_size):
        ids = to_ids(tf.constant(texts[start:start + batch_size])).numpy()
        out += [row[row > 0] for row in ids]
    return out



class TranslationTask(Task):
    name = "translation"
    tflite_decoder = TranslationDecoder
    summary = "encoder-decoder: sentence → sentence in another language"
    config_class = TranslationConfig
    metric = "exact_match"
    monitor = "val_loss"
    model_meta_keys = ("source_vocabulary", "target_vocabulary")
    profiles = PROFILES
    data_licence = ("dates and numbers written from CLDR locale data (through babel) and by "
                    "num2words; each package's licence is in data_packages")
    data_packages = ("babel", "num2words")

    def data_profile(self, source):
        kind, _ = parse_source(source)
        return "sentences" if kind in ("multi30k", "parallel", "path", "tfds") else None

    def load_data(self, config, source=None):
        splits = load_translation_data(config, source)
        for key, texts, mode in (("source_vocabulary", splits.train.sources, config.source_tokens),
                                 ("target_vocabulary", splits.train.targets, config.target_tokens)):
            splits.meta[key] = TextToIds.adapt_new(texts, config.vocabulary_size, 1,
                                                   tokens=mode).vocabulary
        return splits

    def build_model(self, config, splits):
        return build_model(config, splits.meta)

    # -- training batches ---------------------------------------------------------------
    def _encoded(self, config, model, meta, data):
        sources = token_ids(model.source_ids, data.sources)
        target = target_to_ids(config, meta)
        targets = token_ids(target, data.targets)
        keep = [i for i, (s, t) in enumerate(zip(sources, targets)) if len(s) and len(t)]
        return ([sources[i] for i in keep], [np.r_[target.start_id, targets[i]] for i in keep],
                [np.r_[targets[i], target.end_id] for i in keep])

    def datasets(self, config, model, splits, clock=None):
        clock = clock or EpochClock()
        train = self._encoded(config, model, splits.meta, splits.train)
        validation = self._encoded(config, model, splits.meta, splits.validation)
        if not train[0] or not validation[0]:
            raise GalleryError("no training or validation pair has tokens on both sides")

        def batches(data, rng):
            sources, target_in, target_out = data
            lengths = [len(s) + len(t) for s, t in zip(sources, target_in)]
            for index in length_sorted_batches(lengths, config.batch_size, rng):
                yield ((pad_right([sources[i] for i in index], np.int64)[0],
                        pad_right([target_in[i] for i in index], np.int32)[0]),
                       pad_right([target_out[i] for i in index], np.int32)[0])

        def train_batches():
            yield from batches(train, np.random.default_rng([config.seed, clock.next_pass()]))

        def validation_batches():
            yield from batches(validation, np.random.default_rng(0))
        signature = ((tf.TensorSpec((None, None), tf.int64), tf.TensorSpec((None, None), tf.int32)),
                     tf.TensorSpec((None, None), tf.int32))
        return tuple(tf.data.Dataset.from_generator(g, output_signature=signature).prefetch(2)
                     for g in (train_batches, validation_batches))

    def compile_core(self, config, core, optimizer):
        core.compile(optimizer=optimizer, loss=SmoothedSparseCrossentropy(config.label_smoothing),
                     metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")])

    # -- translating ----------------------------------------------------------------------
    def _translator(self, config, model, meta):
        return tf.function(Translator(model, meta, config),
                           input_signature=[tf.TensorSpec([None], tf.string)])

    def translate(self, config, model, meta, texts, batch_size=128):
        translator, out = self._translator(config, model, meta), []
        for start in range(0, len(texts), batch_size):
            text, _, _ = translator(tf.constant(texts[start:start + batch_size]))
            out += [t.decode("utf-8", "replace") for t in text.numpy()]
        return out

    def evaluate(self, config, model, data, meta):
        predicted = self.translate(config, model, meta, list(data.sources))
        return {"exact_match": exact_match(predicted, data.targets),
                "bleu": corpus_bleu(predicted, data.targets), "examples": len(data)}

    def serving_function(self, config, model, meta):
        translator = Translator(model, meta, config)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(text):
            translation, score, truncated = translator(text)
            return {"translation": translation, "score": score, "truncated": truncated}
        return serve

    def extra_endpoints(self, config, model, meta):
        """``attention``: the attention weights of each written word over the source."""
        if config.attention == "none":
            return {}
        translator = Translator(model, meta, config)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def attention(text):
            return translator.attention(text)
        return {"attention": attention}

    def predict(self, config, model, meta, inputs):
        raw = utf8_bytes(inputs)  # undecodable command-line bytes kept as bytes
        out = self.serving_function(config, model, meta)(tf.constant(raw, tf.string))
        rows = zip(map(shown_text, inputs), out["translation"].numpy(), out["score"].numpy(),
                   out["truncated"].numpy())
        return [{"source": s if len(s) <= 200 else s[:200] + "…",
                 "translation": t.decode("utf-8", "replace"),
                 "score": round(float(score), 4) if np.isfinite(score) else None,
                 "truncated": bool(cut)}
                for s, t, score, cut in rows]

    def predict_examples(self, splits, folder):
        return list(splits.test.sources[:2])

    def tflite_models(self, config, model, meta):
        """``encoder``: source ids ``(1, S)``, any ``S`` (the source's own tokens: its
        loop runs ``S`` steps) → the decoder's first states (and the attention keys
        ``(1, S, units)`` and source mask it carries); ``step``: one target token and
        those states → logits and new states. Python decodes greedily around them."""
        from gallery.export.tflite import step_model, text_facts

        to_ids, target = model.source_ids, target_to_ids(config, meta)
        ids = keras.Input((None,), batch_size=1, dtype="int64", name="source_ids")
        states = model.decoding_start(ids)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        step = step_model(model.decode_step_flat, "int32",
                          [(tuple(s.shape[1:]), s.dtype) for s in states])
        start, end = target.start_id, target.end_id
        return {"encoder": keras.Model(ids, states), "step": step}, {
            "text": text_facts(to_ids), "target_tokens": config.target_tokens,
            "target_id_to_token": target.id_to_token(blank_marks=True),
            "start_id": start, "end_id": end,
            "max_target": config.max_target + 1,
            "input_limits": {"encoder": {"source_ids": model.source_embedding.input_dim},
                             "step": {"token": model.word_embedding.input_dim}}}

    def demo_request(self, splits):
        return {"text": tf.constant(list(splits.test.sources[:3]) + [""])}

    def describe_response(self, request, response):
        for source, target in zip(request["text"].numpy(), response["translation"].numpy()):
            yield f"{source.decode()!r} → {target.decode()!r}"

    def after_training(self, config, model, splits, run_dir):
        """``attention.png``: where the decoder looked for three test sentences."""
        if config.attention == "none":
            return
        attention = self.extra_endpoints(config, model, splits.meta)["attention"]
        panels = attention_panels(attention(tf.constant(list(splits.test.sources[:3]))))
        if panels:
            plots.attention_heatmaps(panels, run_dir / "attention.png")


def attention_panels(shown):
    """The ``attention`` endpoint's answer → ``[(source tokens, output tokens, weights
    (T, S))]``, one per text with a token, for ``plots.attention_heatmaps``."""
    shown = {key: np.asarray(value) for key, value in shown.items()}
    panels = []
    for row, (s, n) in enumerate(zip(shown["source_lengths"], shown["output_lengths"])):
        if s:
            panels.append(([t.decode("utf-8", "replace") for t in shown["source_tokens"][row, :s]],
                           [t.decode("utf-8", "replace") for t in shown["output_tokens"][row, :n]],
                           shown["weights"][row, :n, :s]))
    return panels
