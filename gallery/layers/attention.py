"""Attention of a recurrent decoder over a memory (Luong's "global attention").

After the decoder's step ``t`` gives ``h_t (B, H)``, the memory ``m (B, S, D)``
(encoder outputs, image columns) is read with additive (Bahdanau) or dot-product
(Luong) scores::

    k_s = m_s W_m                                   keys             (B, S, H)
    e_ts = vᵀ tanh(h_t + k_s)    kind="additive"    scorer           (AdditiveAttention)
    e_ts = h_t · k_s             kind="dot"         scorer           (Luong, Attention)
    a_t = softmax_s(e_ts)   (masked memory steps get no weight)
    c_t = Σ_s a_ts k_s                                                (B, H)
    o_t = tanh([h_t; c_t] W_o + b_o)                join, output     (B, H)

and ``o_t`` feeds the word classifier. The context is not fed back into the
recurrence, so in training the decoder runs over the whole sequence first and
attention is applied to all steps at once; decoding applies the same layers to one
step. The layers come from :func:`attention_layers`; the model that owns them keeps
them as attributes and passes them to :func:`attend`.
"""

import keras
from keras import ops

KINDS = ("additive", "dot")


def attention_layers(units, kind="additive", name="attention"):
    """``(keys, scorer, join, output)``: the layers of attention for a decoder of
    ``units``; ``keys`` projects the memory ``(B, S, D)`` to ``(B, S, H)``."""
    if kind not in KINDS:
        raise ValueError(f"`kind` must be 'additive' or 'dot'; received {kind!r}.")
    scorer = keras.layers.AdditiveAttention if kind == "additive" else keras.layers.Attention
    return (keras.layers.Dense(units, use_bias=False, name=f"{name}_keys"),
            scorer(name=name), keras.layers.Concatenate(name=f"{name}_join"),
            keras.layers.Dense(units, activation="tanh", name=f"{name}_output"))


def attend(outputs, keys, scorer, join, output, memory_mask=None,
           return_attention_scores=False):
    """Decoder outputs ``(B, T, H)``, or one step ``(B, H)``, and keys ``(B, S, H)`` →
    ``o`` of the same shape as ``outputs``; ``memory_mask (B, S)`` bool: memory steps
    that may be attended to. Works in a functional graph and on tensors.
    ``return_attention_scores``: also the weights ``a`` ``(B, T, S)``."""
    one_step = len(outputs.shape) == 2
    query = ops.expand_dims(outputs, 1) if one_step else outputs
    masks = None if memory_mask is None else [None, memory_mask]
    context = scorer([query, keys], mask=masks, return_attention_scores=return_attention_scores)
    if return_attention_scores:
        context, scores = context
    if one_step:
        context = context[:, 0]
    result = output(join([outputs, context]))
    return (result, scores) if return_attention_scores else result
