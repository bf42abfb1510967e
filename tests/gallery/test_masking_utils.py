"""Numbers from the masking utilities on small hand-checked cases."""

import numpy as np
import pytest
import tensorflow as tf

from gallery import masking
from gallery.data.bucketing import bucket_by_length
from gallery.data.padding import pad_right


def test_lengths_to_mask_and_back():
    mask = masking.lengths_to_mask([3, 1, 0], maxlen=4)
    np.testing.assert_array_equal(mask, [[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(masking.mask_to_lengths(mask), [3, 1, 0])
    assert masking.lengths_to_mask([2, 5]).shape == (2, 5)


def test_last_valid_picks_last_real_step_and_zero_for_empty():
    outputs = np.array([[[1, 1], [2, 2], [9, 9]], [[3, 3], [9, 9], [9, 9]],
                        [[5, 5], [6, 6], [7, 7]], [[9, 9], [9, 9], [9, 9]]], "float32")
    mask = masking.lengths_to_mask([2, 1, 3, 0], 3)
    np.testing.assert_array_equal(masking.last_valid(outputs, mask),
                                  [[2, 2], [3, 3], [7, 7], [0, 0]])


def test_reverse_padded_keeps_padding_right():
    x = np.array([[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 9]])
    np.testing.assert_array_equal(masking.reverse_padded(x, [3, 2, 4]),
                                  [[3, 2, 1, 0], [5, 4, 0, 0], [9, 8, 7, 6]])
    x3 = np.stack([x, -x], axis=-1).astype("float32")
    out = np.asarray(masking.reverse_padded(x3, [3, 2, 4]))
    np.testing.assert_array_equal(out[..., 0], [[3, 2, 1, 0], [5, 4, 0, 0], [9, 8, 7, 6]])
    np.testing.assert_array_equal(out[..., 1], -out[..., 0])
    np.testing.assert_array_equal(tf.reverse_sequence(x3, [3, 2, 4], 1, 0), out)


def test_strip_padding():
    rows = masking.strip_padding(np.arange(8).reshape(2, 4), [3, 1])
    assert [r.tolist() for r in rows] == [[0, 1, 2], [4]]


def test_masked_mean_and_max():
    x = np.array([[[1.0], [3.0], [100.0]], [[-2.0], [50.0], [60.0]], [[7.0], [8.0], [9.0]]])
    mask = masking.lengths_to_mask([2, 1, 0], 3)
    np.testing.assert_allclose(masking.masked_mean(x, mask), [[2.0], [-2.0], [0.0]])
    np.testing.assert_allclose(masking.masked_max(x, mask), [[3.0], [-2.0], [0.0]])


def test_masked_crossentropy_and_accuracy():
    logits = np.log(np.array([[[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]], "float32"))
    labels = np.array([[0, 0, 0]])
    mask = masking.lengths_to_mask([2], 3)
    loss = masking.masked_sparse_categorical_crossentropy(labels, logits, mask)
    np.testing.assert_allclose(loss, -(np.log(0.5) + np.log(0.9)) / 2, rtol=1e-5)
    acc = masking.masked_accuracy(labels, logits, mask)  # step 0 is a tie: argmax gives 0
    np.testing.assert_allclose(acc, 1.0)
    np.testing.assert_allclose(masking.masked_accuracy([[1, 0, 1]], logits, mask), 0.5)
    np.testing.assert_allclose(
        masking.masked_sparse_categorical_crossentropy(labels, logits, np.zeros((1, 3), bool)), 0.0)


def test_bucket_by_length_pads_right_to_batch_max():
    seqs = [[1] * n for n in [3, 12, 4, 11, 2, 13, 5, 14]]
    ds = tf.data.Dataset.from_generator(
        lambda: ((s, len(s)) for s in seqs),
        output_signature=(tf.TensorSpec((None,), tf.int32), tf.TensorSpec((), tf.int32)))
    batches = list(bucket_by_length(ds, boundaries=[10], batch_size=4))
    widths = sorted(int(b[0].shape[1]) for b in batches)
    assert widths == [5, 14]
    for tokens, lengths in batches:
        np.testing.assert_array_equal(np.asarray(tokens).sum(axis=1), lengths)  # right-padded


@pytest.mark.parametrize("bad", [[], [10, 5], [0, 4], [3, 3]])
def test_bucket_by_length_rejects_bad_boundaries(bad):
    ds = tf.data.Dataset.from_tensor_slices([[1, 2]])
    if bad == []:
        assert bucket_by_length(ds, bad, 2) is not None  # one bucket is fine
        return
    with pytest.raises(ValueError, match="boundaries"):
        bucket_by_length(ds, bad, 2)


def test_pad_right():
    batch, lengths = pad_right([np.ones((2, 3)), np.full((4, 3), 2.0)])
    assert batch.shape == (2, 4, 3) and batch.dtype == np.float32
    np.testing.assert_array_equal(lengths, [2, 4])
    np.testing.assert_array_equal(batch[0, :, 0], [1, 1, 0, 0])
    np.testing.assert_array_equal(batch[1, :, 0], [2, 2, 2, 2])
    ids, _ = pad_right([np.array([5, 6]), np.array([], np.int64)], np.int64)
    np.testing.assert_array_equal(ids, [[5, 6], [0, 0]])
    empty, lengths = pad_right([], np.float32, (3,))
    assert empty.shape == (0, 1, 3) and lengths.shape == (0,)
