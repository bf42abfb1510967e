"""Models that write token sequences: a recurrent decoder, its training graph and its decoding.

Shared by captioning (image → words) and translation (sentence → sentence) through the
base class :class:`Seq2Seq`, a Keras model that holds its layers as attributes
(keras-hub's style). Training, teacher forcing, for a batch of ``B``::

    features (B, F) ──Dense(units, tanh) per state──▶ initial states  (init_states)
    target_in (B, T) = <start> y1 … yn   (0 = padding)
      → Embedding (word_embedding, mask_zero) → Recurrent (decoder) → h (B, T, H)
      → [attention over memory (B, S, D): attention_keys, attention, attention_join,
         attention_output; padding of the memory masked out: gallery.layers.attention]
      → Dense (word_logits) → logits (B, T, V) for y1 … yn <end>

Decoding (:meth:`Seq2Seq.generate`) runs the same layer objects one token at a time
(:meth:`Seq2Seq.decode_step`) inside ``gallery.decoding``'s greedy or beam search,
so it is part of an exported SavedModel. What it carries from one token to the next
is a :class:`DecoderState`.
"""

from typing import Any, NamedTuple

import keras
import tensorflow as tf
from keras import ops

from gallery.decoding import beam_search, beam_search_all, greedy_decode
from gallery.layers.attention import attend, attention_layers
from gallery.layers.cells import make_cell
from gallery.layers.recurrent import Recurrent

ATTENTION_KINDS = ("none", "bahdanau", "luong")


class DecoderState(NamedTuple):
    """What decoding carries from one token to the next, a ``tf.nest`` structure for
    ``gallery.decoding`` (batch ``B``, memory steps ``S``, ``H`` units).

    - ``cell``: the recurrent cell's states, ``(h,)`` or ``(h, c)``, each ``(B, H)``;
    - ``keys``: the memory's attention keys ``(B, S, H)``; ``()`` without attention;
    - ``memory_mask``: which memory steps are real, ``(B, S)`` bool; ``()`` without
      attention or when every step is (captioning's image columns).

    Flattened (``tf.nest.flatten``: the fields in this order, ``()`` giving nothing)
    it is the list ``Seq2Seq.decoding_start`` outputs and an exported step model's
    ``state0 … stateN``; :meth:`from_flat` is the way back.
    """

    cell: tuple
    keys: Any = ()
    memory_mask: Any = ()

    @classmethod
    def from_flat(cls, flat, num_cell_states):
        """The state whose ``tf.nest.flatten`` is ``flat`` (the cell has
        ``num_cell_states`` states)."""
        flat = list(flat)
        cell, rest = tuple(flat[:num_cell_states]), flat[num_cell_states:]
        if len(rest) > 2:
            raise ValueError(f"expected {num_cell_states} to {num_cell_states + 2} decoder "
                             f"states, got {len(flat)}")
        return cls(cell, *rest)

    def mask_or_none(self):
        """``memory_mask``, or ``None`` when the state has none (for ``attend``)."""
        return None if isinstance(self.memory_mask, tuple) else self.memory_mask


@keras.saving.register_keras_serializable(package="gallery")
class PaddingMask(keras.layers.Layer):
    """Token ids ``(B, S)`` → ``ids != 0`` ``(B, S)`` bool: which memory steps are real."""

    def call(self, ids):
        return ops.not_equal(ids, 0)

    def compute_output_spec(self, ids):
        return keras.KerasTensor(ids.shape, "bool")


