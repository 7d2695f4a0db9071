import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import metrics

RNG = np.random.default_rng(0)
K = 4
SCORES = RNG.normal(size=(50, K)).astype(np.float32)
LABELS = RNG.integers(0, K, size=50)
WEIGHTS = RNG.uniform(0, 2, size=50).astype(np.float32)
BIN_PROBS = RNG.uniform(size=50).astype(np.float32)
BIN_LABELS = RNG.integers(0, 2, size=50)


def np_confusion(labels, predicted, k, w=None):
    m = np.zeros((k, k))
    for t, p, wi in zip(labels, predicted, np.ones(len(labels)) if w is None else w, strict=True):
        m[t, p] += wi
    return m


def np_prf(m):
    tp = np.diag(m)
    fp, fn = m.sum(0) - tp, m.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.nan_to_num(tp / (tp + fp))
        r = np.nan_to_num(tp / (tp + fn))
        f = np.nan_to_num(2 * p * r / (p + r))
    return p, r, f, tp, fp, fn


def test_accuracy_multiclass_binary_and_weighted():
    predicted = SCORES.argmax(1)
    np.testing.assert_allclose(
        metrics.accuracy(SCORES, LABELS), (predicted == LABELS).mean(), rtol=1e-6
    )
    np.testing.assert_allclose(
        metrics.accuracy(SCORES, LABELS, sample_weight=WEIGHTS),
        (WEIGHTS * (predicted == LABELS)).sum() / WEIGHTS.sum(),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        metrics.accuracy(SCORES, np.eye(K)[LABELS]), (predicted == LABELS).mean(), rtol=1e-6
    )
    np.testing.assert_allclose(
        metrics.accuracy(BIN_PROBS, BIN_LABELS), ((BIN_PROBS > 0.5) == BIN_LABELS).mean(), rtol=1e-6
    )
    logits = np.log(BIN_PROBS / (1 - BIN_PROBS))[:, None]
    np.testing.assert_allclose(
        metrics.accuracy(logits, BIN_LABELS[:, None], threshold=0.0),
        ((BIN_PROBS > 0.5) == BIN_LABELS).mean(),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        metrics.accuracy(jnp.asarray(predicted), LABELS, num_classes=K),
        (predicted == LABELS).mean(),
        rtol=1e-6,
    )


def test_top_k_accuracy_matches_numpy():
    for k in (1, 2, 3):
        top = np.argsort(-SCORES, axis=1)[:, :k]
        expected = np.any(top == LABELS[:, None], axis=1).mean()
        np.testing.assert_allclose(metrics.top_k_accuracy(SCORES, LABELS, k=k), expected, rtol=1e-6)


def test_confusion_matrix_matches_numpy_loop():
    expected = np_confusion(LABELS, SCORES.argmax(1), K, WEIGHTS)
    np.testing.assert_allclose(
        metrics.confusion_matrix(SCORES, LABELS, sample_weight=WEIGHTS), expected, rtol=1e-5
    )
    ids = np.array([0, 2, 2, 1])
    np.testing.assert_array_equal(
        metrics.confusion_matrix(jnp.asarray(ids), np.array([0, 1, 2, 1]), num_classes=3),
        np_confusion([0, 1, 2, 1], ids, 3),
    )


def test_precision_recall_f1_every_average():
    m = np_confusion(LABELS, SCORES.argmax(1), K)
    p, r, f, tp, fp, fn = np_prf(m)
    for fn_, ref in ((metrics.precision, p), (metrics.recall, r), (metrics.f1_score, f)):
        np.testing.assert_allclose(fn_(SCORES, LABELS, average="none"), ref, rtol=1e-6)
        np.testing.assert_allclose(fn_(SCORES, LABELS, average="macro"), ref.mean(), rtol=1e-6)
        np.testing.assert_allclose(fn_(SCORES, LABELS), ref.mean(), rtol=1e-6)  # auto -> macro
    micro = tp.sum() / (tp.sum() + fp.sum())
    np.testing.assert_allclose(metrics.precision(SCORES, LABELS, average="micro"), micro, rtol=1e-6)
    np.testing.assert_allclose(
        metrics.f1_score(SCORES, LABELS, average="micro"),
        metrics.accuracy(SCORES, LABELS),
        rtol=1e-6,
    )


