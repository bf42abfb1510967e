"""Streaming a causal frame tagger: a chunk of frames and the state the previous chunk
left in, the chunk's labels and the new state out.

A causal model's label at frame ``t`` reads frames ``≤ t`` only, so a stream can be
tagged a chunk at a time with every recurrent layer's state carried over: for layer
``l``, ``(h^l_t, c^l_t) = cell_l(x^l_t, (h^l_{t-1}, c^l_{t-1}))`` continues across the
chunk boundary exactly as inside one long pass. The cost of a chunk is independent of
how much of the stream came before it.

A stream's state is one float32 vector ``(1 + S,)`` (a batch of streams: ``(B, 1 + S)``)::

    [tag, h^1, c^1, h^2, c^2, ...]        S = Σ_l (state sizes of layer l)

``tag`` names the model that wrote the state: ``1 + crc32(weights) mod (2^24 − 1)``,
an integer that float32 (and JSON) carries exactly. A new stream starts from the zero
vector (tag 0, all states 0); any other state must carry this model's tag, so a state
written by another model (another run, another export) is refused instead of silently
giving wrong labels. The SavedModel's ``stream`` signature, ``gallery predict --input -``
and the TFLite ``stream`` step model all use this layout.
"""

import zlib

import keras
import numpy as np
import tensorflow as tf

from gallery.errors import GalleryError
from gallery.layers.recurrent import Recurrent, StateCarrier

#: float32 holds every integer below this exactly: the model tags lie in ``[1, 2^24)``.
TAG_LIMIT = 2**24


def model_tag(model):
    """``1 + crc32(all weights, in order) mod (2^24 − 1)``: the same weights, the same
    tag, on any machine."""
    digest = 0
    for weight in model.weights:
        digest = zlib.crc32(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes(),
                            digest)
    return 1 + digest % (TAG_LIMIT - 1)


def cannot_stream(model):
    """Why ``model`` cannot stream (a bidirectional layer reads the frames after each
    label), or ``None`` if it can."""
    core = model.get_layer("core")
    if any(isinstance(layer, keras.layers.Bidirectional) for layer in core.layers):
        return ("this model is bidirectional (each label reads the frames after it), so it "
                "cannot stream; train a causal model with --profile live (--set "
                "bidirectional=false frame_encoder=dense)")
    return None


