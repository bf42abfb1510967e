"""Show, Attend and Tell (Xu et al. 2015): an LSTM that attends over an image grid.

The image is a grid of ``S`` feature vectors ``a_i (B, S, D)`` (e.g. a CNN's last 7×7
grid, ``S = 49``). Before each word the decoder reads the grid with soft attention,
gated by a scalar ``β``, and feeds what it read into the recurrence (unlike
``gallery.layers.attention``, whose context does not re-enter the cell)::

    h_0 = tanh(mean_i a_i W_h0),  c_0 = tanh(mean_i a_i W_c0)       init       (B, H)
    k_i = a_i W_a                                                    keys       (B, S, A)
    e_ti = vᵀ tanh(k_i + h_{t-1} W_q + b_q)                          scores     (B, S)
    α_t = softmax_i(e_t)                                             attention  (B, S)
    β_t = σ(h_{t-1} w_β + b_β)                                       gate       (B, 1)
    z_t = β_t Σ_i α_ti a_i                                           context    (B, D)
    h_t, c_t = LSTM([E y_{t-1}; z_t], (h_{t-1}, c_{t-1}))            (gallery LSTMCell)
    p(y_t) = softmax(L_o dropout(tanh(E y_{t-1} + L_h h_t + L_z z_t)))   "deep output"

The doubly stochastic regularisation asks every grid cell to be looked at about once
over the caption: ``λ · Σ_i (1 − Σ_t α_ti)²`` per caption (padded steps left out),
averaged over the batch; :func:`attention_regulariser` computes it and the decoder adds
it to the model's losses in training.

:class:`ShowAttendTell` holds the layers. In training, :meth:`ShowAttendTell.call` runs
the whole caption through the gallery's one time loop (``gallery.layers.loop``);
decoding runs the same layers one token at a time (:meth:`ShowAttendTell.step`) inside
``gallery.decoding``'s greedy or beam search.
"""

import keras
from keras import ops

from gallery.layers.cells import LSTMCell
from gallery.layers.loop import generic_loop


def attention_regulariser(alphas, mask, weight):
    """``λ Σ_i (1 − Σ_t α_ti)²`` per caption, averaged over the batch.

    ``alphas (B, T, S)``, ``mask (B, T)`` (the real steps), ``weight`` λ → a scalar."""
    mask = ops.cast(mask, alphas.dtype)[..., None]
    seen = ops.sum(alphas * mask, axis=1)  # (B, S): how much each cell was looked at
    return weight * ops.mean(ops.sum(ops.square(1.0 - seen), axis=-1))


