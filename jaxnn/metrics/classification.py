"""Classification metrics: accuracy, top-k accuracy, confusion matrix, precision, recall, F1."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxnn.metrics.base import (
    Metric,
    Stats,
    predicted_classes,
    prepare,
    ratio,
)
from jaxnn.types import Array

__all__ = [
    "Accuracy",
    "ConfusionMatrix",
    "F1Score",
    "Precision",
    "Recall",
    "TopKAccuracy",
    "accuracy",
    "confusion_matrix",
    "f1_score",
    "precision",
    "recall",
    "top_k_accuracy",
]


def Accuracy(
    *, threshold: float = 0.5, num_classes: int | None = None, name: str = "accuracy"
) -> Metric:
    r"""Accumulable accuracy: the weighted fraction of correct predictions.

    .. math:: \text{acc} = \frac{\sum_n w_n [\hat c_n = c_n]}{\sum_n w_n}

    Args:
        threshold: For binary scores, the class is ``score > threshold`` (default 0.5).
        num_classes: :math:`K`; needed only when predictions are integer class ids.
        name: The logged name (default ``"accuracy"``).

    Returns:
        A :class:`Metric` with statistics ``correct`` and ``count``.

    Example:
        >>> Accuracy()(jnp.array([0.9, 0.2, 0.7]), jnp.array([1, 1, 0]))
        Array(0.33333334, dtype=float32)
    """
    where = "accuracy"

    def stats(predictions: Array, labels: Array, sample_weight: Array | None = None) -> Stats:
        predictions, ids, w, _ = prepare(predictions, labels, sample_weight, num_classes, where)
        correct = predicted_classes(predictions, threshold) == ids
        return {"correct": jnp.sum(w * correct), "count": jnp.sum(w)}

    return Metric(name, stats, lambda s: ratio(s["correct"], s["count"]))


def TopKAccuracy(k: int = 5, *, name: str | None = None) -> Metric:
    r"""Accumulable top-k accuracy: the true class is among the ``k`` highest scores.

    .. math:: \text{acc}_k = \frac{\sum_n w_n [c_n \in \operatorname{top}_k(s_n)]}{\sum_n w_n}

    Ties are broken by class index (lower first), as :func:`jax.lax.top_k` does.

    Args:
        k: How many of the top scores count (default 5).
        name: The logged name (default ``"top_{k}_accuracy"``).

    Returns:
        A :class:`Metric`.

    Raises:
        ValueError: At ``stats``, if the predictions are not ``(N, K)`` scores with ``K >= k``.

    Example:
        >>> scores = jnp.array([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1]])
        >>> TopKAccuracy(2)(scores, jnp.array([2, 2]))
        Array(0.5, dtype=float32)
    """
    where = f"top_{k}_accuracy"

    def stats(predictions: Array, labels: Array, sample_weight: Array | None = None) -> Stats:
        predictions = jnp.asarray(predictions)
        if predictions.ndim != 2 or predictions.shape[1] < k:
            raise ValueError(
                f"{where}: predictions must be scores of shape (N, K) with K >= {k}; "
                f"got {predictions.shape}."
            )
        predictions, ids, w, _ = prepare(predictions, labels, sample_weight, None, where)
        _, top = jax.lax.top_k(predictions, k)
        correct = jnp.any(top == ids[:, None], axis=-1)
        return {"correct": jnp.sum(w * correct), "count": jnp.sum(w)}

    return Metric(name or where, stats, lambda s: ratio(s["correct"], s["count"]))


def ConfusionMatrix(
    num_classes: int | None = None, *, threshold: float = 0.5, name: str = "confusion_matrix"
) -> Metric:
    r"""Accumulable confusion matrix: rows are true classes, columns predicted ones.

    .. math:: M_{ij} = \sum_n w_n [c_n = i][\hat c_n = j]

    Args:
        num_classes: :math:`K`; needed only when predictions are integer class ids.
        threshold: For binary scores (default 0.5).
        name: The logged name.

    Returns:
        A :class:`Metric` whose value is the ``(K, K)`` matrix (scikit-learn's layout).

    Example:
        >>> ConfusionMatrix()(jnp.array([[0.9, 0.1], [0.8, 0.2]]), jnp.array([0, 1]))
        Array([[1., 0.],
               [1., 0.]], dtype=float32)
    """
    where = name

    def stats(predictions: Array, labels: Array, sample_weight: Array | None = None) -> Stats:
        predictions, ids, w, k = prepare(predictions, labels, sample_weight, num_classes, where)
        predicted = jax.nn.one_hot(predicted_classes(predictions, threshold), k)
        return {"matrix": jax.nn.one_hot(ids, k).T @ (predicted * w[:, None])}

    return Metric(name, stats, lambda s: s["matrix"])


_AVERAGES = ("auto", "binary", "macro", "micro", "none")


def _per_class(matrix: Array) -> tuple[Array, Array, Array]:
    tp = jnp.diag(matrix)
    return tp, jnp.sum(matrix, axis=0) - tp, jnp.sum(matrix, axis=1) - tp


def _scores(matrix: Array, kind: str, average: str, where: str) -> Array:
    tp, fp, fn = _per_class(matrix)
    k = matrix.shape[0]
    if average == "auto":
        average = "binary" if k == 2 else "macro"
    if average == "binary" and k != 2:
        raise ValueError(
            f"{where}: average='binary' needs 2 classes; got {k}. Use 'macro' or 'micro'."
        )
    if average == "micro":
        tp, fp, fn = jnp.sum(tp), jnp.sum(fp), jnp.sum(fn)
    p, r = ratio(tp, tp + fp), ratio(tp, tp + fn)
    value = {"precision": p, "recall": r, "f1": ratio(2 * tp, 2 * tp + fp + fn)}[kind]
    if average == "binary":
        return value[1]  # class 1 is the positive class
    return jnp.mean(value) if average == "macro" else value


def _confusion_metric(kind: str, default_name: str) -> Callable[..., Metric]:
    def constructor(
        *,
        average: str = "auto",
        num_classes: int | None = None,
        threshold: float = 0.5,
        name: str | None = None,
    ) -> Metric:
        where = name or default_name
        if average not in _AVERAGES:
            raise ValueError(f"{where}: average must be one of {list(_AVERAGES)}; got {average!r}.")
        matrix = ConfusionMatrix(num_classes, threshold=threshold, name=where)
        return Metric(where, matrix.stats, lambda s: _scores(s["matrix"], kind, average, where))

    return constructor


_PRF_DOC = """Accumulable {title} from the confusion matrix.

    .. math:: {formula}

    per class, from true positives (TP), false positives (FP) and false negatives (FN); 0 where
    the denominator is 0 (scikit-learn's ``zero_division=0``).

    Args:
        average: ``"binary"`` (class 1 against the rest), ``"macro"`` (unweighted mean over
            classes; for F1, the mean of per-class F1 as scikit-learn), ``"micro"`` (pooled counts;
            equals accuracy for single-label data), ``"none"`` (per-class values), or ``"auto"``
            (default): binary for two classes, macro otherwise.
        num_classes: :math:`K`; needed only when predictions are integer class ids.
        threshold: For binary scores (default 0.5).
        name: The logged name (default ``"{name}"``).

    Returns:
        A :class:`Metric` whose statistics are the confusion matrix.

    Raises:
        ValueError: For an unknown ``average``, or ``"binary"`` with more than two classes.

    Example:
        >>> m = {ctor}(average="none")
        >>> m(jnp.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]), jnp.array([0, 1, 1]))
        {example}
    """

Precision = _confusion_metric("precision", "precision")
Precision.__name__ = Precision.__qualname__ = "Precision"
Precision.__doc__ = _PRF_DOC.format(
    title="precision",
    formula="P = \\frac{TP}{TP + FP}",
    name="precision",
    ctor="Precision",
    example="Array([0.5, 1. ], dtype=float32)",
)
Recall = _confusion_metric("recall", "recall")
Recall.__name__ = Recall.__qualname__ = "Recall"
Recall.__doc__ = _PRF_DOC.format(
    title="recall",
    formula="R = \\frac{TP}{TP + FN}",
    name="recall",
    ctor="Recall",
    example="Array([1. , 0.5], dtype=float32)",
)
F1Score = _confusion_metric("f1", "f1_score")
F1Score.__name__ = F1Score.__qualname__ = "F1Score"
F1Score.__doc__ = _PRF_DOC.format(
    title="F1 score",
    formula="F_1 = \\frac{2 P R}{P + R} = \\frac{2 TP}{2 TP + FP + FN}",
    name="f1_score",
    ctor="F1Score",
    example="Array([0.6666667, 0.6666667], dtype=float32)",
)


def accuracy(
    predictions: Array,
    labels: Array,
    *,
    sample_weight: Array | None = None,
    threshold: float = 0.5,
    num_classes: int | None = None,
) -> Array:
    """Accuracy in one call; see :func:`Accuracy`.

    Example:
        >>> accuracy(jnp.array([[2.0, 1.0], [0.0, 3.0]]), jnp.array([0, 0]))
        Array(0.5, dtype=float32)
    """
    return Accuracy(threshold=threshold, num_classes=num_classes)(
        predictions, labels, sample_weight
    )


def top_k_accuracy(
    predictions: Array, labels: Array, *, k: int = 5, sample_weight: Array | None = None
) -> Array:
    """Top-k accuracy in one call; see :func:`TopKAccuracy`.

    Example:
        >>> top_k_accuracy(jnp.array([[0.1, 0.5, 0.4]]), jnp.array([2]), k=2)
        Array(1., dtype=float32)
    """
    return TopKAccuracy(k)(predictions, labels, sample_weight)


def confusion_matrix(
    predictions: Array,
    labels: Array,
    *,
    num_classes: int | None = None,
    sample_weight: Array | None = None,
    threshold: float = 0.5,
) -> Array:
    """Confusion matrix in one call; see :func:`ConfusionMatrix`.

    Example:
        >>> confusion_matrix(jnp.array([0, 2, 2]), jnp.array([0, 1, 2]), num_classes=3)
        Array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 0., 1.]], dtype=float32)
    """
    return ConfusionMatrix(num_classes, threshold=threshold)(predictions, labels, sample_weight)


def precision(
    predictions: Array,
    labels: Array,
    *,
    average: str = "auto",
    num_classes: int | None = None,
    sample_weight: Array | None = None,
    threshold: float = 0.5,
) -> Array:
    """Precision in one call; see :func:`Precision`.

    Example:
        >>> precision(jnp.array([0.9, 0.8, 0.1]), jnp.array([1, 0, 0]))  # 1 TP, 1 FP
        Array(0.5, dtype=float32)
    """
    metric = Precision(average=average, num_classes=num_classes, threshold=threshold)
    return metric(predictions, labels, sample_weight)


def recall(
    predictions: Array,
    labels: Array,
    *,
    average: str = "auto",
    num_classes: int | None = None,
    sample_weight: Array | None = None,
    threshold: float = 0.5,
) -> Array:
    """Recall in one call; see :func:`Recall`.

    Example:
        >>> recall(jnp.array([0.9, 0.2, 0.1]), jnp.array([1, 1, 0]))  # 1 TP, 1 FN
        Array(0.5, dtype=float32)
    """
    metric = Recall(average=average, num_classes=num_classes, threshold=threshold)
    return metric(predictions, labels, sample_weight)


def f1_score(
    predictions: Array,
    labels: Array,
    *,
    average: str = "auto",
    num_classes: int | None = None,
    sample_weight: Array | None = None,
    threshold: float = 0.5,
) -> Array:
    """F1 score in one call; see :func:`F1Score`.

    Example:
        >>> f1_score(jnp.array([0.9, 0.8, 0.1]), jnp.array([1, 1, 0]))
        Array(1., dtype=float32)
    """
    metric = F1Score(average=average, num_classes=num_classes, threshold=threshold)
    return metric(predictions, labels, sample_weight)