class FrameStreamer:
    """A trained causal tagger's layers, run a chunk at a time (shared weights).

    ``chunk(frames (B, L, *frame_shape), state (B, 1 + S))`` → ``(probabilities
    (B, L, K), new state (B, 1 + S))``; ``step`` is the same for one frame, with the
    cells called directly (no time loop: what the TFLite step model converts).
    """

    def __init__(self, model, labels=None, max_chunk=1024):
        reason = cannot_stream(model)
        if reason:
            raise GalleryError(reason)
        core = model.get_layer("core")
        self.normalizer = model.get_layer("normalizer")
        self.encoder = core.get_layer("frame_encoder")
        self.classifier = core.get_layer("classifier")
        self.carriers = [StateCarrier(layer) for layer in core.layers
                         if isinstance(layer, Recurrent)]
        #: per recurrent layer, per cell, the width of each state (LSTM: [units, units])
        self.layout = [[[int(s.shape[-1]) for s in cell] for cell in carrier.zero_state(1)]
                       for carrier in self.carriers]
        #: the width of each state, in the order the state vector holds them
        self.sizes = [size for layer in self.layout for cell in layer for size in cell]
        self.width = 1 + sum(self.sizes)
        self.tag = model_tag(model)
        self.labels, self.max_chunk = labels, int(max_chunk)
        self.frame_shape = tuple(model.inputs[0].shape[2:])

    def start_state(self, batch=1):
        """The state a new stream starts from: zeros ``(batch, 1 + S)``."""
        return np.zeros((batch, self.width), np.float32)

    def _split(self, flat):
        """``(B, S)`` → per layer, per cell, its list of state tensors."""
        ends = np.cumsum([0, *self.sizes])
        parts = iter([flat[:, a:b] for a, b in zip(ends[:-1], ends[1:])])
        return [[[next(parts) for _ in cell] for cell in layer] for layer in self.layout]

    def _joined(self, batch, states):
        tag = tf.fill([batch, 1], tf.constant(float(self.tag), tf.float32))
        return tf.concat([tag, *[tf.cast(s, tf.float32) for s in states]], 1)

    def chunk(self, frames, state):
        """One chunk of every stream in the batch; ``state`` as the previous call
        returned it, or zeros for new streams (not checked here: see :meth:`checked`)."""
        frames = tf.convert_to_tensor(frames, tf.float32)
        state = tf.convert_to_tensor(state, tf.float32)
        batch, steps = tf.shape(frames)[0], tf.shape(frames)[1]
        h, _ = self.normalizer(frames, tf.fill([batch], steps))
        h = self.encoder(h)
        new = []
        for carrier, states in zip(self.carriers, self._split(state[:, 1:])):
            h, states = carrier(h, states)
            new += [s for cell in states for s in cell]
        return self.classifier(h), self._joined(batch, new)

    def checked(self, frames, state):
        """``tf.debugging`` assertions that ``state`` is this model's or a new stream's
        (zeros), finite, and that the chunk holds 1 to ``max_chunk`` frames; the
        refusals are ``InvalidArgumentError`` (HTTP 400 in ``gallery serve``)."""
        tag, rest = state[:, 0], state[:, 1:]
        fresh = tf.logical_and(tf.equal(tag, 0.0), tf.reduce_all(tf.equal(rest, 0.0), 1))
        ours = tf.logical_or(tf.equal(tag, float(self.tag)), fresh)
        return [
            tf.debugging.Assert(tf.equal(tf.shape(state)[1], self.width), [
                f"state: this model's state is {self.width} numbers per stream"]),
            tf.debugging.Assert(tf.reduce_all(ours), [
                f"state: not a state of this model (its first value must be this model's "
                f"tag {self.tag}, as its stream signature returned it; a new stream starts "
                "from zeros)"]),
            tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(rest)), [
                "state: holds NaN or infinity"]),
            tf.debugging.Assert(tf.logical_and(tf.shape(frames)[1] >= 1,
                                               tf.shape(frames)[1] <= self.max_chunk), [
                f"frames: a chunk holds 1 to {self.max_chunk} frames (setting "
                "stream_max_chunk)"])]

    def signature(self):
        """The ``stream`` serving signature: ``frames (B, L, *frame_shape)`` float32 and
        ``state (B, 1 + S)`` float32 → ``labels (B, L)``, ``probabilities (B, L, K)``,
        ``state (B, 1 + S)``."""
        names = tf.constant(self.labels)
        # the chunk itself XLA-compiled (one program per chunk length): 1.3-3x the frames
        # per second of the plain graph on the 2-core test machine, equal to 1e-7; the
        # string labels and the assertions, which XLA cannot take, stay outside
        compute = tf.function(self.chunk, jit_compile=True)

        @tf.function(input_signature=[
            tf.TensorSpec([None, None, *self.frame_shape], tf.float32, name="frames"),
            tf.TensorSpec([None, self.width], tf.float32, name="state")])
        def stream(frames, state):
            with tf.control_dependencies(self.checked(frames, state)):
                probabilities, new_state = compute(frames, tf.identity(state))
            return {"labels": tf.gather(names, tf.argmax(probabilities, axis=-1)),
                    "probabilities": probabilities, "state": new_state}
        return stream

    def step(self, frames, states):
        """One frame ``(B, *frame_shape)`` and the flat states (a list, no tag) →
        ``(probabilities (B, K), new flat states)``: each layer's cell once."""
        ones = tf.ones([tf.shape(frames)[0]], tf.int32)
        x, _ = self.normalizer(frames[:, None], ones)
        x, out, start = self.encoder(x[:, 0]), [], 0
        for carrier, layout in zip(self.carriers, self.layout):
            for cell, sizes in zip(carrier.cells, layout):
                x, new = cell(x, states[start:start + len(sizes)], training=False)
                out += list(new) if isinstance(new, (list, tuple)) else [new]
                start += len(sizes)
        return self.classifier(x), out


def streaming_probabilities(model, frames, chunk):
    """A causal model's per-step probabilities ``(T, K)`` for one stream ``(T, ...)``,
    read ``chunk`` frames at a time with every recurrent layer's state carried over:
    equal to one pass over the whole stream, in memory bounded by the chunk."""
    streamer = FrameStreamer(model)
    state, out = streamer.start_state(1), []
    for start in range(0, len(frames), chunk):
        probabilities, state = streamer.chunk(frames[None, start:start + chunk], state)
        out.append(np.asarray(probabilities)[0])
    return np.concatenate(out) if out else np.zeros((0, streamer.classifier.units), np.float32)
