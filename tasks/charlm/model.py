"""The character model: embedding → gallery recurrent stack → next-character logits.

Training (``core``): a *stateful* network over fixed chunks ``(B, T)``: row ``b`` of
batch ``i`` is characters ``[i T, (i + 1) T)`` of text stream ``b``, so the state
each row ends with is the right start for the same row of the next batch.
Truncated backpropagation through time: gradients flow back at most ``T`` steps,
the state flows on across the whole stream (reset at each epoch and before
validation by ``gallery.training.ResetRecurrentStates``).

Reading and writing (:class:`CharStepper`): the same embedding, cells and output
layer (shared, looked up by name) run without fixed batch or stored state: they
read a prime text and then produce one character per step.

Character ids: 0 is "a character not in the vocabulary", ``1..V`` the vocabulary.
"""

import keras
import numpy as np
import tensorflow as tf

from gallery.decoding import sample_decode
from gallery.layers import Recurrent, make_cell
from gallery.layers.recurrent import StateCarrier


def build_core(config, vocabulary_size, batch_size=None, stateful=True):
    """``ids (B, T) → logits (B, T, V + 1)``, stateful with a fixed batch of ``B``."""
    ids = keras.Input(batch_shape=(batch_size or config.batch_size, None), dtype="int32",
                      name="chars")
    x = keras.layers.Embedding(vocabulary_size + 1, config.embedding_dim, name="embedding")(ids)
    cells = [make_cell(config.cell, config.units, dropout=config.dropout,
                       seed=config.seed + i) for i in range(config.num_layers)]
    x = Recurrent(cells, return_sequences=True, stateful=stateful, name="recurrent")(x)
    logits = keras.layers.Dense(vocabulary_size + 1, name="logits")(x)
    return keras.Model(ids, logits, name="core")


def build_model(config, vocabulary_size):
    """The saved model: the core under a functional wrapper (the vocabulary is in meta)."""
    core = build_core(config, vocabulary_size)
    ids = keras.Input(batch_shape=(config.batch_size, None), dtype="int32", name="chars")
    return keras.Model(ids, core(ids), name="charlm")


class CharStepper(tf.Module):
    """Encode/decode text and run the trained layers without fixed batch or stored state.

    ``vocabulary``: the characters, id ``i + 1`` for ``vocabulary[i]``.
    """

    def __init__(self, model, vocabulary):
        super().__init__()
        core = model.get_layer("core")
        self.embedding = core.get_layer("embedding")
        self.logits = core.get_layer("logits")
        self.rnn = StateCarrier(core.get_layer("recurrent"))
        codepoints = [ord(c) for c in vocabulary]
        # Code point → id, 0 for characters outside the vocabulary.
        self.lookup = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(codepoints, tf.int32), tf.range(1, len(codepoints) + 1)),
            default_value=0)
        self.chars = tf.constant(["\ufffd"] + list(vocabulary))

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
