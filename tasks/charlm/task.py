"""The character language model: what is specific to predicting the next character."""

import dataclasses
import math

import keras
import tensorflow as tf

from gallery.errors import GalleryError
from gallery.predicting import shown_text, utf8_bytes
from gallery.task import Task
from gallery.training import ResetRecurrentStates

from .characters import CharacterIds
from .config import PROFILES, CharLMConfig
from .data import load_charlm_data
from .model import CharStepper, build_model, streams
from .tflite_decoder import CharLMDecoder

SAMPLE_PRIMES = ("def ", "class ", "import ")


def encode_text(text, vocabulary):
    """``text`` → ids ``(len(text),)`` int32, in :mod:`.characters`' layout."""
    return CharacterIds(vocabulary).encode(text)


def chunk_batches(ids, batch, length):
    """``(inputs, targets)`` arrays ``(chunks, batch, length)``: consecutive chunks of
    ``batch`` parallel streams, targets shifted by one character."""
    rows = streams(ids, batch)
    if rows.shape[1] < 2:
        raise GalleryError(f"{len(ids)} characters are too few for {batch} streams; "
                           "lower batch_size or give more text")
    length = min(length, rows.shape[1] - 1)
    count = (rows.shape[1] - 1) // length
    x = rows[:, :count * length].reshape(batch, count, length).transpose(1, 0, 2)
    y = rows[:, 1:count * length + 1].reshape(batch, count, length).transpose(1, 0, 2)
    return x, y


class CharLMTask(Task):
    name = "charlm"
    tflite_decoder = CharLMDecoder
    summary = "many-to-many, shifted by one: text → the next character (and text generation)"
    config_class = CharLMConfig
    metric = "bits_per_char"
    monitor = "val_loss"
    model_meta_keys = ("vocabulary",)
    profiles = PROFILES
    data_licence = ("the running Python's standard library source (Python Software "
                    "Foundation License)")
    # 3 epochs, about 18 s on 2 cores, the loss falling from about 3.0 to 2.2: the
    # quickest of the tasks' demo runs with a visible learning curve
    live_demo_profile = "demo"

    def load_data(self, config, source=None):
        return load_charlm_data(source, config.max_chars)

    def build_model(self, config, splits):
        return build_model(config, len(splits.meta["vocabulary"]))

    def datasets(self, config, model, splits, clock=None):
        """The same consecutive chunks every epoch: stateful training needs their order."""
        vocabulary = splits.meta["vocabulary"]
        pairs = [chunk_batches(encode_text(part.text, vocabulary), config.batch_size,
                               config.seq_length) for part in (splits.train, splits.validation)]
        return tuple(tf.data.Dataset.from_tensor_slices(p).prefetch(2) for p in pairs)

    def callbacks(self, config, model, splits):
        return [ResetRecurrentStates()]

    def compile_core(self, config, core, optimizer):
        core.compile(optimizer=optimizer,
                     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                     metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])

    # -- evaluation ---------------------------------------------------------------------
    def evaluate(self, config, model, data, meta):
        """Bits per character on ``data``'s text, the state carried across chunks."""
        stepper = CharStepper(model, meta["vocabulary"])
        ids = encode_text(data.text, meta["vocabulary"])
        batch = max(1, min(config.batch_size, len(ids) // (config.seq_length + 1)))
        x, y = chunk_batches(ids, batch, config.seq_length)
        run = tf.function(stepper.run, reduce_retracing=True)
        state = stepper.zero_state(batch)
        nats, correct = 0.0, 0
        for inputs, targets in zip(x, y):
            logits, state = run(tf.constant(inputs), state)
            nats += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
                targets, logits)))
            correct += int(tf.reduce_sum(tf.cast(tf.equal(
                tf.argmax(logits, -1, output_type=tf.int32), targets), tf.int32)))
        count = x.size
        return {"bits_per_char": nats / count / math.log(2), "accuracy": correct / count,
                "characters": int(count)}

    # -- generation ---------------------------------------------------------------------
    def serving_function(self, config, model, meta):
        stepper = CharStepper(model, meta["vocabulary"])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="prime")])
        def serve(prime):
            text = stepper.generate(prime, config.sample_length, config.temperature,
                                    config.sample_seed)
            return {"text": text}
        serve.resources = [stepper.lookup]  # export tracks the vocabulary table
        return serve

    def extra_endpoints(self, config, model, meta):
        """``generate(prime, length, temperature, seed)`` with every knob an input."""
        stepper = CharStepper(model, meta["vocabulary"])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="prime"),
                                      tf.TensorSpec([], tf.int32, name="length"),
                                      tf.TensorSpec([], tf.float32, name="temperature"),
                                      tf.TensorSpec([], tf.int32, name="seed")])
        def generate(prime, length, temperature, seed):
            length = tf.clip_by_value(length, 0, 100_000)
            return {"text": stepper.generate(prime, length, temperature, seed)}
        generate.resources = [stepper.lookup]
        return {"generate": generate}

    def generate(self, config, model, meta, primes):
        stepper = CharStepper(model, meta["vocabulary"])
        text = stepper.generate(tf.constant(utf8_bytes(primes), tf.string), config.sample_length,
                                config.temperature, config.sample_seed)
        return [t.decode("utf-8", errors="replace") for t in text.numpy()]

    def predict(self, config, model, meta, inputs):
        texts = self.generate(config, model, meta, inputs)
        return [{"prime": shown_text(prime), "text": text, "temperature": config.temperature}
                for prime, text in zip(inputs, texts)]

    def predict_examples(self, splits, folder):
        return list(SAMPLE_PRIMES[:2])

    def tflite_models(self, config, model, meta):
        """``step``: one character and the states of every layer → next-character
        logits and the new states; Python reads the prime and decodes around it."""
        from gallery.export.tflite import step_model

        stepper = CharStepper(model, meta["vocabulary"])
        cells = stepper.rnn.cells
        shape = [len(layer) for layer in stepper.zero_state(1)]
        sizes = [s.shape[-1] for layer in stepper.zero_state(1) for s in layer]

        def step(tokens, flat):  # the cells one step each: no time loop at all
            x, out, start = stepper.embedding(tokens), [], 0
            for cell, count in zip(cells, shape):
                x, states = cell(x, flat[start:start + count], training=False)
                out += list(states) if isinstance(states, (list, tuple)) else [states]
                start += count
            return stepper.logits(x), out
        return {"step": step_model(step, "int32", [(size,) for size in sizes])}, {
            "vocabulary": list(meta["vocabulary"]),
            "state_sizes": sizes, "sample_length": config.sample_length,
            "input_limits": {"step": {"token": stepper.embedding.input_dim}}}

    def demo_request(self, splits):
        return {"prime": tf.constant(["def ", ""])}

    def describe_response(self, request, response):
        for prime, text in zip(request["prime"].numpy(), response["text"].numpy()):
            yield f"{prime.decode()!r} → {text.decode(errors='replace')[:70]!r}"

    def after_training(self, config, model, splits, run_dir):
        """``samples.txt``: continuations of a few primes at three temperatures."""
        lines = []
        for temperature in (0.0, 0.5, 1.0):
            settings = dataclasses.replace(config, temperature=temperature)
            for prime, text in zip(SAMPLE_PRIMES, self.generate(
                    settings, model, splits.meta, SAMPLE_PRIMES)):
                lines.append(f"== temperature {temperature}, prime {prime!r}\n{prime}{text}\n")
        (run_dir / "samples.txt").write_text("\n".join(lines), encoding="utf-8")
