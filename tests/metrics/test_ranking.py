import jax
import numpy as np
import pytest

from jaxnn import metrics


def brute_force_auc(scores, labels, w):
    pos, neg = labels == 1, labels == 0
    num = 0.0
    for i in np.flatnonzero(pos):
        for j in np.flatnonzero(neg):
            num += w[i] * w[j] * ((scores[i] > scores[j]) + 0.5 * (scores[i] == scores[j]))
    return num / (w[pos].sum() * w[neg].sum())


def test_exact_auc_matches_brute_force_with_ties_and_weights():
    rng = np.random.default_rng(0)
    scores = np.round(rng.uniform(size=60), 1).astype(np.float32)  # many ties
    labels = rng.integers(0, 2, size=60)
    w = rng.uniform(0.5, 2, size=60).astype(np.float32)
    np.testing.assert_allclose(
        metrics.roc_auc(scores, labels), brute_force_auc(scores, labels, np.ones(60)), rtol=1e-6
    )
    np.testing.assert_allclose(
        metrics.roc_auc(scores, labels, sample_weight=w),
        brute_force_auc(scores, labels, w),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        jax.jit(metrics.roc_auc)(scores, labels), metrics.roc_auc(scores, labels), rtol=1e-6
    )


def test_auc_extremes_and_only_order_matters():
    labels = np.array([0, 0, 1, 1])
    assert float(metrics.roc_auc(np.array([0.1, 0.2, 0.8, 0.9]), labels)) == 1.0
    assert float(metrics.roc_auc(np.array([0.9, 0.8, 0.2, 0.1]), labels)) == 0.0
    assert float(metrics.roc_auc(np.full(4, 0.3), labels)) == 0.5
    logits = np.array([-3.0, 0.5, -0.1, 4.0])
    np.testing.assert_allclose(
        metrics.roc_auc(logits, labels), metrics.roc_auc(1 / (1 + np.exp(-logits)), labels)
    )


def test_binned_auc_accumulates_exactly_and_is_close_to_exact():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=400)
    scores = np.clip(rng.normal(0.4 + 0.2 * labels, 0.2), 0, 1).astype(np.float32)
    m = metrics.AUC()
    whole = m(scores, labels)
    parts = [m.stats(scores[a : a + 100], labels[a : a + 100]) for a in range(0, 400, 100)]
    total = parts[0]
    for p in parts[1:]:
        total = metrics.merge(total, p)
    np.testing.assert_allclose(m.compute(total), whole, rtol=1e-6)
    assert abs(float(whole) - float(metrics.roc_auc(scores, labels))) < 1 / 200
    logits = np.log(scores.clip(1e-4, 1 - 1e-4) / (1 - scores.clip(1e-4, 1 - 1e-4)))
    assert abs(float(metrics.AUC(from_logits=True)(logits, labels)) - float(whole)) < 0.01


def test_errors():
    with pytest.raises(
        ValueError, match=r"roc_auc: scores must have shape \(N,\) or \(N, 1\); got \(3, 2\)"
    ):
        metrics.roc_auc(np.zeros((3, 2)), np.array([0, 1, 0]))
    with pytest.raises(
        ValueError,
        match=r"roc_auc: labels must be class ids in \[0, 2\); 1 of 3 are not: values \[2\]",
    ):
        metrics.roc_auc(np.zeros(3), np.array([0, 1, 2]))
