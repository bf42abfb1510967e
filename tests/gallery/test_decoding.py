"""In-graph greedy and beam-search decoding on toy models with known answers."""

import numpy as np
import pytest
import tensorflow as tf

from gallery.decoding import beam_search, greedy_decode

START, END, V = 0, 1, 5


def markov_step(table):
    """A 'decoder' whose next-token log-probabilities depend on the last token only."""
    table = np.asarray(table, "float64")
    table = tf.constant(np.log(table / table.sum(axis=1, keepdims=True)).astype("float32"))

    def step(tokens, state):
        return tf.gather(table, tokens), state + 1  # the state just counts steps
    return step


# From START: token 2 (p=.5) or 3 (p=.4). After 2 everything is uncertain; after 3, END
# is certain. Greedy takes 2 then stalls; the best whole sequence is "3 END".
TABLE = [[.05, .05, .5, .4, .0001],      # START
         [.0001, .9996, .0001, .0001, .0001],  # END -> END
         [.2, .2, .2, .2, .2],            # after 2
         [.0001, .9996, .0001, .0001, .0001],  # after 3 -> END
         [.2, .2, .2, .2, .2]]


def _run(fn, batch=2, **kwargs):
    state = tf.zeros([batch], tf.int32)
    return [np.asarray(t) for t in fn(markov_step(TABLE), state, batch, START, END, 6, **kwargs)]


def test_greedy_picks_locally_best_tokens():
    tokens, lengths, scores = _run(greedy_decode)
    assert tokens[0, 0] == 2 and tokens.shape == (2, 6)
    np.testing.assert_array_equal(tokens[0], tokens[1])


def test_beam_search_finds_the_better_whole_sequence():
    tokens, lengths, scores = _run(beam_search, beam_width=3)
    np.testing.assert_array_equal(tokens[0], [3, END, END, END, END, END])
    assert lengths.tolist() == [1, 1]
    np.testing.assert_allclose(scores[0], np.log(.4 / 1.0001) + np.log(.9996), rtol=1e-5)


def test_beam_width_one_equals_greedy():
    greedy = _run(greedy_decode)
    beam = _run(beam_search, beam_width=1)
    np.testing.assert_array_equal(greedy[0], beam[0])
    np.testing.assert_array_equal(greedy[1], beam[1])
    np.testing.assert_allclose(greedy[2], beam[2], rtol=1e-6)


@pytest.mark.parametrize("width", [1, 3])
def test_inside_tf_function_with_unknown_batch(width):
    step = markov_step(TABLE)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def decode(state):
        return beam_search(step, state, tf.shape(state)[0], START, END, 6, beam_width=width)
    tokens, lengths, _ = decode(tf.zeros([4], tf.int32))
    assert tokens.shape == (4, 6) and lengths.shape == (4,)


def test_length_penalty_prefers_longer_sequences():
    # "END" at once scores log .45 = -0.80; "2 END" scores log .53 + log .7 = -0.99.
    # Without a penalty the short one wins; with alpha=2, -0.99 / (7/6)^2 = -0.73 wins.
    table = [[.01, .45, .53, .0001, .0099], [.0001, .9996, .0001, .0001, .0001],
             [.01, .7, .28, .0001, .0099], [.2] * 5, [.2] * 5]
    short = beam_search(markov_step(table), tf.zeros([1], tf.int32), 1, START, END, 6,
                        beam_width=4, length_penalty=0.0)
    long = beam_search(markov_step(table), tf.zeros([1], tf.int32), 1, START, END, 6,
                       beam_width=4, length_penalty=2.0)
    assert int(short[1][0]) == 0 and int(long[1][0]) == 1
