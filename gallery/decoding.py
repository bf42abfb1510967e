"""Greedy, beam-search and sampling decoders that run inside the TensorFlow graph.

All three take a ``step_fn(tokens (N,) int32, state) -> (logits (N, V), new_state)``,
where ``state`` is any nest of ``(N, ...)`` tensors (e.g. ``[h, c]`` of an LSTM
decoder, or a ``gallery.seq2seq.DecoderState``, which adds the memory's keys for
attention; ``gallery.seq2seq.Seq2Seq.decode_step`` is such a step), and run a
symbolic ``tf.while_loop``, so they can be part of an exported SavedModel.

:func:`greedy_decode` and :func:`beam_search` write until ``end_id`` or
``max_length`` tokens: every sequence starts from ``start_id``; once it emits
``end_id`` it is finished, and later positions are ``end_id`` padding that add
nothing to its score. Their results (``B`` = batch):

    tokens  (B, max_length) int32: the chosen sequence, ``end_id`` after the end
    lengths (B,) int32: tokens before (excluding) the first ``end_id``
    scores  (B,) float32: the sum of log-probabilities of the emitted tokens
            (the end token included), divided by the length penalty for beams.

:func:`sample_decode` has no end token: it draws exactly ``length`` tokens from
``softmax(logits / temperature)`` (a character model writing on) and returns them
``(B, length)``.
"""

import tensorflow as tf

_NEG_INF = -1e9


