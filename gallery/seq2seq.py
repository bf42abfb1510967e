"""A recurrent decoder that writes token sequences: its training graph and its decoding.

Shared by captioning (image → words) and translation (sentence → sentence). Training,
teacher forcing, for a batch of ``B``::

    features (B, F) ──Dense(units, tanh) per state──▶ initial states "init_state{i}"
    target_in (B, T) = <start> y1 … yn   (0 = padding)
      → Embedding "word_embedding" (mask_zero) → Recurrent "decoder" → h (B, T, H)
      → [attention over memory (B, S, D), "attention*" layers, padding of the memory
         masked out: gallery.layers.attention]
      → Dense "word_logits" → logits (B, T, V) for y1 … yn <end>

Decoding (:class:`SequenceDecoder`) looks the same layers up by name and runs them one
token at a time inside ``gallery.decoding``'s greedy or beam search, so it is part of
an exported SavedModel.
"""

import keras
import tensorflow as tf
from keras import ops

from gallery.decoding import beam_search, beam_search_all, greedy_decode
from gallery.layers.attention import AttentionReadout, attend, attention_keys
from gallery.layers.cells import make_cell
from gallery.layers.recurrent import Recurrent

ATTENTION_KINDS = ("none", "bahdanau", "luong")


@keras.saving.register_keras_serializable(package="gallery")
class PaddingMask(keras.layers.Layer):
    """Token ids ``(B, S)`` → ``ids != 0`` ``(B, S)`` bool: which memory steps are real."""

    def call(self, ids):
        return ops.not_equal(ids, 0)

    def compute_output_spec(self, ids):
        return keras.KerasTensor(ids.shape, "bool")


def decoder_logits(features, target_in, vocabulary_size, *, cell, units, embedding_dim,
                   seed=None, memory=None, memory_mask=None, attention="none"):
    """Functional: ``features (B, F)``, ``target_in (B, T)`` → logits ``(B, T, V)``."""
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"`attention` must be one of {ATTENTION_KINDS}; received {attention!r}.")
    recurrent_cell = make_cell(cell, units, seed=seed)
    states = [keras.layers.Dense(units, activation="tanh", name=f"init_state{i}")(features)
              for i in range(recurrent_cell.num_states)]
    words = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True,
                                   name="word_embedding")(target_in)
    outputs = Recurrent(recurrent_cell, return_sequences=True, name="decoder")(
        words, initial_state=states)
    if attention != "none":
        outputs = attend(outputs, attention_keys(memory, units), memory_mask=memory_mask,
                         kind="additive" if attention == "bahdanau" else "dot")
    return keras.layers.Dense(vocabulary_size, name="word_logits")(outputs)


