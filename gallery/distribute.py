"""Training on several devices or machines with ``tf.distribute``.

``--strategy`` picks one of:

* ``default``: one device (TensorFlow's default strategy);
* ``mirrored``: ``tf.distribute.MirroredStrategy`` over every GPU of this machine, or,
  without GPUs, over its logical CPU devices (``--cpu-devices N`` splits the CPU
  into N of them, which is how the tests run two replicas on one CPU);
* ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the machines
  listed in the ``TF_CONFIG`` environment variable, e.g. on the first of two::

      TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
                  "task": {"type": "worker", "index": 0}}'

  (``index`` 1 on the second). Every worker runs the same ``gallery train`` command.

``batch_size`` stays the *global* batch: Keras splits each batch across the
replicas and sums their gradients, so the replicas together take the same steps as
one device with the same batch. Worker 0 (the chief) writes the run folder.
"""

import json
import os

import tensorflow as tf

from gallery.errors import GalleryError
from gallery.quiet import settle_runtime_notices

STRATEGIES = ("default", "mirrored", "multiworker")


def split_cpu(count):
    """Make ``count`` logical CPU devices; must run before TensorFlow starts its runtime."""
    if count is None or count <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError:
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise GalleryError("--cpu-devices must be set before TensorFlow starts; "
                               "pass it on the command line") from None


def _tf_config():
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        raise GalleryError("--strategy multiworker needs the TF_CONFIG environment variable "
                           "(cluster and task), see README 'Training on several machines'")
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        kind, index = config["task"]["type"], int(config["task"]["index"])
    except (ValueError, KeyError, TypeError):
        raise GalleryError("TF_CONFIG must be JSON with cluster.worker (a list of "
                           "host:port) and task.type/task.index") from None
    if kind not in ("worker", "chief") or not 0 <= index < len(workers) + 1:
        raise GalleryError(f"TF_CONFIG task {kind!r} {index} is not in its cluster")
    return config


def make_strategy(name="default", cpu_devices=None):
    """The ``tf.distribute`` strategy called ``name`` (see the module docstring)."""
    if name not in STRATEGIES:
        raise GalleryError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    strategy = _strategy(name, cpu_devices)
    settle_runtime_notices()  # the devices and collectives are set: the runtime may start
    return strategy


def _strategy(name, cpu_devices):
    if name == "multiworker":
        _tf_config()
        split_cpu(cpu_devices)
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    split_cpu(cpu_devices)
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def worker_role(strategy):
    """``(is_chief, worker_index)`` of this process; one process is ``(True, 0)``."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True, 0
    kind, index = resolver.task_type, int(resolver.task_id or 0)
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    chief = kind == "chief" or (kind == "worker" and index == 0 and not has_chief)
    return chief, index if kind == "worker" else 0


def work_around_multiworker_build(model, strategy):
    """Let Keras 3's ``model.fit`` run under ``MultiWorkerMirroredStrategy``.

    Keras 3.15 does not support that strategy out of the box (keras-team/keras#20585);
    two steps fail, and both are mended here, for this strategy only:

    * ``fit`` builds the model from a first batch that it averages over the replicas
      with ``strategy.reduce``, which fails for a nest of per-worker values ("Attempt
      to convert a value (PerReplica...)"). Only the batch's shapes and dtypes matter
      there, so this worker's own part of the batch is used instead.
    * each step's logs (scalars) are averaged over the workers with
      ``strategy.reduce("MEAN", v, axis=0)``, which fails on a scalar ("Invalid
      reduction dimension 0"); scalars are averaged with ``axis=None`` instead.
    """
    # Private Keras API, as no public hook exists for either step (noqa: private-keras):
    # model._maybe_symbolic_build and keras.src.backend.tensorflow.trainer's
    # reduce_per_replica; tests/gallery/test_registration.py fails loudly if they change.
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    _patch_multiworker_log_reduction()
    original = model._maybe_symbolic_build

    def local_part(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def build(iterator=None, data_batch=None):
        if iterator is not None and data_batch is None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local_part, next(batches))
                break
        return original(data_batch=data_batch)

    model._maybe_symbolic_build = build


def _patch_multiworker_log_reduction():
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "gallery_patched", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or \
                not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return original(values, strategy, reduction)

        def mean(value):
            local = strategy.experimental_local_results(value)[0] \
                if isinstance(value, tf.distribute.DistributedValues) else value
            return strategy.reduce("MEAN", value, axis=0 if local.shape.rank else None)
        return tf.nest.map_structure(mean, values)

    reduce_per_replica.gallery_patched = True
    trainer.reduce_per_replica = reduce_per_replica