def _length_penalty(lengths, alpha):
    """GNMT's ``((5 + len) / 6) ** alpha``; ``alpha = 0`` is no penalty."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, alpha)


def greedy_decode(step_fn, initial_state, batch_size, start_id, end_id, max_length):
    """The most likely token at every step."""
    tokens0 = tf.fill([batch_size], tf.cast(start_id, tf.int32))
    finished0 = tf.zeros([batch_size], tf.bool)
    scores0 = tf.zeros([batch_size], tf.float32)
    output0 = tf.TensorArray(tf.int32, size=max_length)

    def body(t, tokens, state, finished, scores, output):
        logits, state = step_fn(tokens, state)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))
        best = tf.cast(tf.argmax(log_probs, axis=-1), tf.int32)
        best = tf.where(finished, tf.cast(end_id, tf.int32), best)
        gained = tf.gather(log_probs, best, batch_dims=1)
        scores = scores + tf.where(finished, 0.0, gained)
        output = output.write(t, best)
        return t + 1, best, state, finished | tf.equal(best, end_id), scores, output

    def not_done(t, tokens, state, finished, scores, output):
        return tf.logical_and(t < max_length, tf.logical_not(tf.reduce_all(finished)))

    t, _, _, _, scores, output = tf.while_loop(
        not_done, body, (0, tokens0, initial_state, finished0, scores0, output0))
    tokens = tf.transpose(output.stack()[:t])  # (B, t)
    tokens = tf.pad(tokens, [[0, 0], [0, max_length - t]], constant_values=end_id)
    return tokens, _lengths(tokens, end_id), scores


def _lengths(tokens, end_id):
    is_end = tf.cast(tf.equal(tokens, end_id), tf.int32)
    return tf.reduce_sum(tf.cast(tf.equal(tf.cumsum(is_end, axis=1), 0), tf.int32), axis=1)


def beam_search(step_fn, initial_state, batch_size, start_id, end_id, max_length,
                beam_width=4, length_penalty=0.0):
    """Keep the ``beam_width`` best partial sequences per example at every step.

    Finished beams stay in the beam with their final score; the best by
    ``score / ((5 + length) / 6) ** length_penalty`` is returned. ``beam_width=1``
    gives exactly :func:`greedy_decode`'s tokens.
    """
    tokens, lengths, scores = beam_search_all(step_fn, initial_state, batch_size, start_id,
                                              end_id, max_length, beam_width, length_penalty)
    return tokens[:, 0], lengths[:, 0], scores[:, 0]


def beam_search_all(step_fn, initial_state, batch_size, start_id, end_id, max_length,
                    beam_width=4, length_penalty=0.0):
    """:func:`beam_search`'s final beam, every sequence of it, best first:
    ``tokens (B, K, max_length)``, ``lengths (B, K)``, normalised ``scores (B, K)``
    (``-1e9`` or less for beams that never became live, e.g. ``K`` > vocabulary)."""
    k = beam_width
    state = tf.nest.map_structure(lambda s: tf.repeat(s, k, axis=0), initial_state)
    tokens0 = tf.fill([batch_size * k], tf.cast(start_id, tf.int32))
    # only beam 0 is live at the start, so the first step does not pick k copies
    scores0 = tf.tile(tf.concat([[0.0], tf.fill([k - 1], _NEG_INF)], 0)[None], [batch_size, 1])
    finished0 = tf.zeros([batch_size, k], tf.bool)
    sequences0 = tf.fill([batch_size, k, max_length], tf.cast(end_id, tf.int32))

    def body(t, tokens, state, finished, scores, sequences):
        logits, state = step_fn(tokens, state)
        vocab = tf.shape(logits)[-1]
        log_probs = tf.reshape(tf.nn.log_softmax(tf.cast(logits, tf.float32)),
                               [batch_size, k, vocab])
        # a finished beam can only "emit" end_id again, at no cost
        end_only = tf.one_hot(end_id, vocab, on_value=0.0, off_value=_NEG_INF)
        log_probs = tf.where(finished[..., None], end_only[None, None], log_probs)
        total = tf.reshape(scores[..., None] + log_probs, [batch_size, k * vocab])
        scores, index = tf.math.top_k(total, k=k)
        parent = index // vocab
        token = tf.cast(index % vocab, tf.int32)
        finished = tf.gather(finished, parent, batch_dims=1) | tf.equal(token, end_id)
        sequences = tf.gather(sequences, parent, batch_dims=1)
        sequences = tf.where(tf.one_hot(t, max_length, on_value=True, off_value=False),
                             token[..., None], sequences)
        flat_parent = tf.reshape(parent + k * tf.range(batch_size)[:, None], [-1])
        state = tf.nest.map_structure(lambda s: tf.gather(s, flat_parent), state)
        return t + 1, tf.reshape(token, [-1]), state, finished, scores, sequences

    def not_done(t, tokens, state, finished, scores, sequences):
        return tf.logical_and(t < max_length, tf.logical_not(tf.reduce_all(finished)))

    _, _, _, _, scores, sequences = tf.while_loop(
        not_done, body, (0, tokens0, state, finished0, scores0, sequences0))
    lengths = tf.reshape(_lengths(tf.reshape(sequences, [-1, max_length]), end_id),
                         [batch_size, k])
    # a sequence's length for the penalty counts its end token when it has one
    normalised = scores / _length_penalty(tf.minimum(lengths + 1, max_length), length_penalty)
    normalised, order = tf.math.top_k(normalised, k=k)  # ties: the lower beam first
    return (tf.gather(sequences, order, batch_dims=1), tf.gather(lengths, order, batch_dims=1),
            normalised)


def sample_decode(step_fn, initial_state, first_tokens, length, temperature=1.0, seed=0):
    """Sample ``length`` tokens, each from ``softmax(logits / temperature)``.

    No end token: every sequence gets ``length`` tokens (a character model writes
    on). ``temperature <= 0`` takes the most likely token (greedy). Sampling is
    stateless, seeded by ``(seed, step)``: the same seed gives the same text.

    Args:
        step_fn: as above.
        initial_state: nest of ``(B, ...)`` tensors, e.g. after reading a prime text.
        first_tokens: ``(B,)`` int32, the first input (e.g. the prime's last token).
        length: int32 scalar, tokens to produce.
        temperature: float32 scalar; lower is more conservative.
        seed: int scalar.

    Returns: ``(B, length)`` int32 tokens.
    """
    temperature = tf.cast(temperature, tf.float32)
    seed = tf.cast(seed, tf.int32)
    output0 = tf.TensorArray(tf.int32, size=length)

    def body(t, tokens, state, output):
        logits, state = step_fn(tokens, state)
        logits = tf.cast(logits, tf.float32)
        greedy = tf.cast(tf.argmax(logits, axis=-1), tf.int32)
        scaled = logits / tf.maximum(temperature, 1e-6)
        drawn = tf.random.stateless_categorical(scaled, 1, seed=tf.stack([seed, t]),
                                                dtype=tf.int32)[:, 0]
        chosen = tf.where(temperature > 0, drawn, greedy)
        return t + 1, chosen, state, output.write(t, chosen)

    _, _, _, output = tf.while_loop(
        lambda t, *_: t < length, body,
        (tf.constant(0), tf.cast(first_tokens, tf.int32), initial_state, output0))
    return tf.reshape(tf.transpose(output.stack()), [tf.shape(first_tokens)[0], length])