def test_binary_precision_recall_f1_by_hand():
    # predicted:   1    1    0    1    0      truth: 1 0 1 1 0  -> TP=2, FP=1, FN=1
    probs = np.array([0.9, 0.7, 0.2, 0.6, 0.1], np.float32)
    truth = np.array([1, 0, 1, 1, 0])
    np.testing.assert_allclose(metrics.precision(probs, truth), 2 / 3, rtol=1e-6)
    np.testing.assert_allclose(metrics.recall(probs, truth), 2 / 3, rtol=1e-6)
    np.testing.assert_allclose(metrics.f1_score(probs, truth), 2 / 3, rtol=1e-6)
    # threshold 0.65: predicted 1 1 0 0 0 -> TP=1, FP=1; threshold 0.8: only the first -> TP=1.
    np.testing.assert_allclose(metrics.precision(probs, truth, threshold=0.65), 0.5, rtol=1e-6)
    np.testing.assert_allclose(metrics.precision(probs, truth, threshold=0.8), 1.0, rtol=1e-6)
    # No positive predictions: precision is 0 (zero_division=0), not NaN.
    assert float(metrics.precision(np.zeros(3, np.float32), np.array([1, 0, 1]))) == 0.0


# Regression means and AUC have their own files; top-5 needs K >= 5 (K is 4 here).
ALL = {
    name: metrics.get(name)
    for name in metrics.names()
    if name not in ("mse", "mae", "auc", "top_5_accuracy")
}
ALL["top_2_accuracy"] = metrics.TopKAccuracy(2)
ALL["confusion_matrix"] = metrics.ConfusionMatrix()
ALL["precision_none"] = metrics.Precision(average="none")
ALL["recall_micro"] = metrics.Recall(average="micro")


@pytest.mark.parametrize("name", sorted(ALL))
def test_accumulated_over_batches_equals_all_at_once(name):
    m = ALL[name]
    whole = m.compute(m.stats(SCORES, LABELS, WEIGHTS))
    cuts = [0, 7, 8, 30, 50]
    stats = [
        m.stats(SCORES[a:b], LABELS[a:b], WEIGHTS[a:b])
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    total = stats[0]
    for s in stats[1:]:
        total = metrics.merge(total, s)
    np.testing.assert_allclose(m.compute(total), whole, rtol=1e-5, atol=1e-7)
    jitted = jax.jit(m.stats)(SCORES, LABELS, WEIGHTS)
    np.testing.assert_allclose(m.compute(jitted), whole, rtol=1e-5, atol=1e-7)


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"accuracy: labels must be class ids in \[0, 4\); 1 of 50 are not: values \[-1\]",
    ):
        metrics.accuracy(SCORES, np.where(np.arange(50) == 3, -1, LABELS))
    with pytest.raises(ValueError, match="precision: average='binary' needs 2 classes; got 4"):
        metrics.precision(SCORES, LABELS, average="binary")
    with pytest.raises(
        ValueError,
        match=r"recall: average must be one of \['auto', 'binary', 'macro', 'micro', 'none'\]; got 'weighted'",
    ):
        metrics.Recall(average="weighted")
    with pytest.raises(
        ValueError, match="predictions are integer class ids, so num_classes must be given"
    ):
        metrics.confusion_matrix(jnp.array([0, 1]), np.array([0, 1]))
    with pytest.raises(
        ValueError,
        match=r"accuracy: labels must be class ids of shape \(50,\) or one-hot rows of shape \(50, 4\); got \(49,\)",
    ):
        metrics.accuracy(SCORES, LABELS[:49])
    with pytest.raises(
        ValueError, match=r"accuracy: sample_weight must have shape \(50,\); got \(3,\)"
    ):
        metrics.accuracy(SCORES, LABELS, sample_weight=np.ones(3))
    with pytest.raises(
        ValueError,
        match=r"top_5_accuracy: predictions must be scores of shape \(N, K\) with K >= 5; got \(50, 4\)",
    ):
        metrics.top_k_accuracy(SCORES, LABELS)