class Seq2Seq(keras.Model):
    """Base of the models that write token sequences (not used on its own).

    A subclass's constructor, in keras-hub's sections:

    * *layers*: its encoder layers as attributes, then :meth:`_create_decoder`;
    * *functional model*: core inputs (encoder inputs and ``target_in``) → encoder →
      ``features``, optional ``memory``/``memory_mask`` → :meth:`_decoder_logits` →
      ``core = keras.Model(...)``; the end-to-end inputs → ``core`` →
      ``super().__init__(inputs, outputs)``; then :meth:`_set_decoding`;
    * *config*: the constructor's arguments as attributes, returned by ``get_config``.

    Afterwards ``model.core`` is the trained part and ``model.generate(encoder_inputs,
    ...)`` decodes with the same layers.
    """

    def _create_decoder(self, vocabulary_size, *, cell, units, embedding_dim, seed=None,
                        attention="none"):
        if attention not in ATTENTION_KINDS:
            raise ValueError(f"`attention` must be one of {ATTENTION_KINDS}; "
                             f"received {attention!r}.")
        recurrent_cell = make_cell(cell, units, seed=seed)
        self.init_states = [keras.layers.Dense(units, activation="tanh", name=f"init_state{i}")
                            for i in range(recurrent_cell.num_states)]
        self.word_embedding = keras.layers.Embedding(vocabulary_size, embedding_dim,
                                                     mask_zero=True, name="word_embedding")
        self.decoder = Recurrent(recurrent_cell, return_sequences=True, name="decoder")
        self.word_logits = keras.layers.Dense(vocabulary_size, name="word_logits")
        self.attention_keys = self.attention = self.attention_join = None
        self.attention_output = None
        if attention != "none":
            (self.attention_keys, self.attention, self.attention_join,
             self.attention_output) = attention_layers(
                units, "additive" if attention == "bahdanau" else "dot")

    def _decoder_logits(self, features, target_in, memory=None, memory_mask=None):
        """``features (B, F)``, ``target_in (B, T)`` → ``(logits (B, T, V), start)``:
        ``start`` is the :class:`DecoderState` decoding starts from (the initial cell
        states, then with attention the memory's keys and, if given, ``memory_mask``)."""
        cell = tuple(dense(features) for dense in self.init_states)
        outputs = self.decoder(self.word_embedding(target_in), initial_state=list(cell))
        if self.attention is None:
            return self.word_logits(outputs), DecoderState(cell)
        keys = self.attention_keys(memory)
        outputs = self.attend(outputs, keys, memory_mask)
        start = DecoderState(cell, keys, () if memory_mask is None else memory_mask)
        return self.word_logits(outputs), start

    def attend(self, outputs, keys, memory_mask=None, return_attention_scores=False):
        """:func:`gallery.layers.attention.attend` with this model's layers."""
        return attend(outputs, keys, self.attention, self.attention_join, self.attention_output,
                      memory_mask, return_attention_scores)

    def _set_decoding(self, core, encoder_input, start):
        """After ``super().__init__``: the trained core, and the encoder inputs → the
        flattened start :class:`DecoderState` part of its graph (``decoding_start``)."""
        self.core = core
        self.decoding_start = keras.Model(encoder_input, tf.nest.flatten(start),
                                          name="decoding_start")

    def _step(self, tokens, state, return_attention_scores=False):
        """One token ``(N,)`` per sequence and the :class:`DecoderState` → the decoder's
        output ``(N, H)`` (after attention), the new state, and with
        ``return_attention_scores`` the attention weights ``(N, 1, S)``."""
        words = ops.take(self.word_embedding.embeddings, tokens, axis=0)  # every step is real
        output, cell = self.decoder.cell(words, list(state.cell), training=False)
        state, scores = state._replace(cell=tuple(cell)), None
        if self.attention is not None:
            output = self.attend(output, state.keys, state.mask_or_none(),
                                 return_attention_scores)
            if return_attention_scores:
                output, scores = output
        return output, state, scores

    def decode_step(self, tokens, state):
        """One token ``(N,)`` per sequence and the :class:`DecoderState` → logits
        ``(N, V)`` and the new state."""
        output, state, _ = self._step(tokens, state)
        return self.word_logits(output), state

    def decode_step_flat(self, tokens, flat_states):
        """:meth:`decode_step` on the flattened state (an exported step model's
        ``state0 … stateN``) → logits and the new flattened state."""
        logits, state = self.decode_step(
            tokens, DecoderState.from_flat(flat_states, len(self.init_states)))
        return logits, tf.nest.flatten(state)

    def start_states(self, encoder_inputs):
        """The :class:`DecoderState` before the first token, from encoder inputs."""
        flat = self.decoding_start(encoder_inputs, training=False)
        flat = flat if isinstance(flat, (list, tuple)) else [flat]
        return DecoderState.from_flat(flat, len(self.init_states))

    def generate(self, encoder_inputs, start_id, end_id, max_length, beam_width=1,
                 length_penalty=0.0):
        """``(tokens (B, L) int32, lengths (B,), scores (B,))`` from
        :func:`gallery.decoding.greedy_decode` (``beam_width`` 1) or ``beam_search``."""
        state = self.start_states(encoder_inputs)
        batch = tf.shape(state.cell[0])[0]
        if beam_width > 1:
            return beam_search(self.decode_step, state, batch, start_id, end_id, max_length,
                               beam_width, length_penalty)
        return greedy_decode(self.decode_step, state, batch, start_id, end_id, max_length)

    def beams(self, encoder_inputs, start_id, end_id, max_length, beam_width,
              length_penalty=0.0):
        """Every sequence of the final beam, best first: ``(tokens (B, K, L), lengths
        (B, K), scores (B, K))`` (:func:`gallery.decoding.beam_search_all`)."""
        state = self.start_states(encoder_inputs)
        return beam_search_all(self.decode_step, state, tf.shape(state.cell[0])[0], start_id,
                               end_id, max_length, beam_width, length_penalty)

    def attention_weights(self, encoder_inputs, tokens, start_id):
        """Where the decoder looked while writing ``tokens (B, L)`` (e.g. its own output,
        ``end``-padded): weights ``(B, L, S)``; row ``t`` is the step fed ``<start>,
        tokens[:, 0], …`` that predicts ``tokens[:, t]``. Needs attention."""
        if self.attention is None:
            raise ValueError("attention_weights needs a model with attention.")
        fed = tf.concat([tf.fill([tf.shape(tokens)[0], 1], tf.cast(start_id, tf.int32)),
                         tf.cast(tokens[:, :-1], tf.int32)], axis=1)

        def body(t, state, out):
            _, state, weights = self._step(fed[:, t], state, return_attention_scores=True)
            return t + 1, state, out.write(t, weights[:, 0])

        _, _, out = tf.while_loop(lambda t, *_: t < tf.shape(fed)[1], body,
                                  (0, self.start_states(encoder_inputs),
                                   tf.TensorArray(tf.float32, size=tf.shape(fed)[1])))
        return tf.transpose(out.stack(), [1, 0, 2])