@keras.saving.register_keras_serializable(package="gallery")
class ShowAttendTell(keras.layers.Layer):
    """``features (B, S, D)``, ``caption_in (B, T)`` ids (0 = padding) → logits
    ``(B, T, V)`` (the module's equations; :meth:`read` also gives ``α`` and ``β``).

    Args:
        vocabulary_size: ``V``, the ids the decoder reads and writes.
        units: ``H``, the LSTM's state size.
        embedding_dim: ``E``, the word embedding size (also the deep output's width).
        attention_units: ``A``, the attention's hidden size.
        dropout: on the deep output before ``L_o``.
        regulariser: ``λ`` of the doubly stochastic regularisation (0: none).
        gate: use the gate ``β`` (``False``: ``β = 1``).
    """

    def __init__(self, vocabulary_size, units=512, embedding_dim=256, attention_units=256,
                 dropout=0.5, regulariser=1.0, gate=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.units = int(vocabulary_size), int(units)
        self.embedding_dim, self.attention_units = int(embedding_dim), int(attention_units)
        self.dropout, self.regulariser = float(dropout), float(regulariser)
        self.gate, self.seed = bool(gate), seed
        policy = self.dtype_policy  # the sublayers compute in this layer's dtype policy

        def dense(*args, **kw):
            return keras.layers.Dense(*args, dtype=policy, **kw)

        # === Layers ===
        self.init_h = dense(units, activation="tanh", name="init_h")
        self.init_c = dense(units, activation="tanh", name="init_c")
        self.keys = dense(attention_units, use_bias=False, name="attention_keys")
        self.query = dense(attention_units, name="attention_query")
        self.score = dense(1, use_bias=False, name="attention_score")
        self.beta = dense(1, activation="sigmoid", name="attention_gate")
        self.embedding = keras.layers.Embedding(vocabulary_size, embedding_dim,
                                                dtype=policy, name="word_embedding")
        self.cell = LSTMCell(units, seed=seed, dtype=policy, name="lstm")
        self.out_h = dense(embedding_dim, use_bias=False, name="deep_output_h")
        self.out_z = dense(embedding_dim, name="deep_output_z")
        self.out_drop = keras.layers.Dropout(dropout, seed=seed, dtype=policy,
                                             name="deep_output_dropout")
        self.word_logits = dense(vocabulary_size, name="word_logits")

    def build(self, features_shape, caption_in_shape=None):
        d = features_shape[-1]
        for layer, shape in ((self.init_h, (None, d)), (self.init_c, (None, d)),
                             (self.keys, (None, None, d)), (self.query, (None, self.units)),
                             (self.score, (None, None, self.attention_units)),
                             (self.beta, (None, self.units)),
                             (self.cell, (None, self.embedding_dim + d)),
                             (self.out_h, (None, None, self.units)),
                             (self.out_z, (None, None, d)),
                             (self.word_logits, (None, None, self.embedding_dim))):
            layer.build(shape)
        self.embedding.build((None, None))
        self.built = True

    # -- pieces -------------------------------------------------------------------------
    def start(self, features):
        """``features (B, S, D)`` → the state decoding starts from:
        ``(h_0, c_0, features, keys)``."""
        mean = ops.mean(features, axis=1)
        return (self.init_h(mean), self.init_c(mean), features, self.keys(features))

    def attend(self, features, keys, h):
        """``z (B, D)``, ``α (B, S)``, ``β (B, 1)`` for the state ``h (B, H)``."""
        e = self.score(ops.tanh(keys + self.query(h)[:, None]))[..., 0]
        alpha = ops.softmax(e, axis=-1)
        beta = self.beta(h) if self.gate else ops.ones_like(h[:, :1])
        z = beta * ops.sum(alpha[..., None] * features, axis=1)
        return z, alpha, beta

    def _recur(self, words, state):
        """One step: embedded words ``(B, E)`` and ``(h, c, features, keys)`` → the new
        ``h``, ``c`` and what was read (``z``, ``α``, ``β``)."""
        h, c, features, keys = state
        z, alpha, beta = self.attend(features, keys, h)
        _, (h, c) = self.cell(ops.concatenate([words, z], axis=-1), [h, c])
        return h, c, z, alpha, beta

    def logits(self, words, h, z, training=None):
        """The deep output: ``E y_{t-1}``, ``h_t``, ``z_t`` (any leading shape) → logits."""
        deep = ops.tanh(words + self.out_h(h) + self.out_z(z))
        return self.word_logits(self.out_drop(deep, training=training))

    def step(self, tokens, state):
        """``tokens (N,)`` and the state → ``(logits (N, V), new state)``; the step
        function ``gallery.decoding`` runs."""
        words = self.embedding(tokens)
        h, c, z, _, _ = self._recur(words, state)
        return self.logits(words, h, z), (h, c, *state[2:])

    # -- the whole caption ---------------------------------------------------------------
    def read(self, features, caption_in, training=None):
        """Teacher forcing: ``(logits (B, T, V), α (B, T, S), β (B, T))``. Padded steps
        (id 0) keep the state; their outputs are left out of the loss."""
        state = self.start(features)
        words = self.embedding(caption_in)  # (B, T, E)
        mask = ops.not_equal(caption_in, 0)
        s, d = ops.shape(features)[1], features.shape[-1]
        packed0 = ops.zeros_like(ops.concatenate([state[0], features[:, 0], features[:, :, 0],
                                                  state[0][:, :1]], axis=-1))

        def one(x_t, states):
            _, h, c = states
            h, c, z, alpha, beta = self._recur(x_t, (h, c, features, state[3]))
            packed = ops.concatenate([h, z, alpha, beta], axis=-1)
            return packed, [packed, h, c]

        _, outputs, _ = generic_loop(one, ops.transpose(words, (1, 0, 2)),
                                     [packed0, state[0], state[1]],
                                     mask=ops.transpose(mask, (1, 0)))
        outputs = ops.transpose(outputs, (1, 0, 2))  # (B, T, H + D + S + 1)
        h = outputs[..., :self.units]
        z = outputs[..., self.units:self.units + d]
        alpha = outputs[..., self.units + d:self.units + d + s]
        beta = outputs[..., -1]
        return self.logits(words, h, z, training=training), alpha, beta

    def call(self, features, caption_in, training=None):
        logits, alpha, _ = self.read(features, caption_in, training=training)
        if training and self.regulariser:
            self.add_loss(attention_regulariser(alpha, ops.not_equal(caption_in, 0),
                                                self.regulariser))
        return logits

    def compute_output_spec(self, features, caption_in, training=None):
        return keras.KerasTensor((*caption_in.shape, self.vocabulary_size), "float32")

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "units": self.units, "embedding_dim": self.embedding_dim,
                "attention_units": self.attention_units, "dropout": self.dropout,
                "regulariser": self.regulariser, "gate": self.gate, "seed": self.seed}
