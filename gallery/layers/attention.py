"""Attention of a recurrent decoder over a memory (Luong's "global attention").

After the decoder's step ``t`` gives ``h_t (B, H)``, the memory ``m (B, S, D)``
(encoder outputs, image columns) is read with additive (Bahdanau) or dot-product
(Luong) scores::

    k_s = m_s W_m                                   "<name>_keys"    (B, S, H)
    e_ts = vᵀ tanh(h_t + k_s)    kind="additive"    "<name>"         (AdditiveAttention)
    e_ts = h_t · k_s             kind="dot"         "<name>"         (Luong, Attention)
    a_t = softmax_s(e_ts)   (masked memory steps get no weight)
    c_t = Σ_s a_ts k_s                                                (B, H)
    o_t = tanh([h_t; c_t] W_o + b_o)                "<name>_output"  (B, H)

and ``o_t`` feeds the word classifier. The context is not fed back into the
recurrence, so in training the decoder runs over the whole sequence first and
attention is applied to all steps at once; decoding applies the same layers to one
step (:class:`AttentionReadout`, looked up by name).
"""

import keras
from keras import ops


def attention_keys(memory, units, name="attention"):
    """Project the memory ``(B, S, D)`` to the decoder's size ``(B, S, H)``."""
    return keras.layers.Dense(units, use_bias=False, name=f"{name}_keys")(memory)


def attend(outputs, keys, name="attention", memory_mask=None, kind="additive"):
    """Functional: decoder outputs ``(B, T, H)`` and keys ``(B, S, H)`` → ``(B, T, H)``;
    ``memory_mask (B, S)`` bool: memory steps that may be attended to."""
    if kind not in ("additive", "dot"):
        raise ValueError(f"`kind` must be 'additive' or 'dot'; received {kind!r}.")
    masks = None if memory_mask is None else [None, memory_mask]
    scorer = keras.layers.AdditiveAttention if kind == "additive" else keras.layers.Attention
    context = scorer(name=name)([outputs, keys], mask=masks)
    joined = keras.layers.Concatenate(name=f"{name}_join")([outputs, context])
    return keras.layers.Dense(outputs.shape[-1], activation="tanh",
                              name=f"{name}_output")(joined)


class AttentionReadout:
    """One decoding step of :func:`attend`, with the trained layers of ``model``."""

    def __init__(self, model, name="attention"):
        self.attention = model.get_layer(name)
        self.join = model.get_layer(f"{name}_join")
        self.output = model.get_layer(f"{name}_output")

    def __call__(self, h, keys, memory_mask=None):
        """``h (B, H)``, ``keys (B, S, H)`` → ``o (B, H)``."""
        query = ops.expand_dims(h, 1)
        masks = None if memory_mask is None else [None, memory_mask]
        context = self.attention([query, keys], mask=masks)[:, 0]
        return self.output(self.join([h, context]))

    def weights(self, h, keys, memory_mask=None):
        """``h (B, H)``, ``keys (B, S, H)`` → the attention weights ``a_t (B, S)``."""
        masks = None if memory_mask is None else [None, memory_mask]
        _, scores = self.attention([ops.expand_dims(h, 1), keys], mask=masks,
                                   return_attention_scores=True)
        return scores[:, 0]