@keras.saving.register_keras_serializable(package="gallery")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer targets ``(B, T)`` against logits ``(B, T, V)`` with
    label smoothing ``ε``: ``(1 − ε)·(−log p_y) + ε·mean_v(−log p_v)`` per step.
    Padded steps are left out by the logits' Keras mask (the decoder's), or, for logits
    without one, by ``ignore_class=k``: the steps whose target is ``k`` weigh 0 and the
    batch mean is over the others, as in Keras's
    ``SparseCategoricalCrossentropy(ignore_class=k)``."""

    def __init__(self, smoothing=0.0, ignore_class=None, name="smoothed_crossentropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.smoothing = float(smoothing)
        self.ignore_class = None if ignore_class is None else int(ignore_class)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is None:
            return super().__call__(y_true, y_pred, sample_weight)
        kept = ops.cast(ops.not_equal(ops.cast(y_true, "int32"), self.ignore_class), "float32")
        # the weights Keras gives a mask: total / kept on the kept steps, 0 elsewhere, so the
        # reduction's sum / total is the mean over the kept steps
        weight = kept * ops.cast(ops.size(kept), "float32") / ops.maximum(ops.sum(kept), 1.0)
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            if len(sample_weight.shape) == 1:  # one weight per sequence
                sample_weight = ops.expand_dims(sample_weight, -1)
            weight = weight * sample_weight
        return super().__call__(y_true, y_pred, weight)

    def call(self, y_true, y_pred):
        log_p = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        picked = ops.take_along_axis(log_p, ops.expand_dims(ops.cast(y_true, "int32"), -1),
                                     axis=-1)[..., 0]
        return -(1.0 - self.smoothing) * picked - self.smoothing * ops.mean(log_p, axis=-1)

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing,
                "ignore_class": self.ignore_class}
