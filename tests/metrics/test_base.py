"""jaxnn.metrics.base.prepare: sequence scores (N, T, K) count every position as a prediction."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import metrics
from jaxnn.metrics.base import merge, prepare

RNG = np.random.default_rng(0)
N, T, K = 6, 5, 4
LOGITS = RNG.normal(size=(N, T, K)).astype(np.float32)
LABELS = RNG.integers(0, K, size=(N, T)).astype(np.int32)
WEIGHTS = np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0], np.float32)


def np_accuracy(logits, labels, weights):
    """Per-position accuracy: each position weighs its sample's weight."""
    hits = (logits.argmax(-1) == labels).astype(np.float64)  # (N, T)
    w = np.broadcast_to(weights[:, None], hits.shape)
    return (w * hits).sum() / w.sum()


def test_prepare_flattens_positions_and_repeats_each_samples_weight():
    predictions, ids, w, k = prepare(LOGITS, LABELS, WEIGHTS, None, "accuracy")
    assert predictions.shape == (N * T, K) and k == K
    np.testing.assert_array_equal(predictions, LOGITS.reshape(N * T, K))
    np.testing.assert_array_equal(ids, LABELS.reshape(-1))
    np.testing.assert_array_equal(w, np.repeat(WEIGHTS, T))  # sample n's weight at its T rows


def test_sequence_accuracy_equals_the_numpy_reference_with_and_without_weights():
    got = metrics.accuracy(LOGITS, LABELS)
    np.testing.assert_allclose(got, np_accuracy(LOGITS, LABELS, np.ones(N)), rtol=1e-6)
    got = metrics.accuracy(LOGITS, LABELS, sample_weight=WEIGHTS)
    np.testing.assert_allclose(got, np_accuracy(LOGITS, LABELS, WEIGHTS), rtol=1e-6)
    # A sample of weight 0 does not count: changing its labels changes nothing.
    other = LABELS.copy()
    other[1] = (other[1] + 1) % K
    np.testing.assert_allclose(metrics.accuracy(LOGITS, other, sample_weight=WEIGHTS), got)


def test_sequence_accuracy_accumulates_over_batches_like_the_whole():
    m = metrics.Accuracy()
    halves = [m.stats(LOGITS[s], LABELS[s], WEIGHTS[s]) for s in (slice(0, 2), slice(2, None))]
    np.testing.assert_allclose(
        m.compute(merge(*halves)), np_accuracy(LOGITS, LABELS, WEIGHTS), rtol=1e-6
    )


def test_deeper_position_axes_follow_the_same_rule():
    logits = LOGITS.reshape(N, T, 1, K)  # (N, T, 1, K): every position of the middle axes
    labels = LABELS.reshape(N, T, 1)
    np.testing.assert_allclose(
        metrics.accuracy(logits, labels), np_accuracy(LOGITS, LABELS, np.ones(N)), rtol=1e-6
    )


def test_sequence_labels_of_the_wrong_shape_are_an_error_naming_both_shapes():
    with pytest.raises(ValueError, match=r"accuracy: sequence predictions of shape \(6, 5, 4\) "
                       r"need integer labels of shape \(6, 5\) \(one class id per position\); "
                       r"got \(6,\)"):  # fmt: skip
        metrics.accuracy(LOGITS, LABELS[:, 0])
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(6,\); got \(30,\)"):
        metrics.accuracy(LOGITS, LABELS, sample_weight=jnp.ones(N * T))
