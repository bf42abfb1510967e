"""``majority``: a string of ``a``/``b`` characters → ``"a"`` or ``"b"``, whichever is
more frequent (odd lengths, so there is no tie). A task written against the gallery's
public interface only, registered through the ``rnn_gallery.tasks`` entry point.

Model: text ``(B,)`` → ``TextToIds`` (characters) ``(B, T)`` → core: embedding →
GRU → softmax over the two labels ``(B, 2)``.
"""

import dataclasses
import pathlib

import keras
import numpy as np
import tensorflow as tf

from gallery.config import TrainConfig
from gallery.data.epochs import EpochClock
from gallery.errors import GalleryError
from gallery.export.tflite import text_facts
from gallery.layers import Recurrent, make_cell
from gallery.layers.text import TextToIds
from gallery.predicting import predict_batches
from gallery.task import Splits, Task

from .tflite_decoder import MajorityDecoder

LABELS = ["a", "b"]


@dataclasses.dataclass
class MajorityConfig(TrainConfig):
    epochs: int = 4
    batch_size: int = 32
    learning_rate: float = 0.01
    cell: str = "gru"
    units: int = 8
    examples: int = 512           # generated training strings (embedded data)
    max_length: int = 11          # longest generated string (odd)


PROFILES = {"tiny": {"epochs": 2, "examples": 256, "units": 8}}


class Texts:
    def __init__(self, texts, labels):
        self.texts, self.labels = list(texts), list(labels)

    def __len__(self):
        return len(self.texts)


def generate(count, max_length, seed):
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(["a", "b"], size=int(n)))
             for n in rng.integers(0, max_length // 2 + 1, count) * 2 + 1]
    return Texts(texts, ["a" if t.count("a") > len(t) // 2 else "b" for t in texts])


def read_file(path):
    """``text<TAB>label`` lines, labels ``a``/``b``; anything else is refused."""
    texts, labels = [], []
    for number, line in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
        parts = line.split("\t")
        if len(parts) != 2 or parts[1] not in LABELS:
            raise GalleryError(f"{path}:{number}: expected text<TAB>a|b")
        texts.append(parts[0])
        labels.append(parts[1])
    return Texts(texts, labels)


class MajorityTask(Task):
    name = "majority"
    summary = "toy third-party task: a/b string → the more frequent letter"
    config_class = MajorityConfig
    profiles = PROFILES
    metric = "accuracy"
    tflite_decoder = MajorityDecoder

    def load_data(self, config, source=None):
        if source is None:
            parts = [generate(n, config.max_length, config.seed + i)
                     for i, n in enumerate((config.examples, 64, 128))]
            name = "generated a/b strings"
        else:
            if not pathlib.Path(source).is_file():
                raise GalleryError(f"data file not found: {source}")
            data = read_file(source)
            parts, name = [data, data, data], str(source)
        return Splits(*parts, {"labels": LABELS, "source": name})

    def build_model(self, config, splits):
        ids = keras.Input((None,), dtype="int64", name="ids")
        x = keras.layers.Embedding(4, 4, mask_zero=True, name="embedding")(ids)
        x = Recurrent(make_cell(config.cell, config.units, seed=config.seed), name="recurrent")(x)
        core = keras.Model(ids, keras.layers.Dense(2, activation="softmax", name="classifier")(x),
                           name="core")
        text = keras.Input((), dtype="string", name="text")
        to_ids = TextToIds(["a", "b"], max_length=64, tokens="chars", name="preprocessor")
        return keras.Model(text, core(to_ids(text)), name="majority")

    def datasets(self, config, model, splits, clock=None):
        clock, to_ids = clock or EpochClock(), model.get_layer("preprocessor")

        def encoded(data):
            return (np.asarray(to_ids(tf.constant(data.texts))),
                    np.array([LABELS.index(v) for v in data.labels], np.int32))
        train, validation = encoded(splits.train), encoded(splits.validation)

        def train_batches():
            order = np.random.default_rng([config.seed, clock.next_pass()]).permutation(
                len(train[0]))
            for start in range(0, len(order), config.batch_size):
                index = order[start:start + config.batch_size]
                yield train[0][index], train[1][index]
        signature = (tf.TensorSpec((None, None), tf.int64), tf.TensorSpec((None,), tf.int32))
        return (tf.data.Dataset.from_generator(train_batches, output_signature=signature),
                tf.data.Dataset.from_tensor_slices(validation).batch(config.batch_size))

    def compile_core(self, config, core, optimizer):
        core.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                     metrics=["accuracy"])

    def evaluate(self, config, model, data, meta):
        probabilities = predict_batches(model, data.texts)
        truth = np.array([meta["labels"].index(v) for v in data.labels])
        return {"accuracy": float((probabilities.argmax(1) == truth).mean()),
                "examples": len(truth)}

    def serving_function(self, config, model, meta):
        names = tf.constant(meta["labels"])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(text):
            probabilities = model(text, training=False)
            return {"label": tf.gather(names, tf.argmax(probabilities, -1)),
                    "probability": tf.reduce_max(probabilities, -1)}
        return serve

    def predict(self, config, model, meta, inputs):
        probabilities = predict_batches(model, list(inputs))
        return [{"text": text, "label": meta["labels"][int(p.argmax())],
                 "probability": round(float(p.max()), 4)}
                for text, p in zip(inputs, probabilities)]

    def tflite_models(self, config, model, meta):
        """``classify``: ids ``(1, max_length)`` → probabilities ``(1, 2)``, the core
        with a static length (its loop converts to TFLite's ``WHILE``)."""
        to_ids, core = model.get_layer("preprocessor"), model.get_layer("core")
        ids = keras.Input((to_ids.max_length,), batch_size=1, dtype="int64", name="ids")
        return {"classify": keras.Model(ids, core(ids))}, {
            "text": text_facts(to_ids), "labels": meta["labels"],
            "input_limits": {"classify": {"ids": core.get_layer("embedding").input_dim}}}

    def predict_examples(self, splits, folder):
        return splits.test.texts[:2]

    def demo_request(self, splits):
        return {"text": tf.constant(splits.test.texts[:3])}

    def describe_response(self, request, response):
        for text, label in zip(request["text"].numpy(), response["label"].numpy()):
            yield f"{text.decode()!r} → {label.decode()}"
