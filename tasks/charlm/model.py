"""The character model: embedding → gallery recurrent stack → next-character logits.

Training (``core``): a *stateful* network over fixed chunks ``(B, T)``: row ``b`` of
batch ``i`` is characters ``[i T, (i + 1) T)`` of text stream ``b``, so the state
each row ends with is the right start for the same row of the next batch.
Truncated backpropagation through time: gradients flow back at most ``T`` steps,
the state flows on across the whole stream (reset at each epoch and before
validation by ``gallery.training.ResetRecurrentStates``).

Reading and writing (:class:`CharStepper`): the same embedding, cells and output
layer (the attributes of :class:`CharLanguageModel`) run without fixed batch or
stored state: they read a prime text and then produce one character per step.

Character ids: 0 is "a character not in the vocabulary", ``1..V`` the vocabulary.
"""

import keras
import numpy as np
import tensorflow as tf

from gallery.decoding import sample_decode
from gallery.layers import Recurrent, make_cell
from gallery.layers.recurrent import StateCarrier

from .characters import UNKNOWN_ID, CharacterIds, id_count


@keras.saving.register_keras_serializable(package="gallery")
class CharLanguageModel(keras.Model):
    """Character ids ``(B, T)`` → next-character logits ``(B, T, V + 1)``, stateful over
    a fixed batch of ``batch_size`` streams; ``core`` is the part training fits."""

    def __init__(self, vocabulary_size, *, batch_size=32, cell="lstm", units=256,
                 num_layers=1, embedding_dim=32, dropout=0.0, seed=0, **kwargs):
        # === Layers ===
        self.embedding = keras.layers.Embedding(id_count(vocabulary_size), embedding_dim,
                                                name="embedding")
        cells = [make_cell(cell, units, dropout=dropout, seed=seed + i)
                 for i in range(num_layers)]
        self.recurrent = Recurrent(cells, return_sequences=True, stateful=True, name="recurrent")
        self.logits = keras.layers.Dense(id_count(vocabulary_size), name="logits")

        # === Functional model ===
        ids = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="chars")
        core = keras.Model(ids, self.logits(self.recurrent(self.embedding(ids))), name="core")
        chars = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="chars")
        super().__init__(chars, core(chars), **kwargs)
        self.core = core

        # === Config ===
        self.vocabulary_size, self.batch_size, self.cell = vocabulary_size, batch_size, cell
        self.units, self.num_layers, self.embedding_dim = units, num_layers, embedding_dim
        self.dropout, self.seed = dropout, seed

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "vocabulary_size": self.vocabulary_size, "batch_size": self.batch_size,
                "cell": self.cell, "units": self.units, "num_layers": self.num_layers,
                "embedding_dim": self.embedding_dim, "dropout": self.dropout,
                "seed": self.seed}


def build_model(config, vocabulary_size):
    """The saved model (the vocabulary is in meta)."""
    return CharLanguageModel(vocabulary_size, batch_size=config.batch_size, cell=config.cell,
                             units=config.units, num_layers=config.num_layers,
                             embedding_dim=config.embedding_dim, dropout=config.dropout,
                             seed=config.seed, name="charlm")


class CharStepper(tf.Module):
    """Encode/decode text and run the trained layers without fixed batch or stored state.

    ``vocabulary``: the characters, ids as :mod:`.characters` lays them out.
    """

    def __init__(self, model, vocabulary):
        super().__init__()
        self.embedding, self.logits = model.embedding, model.logits
        self.rnn = StateCarrier(model.recurrent)
        ids = CharacterIds(vocabulary)
        # Code point → id, UNKNOWN_ID for characters outside the vocabulary.
        self.lookup = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant([ord(c) for c in ids.vocabulary], tf.int32),
                tf.constant(ids.ids_of_vocabulary(), tf.int32)),
            default_value=UNKNOWN_ID)
        self.chars = tf.constant(ids.id_to_char())

    # -- text ⇄ ids -----------------------------------------------------------------
    def encode(self, text):
        """``(B,)`` strings → ``(B, L)`` ids (right-padded with 0) and lengths ``(B,)``."""
        codes = tf.strings.unicode_decode(text, "UTF-8", errors="replace")
        ids = tf.ragged.map_flat_values(self.lookup.lookup, codes)
        return ids.to_tensor(0), tf.cast(ids.row_lengths(), tf.int32)

    def decode(self, ids):
        """``(B, L)`` ids → ``(B,)`` strings."""
        return tf.strings.reduce_join(tf.gather(self.chars, ids), axis=-1)

    # -- the network ----------------------------------------------------------------
    def zero_state(self, batch):
        return self.rnn.zero_state(batch)

    def run(self, ids, state, mask=None):
        """``ids (B, L)`` from ``state`` → ``logits (B, L, V + 1)``, final state."""
        outputs, final = self.rnn(self.embedding(ids), state, mask=mask)
        return self.logits(outputs), final

    def step(self, tokens, state):
        """One character ``(B,)`` → ``logits (B, V + 1)``, new state (for decoding)."""
        logits, state = self.run(tokens[:, None], state)
        return logits[:, 0], state

    def read_prime(self, prime):
        """The state after reading ``prime`` ``(B,)`` strings; empty primes read ``"\\n"``."""
        prime = tf.where(tf.strings.length(prime) > 0, prime, "\n")
        ids, lengths = self.encode(prime)
        last = tf.gather(ids, lengths - 1, batch_dims=1)
        # Read all but the last character (it is the first input of decoding).
        mask = tf.sequence_mask(lengths - 1, tf.shape(ids)[1])
        _, state = self.run(ids, self.zero_state(tf.shape(ids)[0]), mask=mask)
        return state, last

    def generate(self, prime, length, temperature, seed):
        """Continue each prime for ``length`` characters; returns ``(B,)`` strings."""
        state, last = self.read_prime(prime)
        tokens = sample_decode(self.step, state, last, length, temperature, seed)
        return self.decode(tokens)


def streams(ids, batch):
    """Cut ``ids`` into ``batch`` equal consecutive streams: ``(batch, len // batch)``."""
    ids = np.asarray(ids, np.int32)
    per = len(ids) // batch
    return ids[:per * batch].reshape(batch, per)