class SequenceDecoder:
    """Encoder inputs → token ids, with the trained layers of ``core``.

    ``encoder_inputs``: the core's inputs the encoder part needs (an image, source ids).
    ``memory_mask``: the name of the core's :class:`PaddingMask` layer, if the memory
    has padding. Calling returns ``(tokens (B, L) int32, lengths (B,), scores (B,))``
    from :func:`gallery.decoding.greedy_decode` (``beam_width`` 1) or ``beam_search``.
    """

    def __init__(self, core, encoder_inputs, start_id, end_id, max_length, beam_width=1,
                 length_penalty=0.0, memory_mask=None):
        count = sum(1 for layer in core.layers if layer.name.startswith("init_state"))
        outputs = [core.get_layer(f"init_state{i}").output for i in range(count)]
        self.readout, self.extras = None, 0
        if any(layer.name == "attention" for layer in core.layers):
            self.readout = AttentionReadout(core)
            outputs.append(core.get_layer("attention_keys").output)  # carried as a state
            self.extras = 1
            if memory_mask:
                outputs.append(core.get_layer(memory_mask).output)
                self.extras = 2
        self.encoder = keras.Model(encoder_inputs, outputs)
        self.embedding = core.get_layer("word_embedding")
        self.cell = core.get_layer("decoder").cell
        self.head = core.get_layer("word_logits")
        self.start_id, self.end_id, self.max_length = start_id, end_id, max_length
        self.beam_width, self.length_penalty = beam_width, length_penalty

    def step(self, tokens, states):
        """One token ``(N,)`` per sequence and the states → logits ``(N, V)``, states."""
        words = tf.gather(self.embedding.embeddings, tokens)  # no mask: every step is real
        if self.readout is None:
            output, states = self.cell(words, states, training=False)
            return self.head(output), states
        cell_states, extras = states[:-self.extras], states[-self.extras:]
        output, cell_states = self.cell(words, cell_states, training=False)
        mask = extras[1] if self.extras == 2 else None
        logits = self.head(self.readout(output, extras[0], memory_mask=mask))
        return logits, list(cell_states) + list(extras)

    def initial_states(self, inputs):
        """The decoder's states before the first token (a list), from encoder inputs."""
        states = self.encoder(inputs, training=False)
        return list(states) if isinstance(states, (list, tuple)) else [states]

    def __call__(self, inputs):
        states = self.initial_states(inputs)
        batch = tf.shape(states[0])[0]
        if self.beam_width > 1:
            return beam_search(self.step, states, batch, self.start_id, self.end_id,
                               self.max_length, self.beam_width, self.length_penalty)
        return greedy_decode(self.step, states, batch, self.start_id, self.end_id,
                             self.max_length)


    def beams(self, inputs):
        """Every sequence of the final beam, best first: ``(tokens (B, K, L), lengths
        (B, K), scores (B, K))`` (:func:`gallery.decoding.beam_search_all`)."""
        states = self.initial_states(inputs)
        return beam_search_all(self.step, states, tf.shape(states[0])[0], self.start_id,
                               self.end_id, self.max_length, self.beam_width,
                               self.length_penalty)

    def attention_weights(self, inputs, tokens):
        """Where the decoder looked while writing ``tokens (B, L)`` (e.g. its own output,
        ``end_id``-padded): weights ``(B, L, S)``; row ``t`` is the step fed ``<start>,
        tokens[:, 0], …`` that predicts ``tokens[:, t]``. Needs attention."""
        states = self.initial_states(inputs)
        fed = tf.concat([tf.fill([tf.shape(tokens)[0], 1], tf.cast(self.start_id, tf.int32)),
                         tf.cast(tokens[:, :-1], tf.int32)], axis=1)

        def body(t, states, out):
            words = tf.gather(self.embedding.embeddings, fed[:, t])
            cell_states, extras = states[:-self.extras], states[-self.extras:]
            h, cell_states = self.cell(words, cell_states, training=False)
            mask = extras[1] if self.extras == 2 else None
            out = out.write(t, self.readout.weights(h, extras[0], memory_mask=mask))
            return t + 1, list(cell_states) + list(extras), out

        _, _, out = tf.while_loop(lambda t, *_: t < tf.shape(fed)[1], body,
                                  (0, states, tf.TensorArray(tf.float32, size=tf.shape(fed)[1])))
        return tf.transpose(out.stack(), [1, 0, 2])


@keras.saving.register_keras_serializable(package="gallery")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer targets ``(B, T)`` against logits ``(B, T, V)`` with
    label smoothing ``ε``: ``(1 − ε)·(−log p_y) + ε·mean_v(−log p_v)`` per step.
    Padded steps are left out by the logits' Keras mask (the decoder's)."""

    def __init__(self, smoothing=0.0, name="smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.smoothing = float(smoothing)

    def call(self, y_true, y_pred):
        log_p = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        picked = ops.take_along_axis(log_p, ops.expand_dims(ops.cast(y_true, "int32"), -1),
                                     axis=-1)[..., 0]
        return -(1.0 - self.smoothing) * picked - self.smoothing * ops.mean(log_p, axis=-1)

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing}
