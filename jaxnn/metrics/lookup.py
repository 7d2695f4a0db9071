"""Metrics by name, as ``fit(metrics=["accuracy"])`` takes them."""

from __future__ import annotations

from collections.abc import Callable

from jaxnn import losses
from jaxnn.core import lookup
from jaxnn.metrics.base import Metric
from jaxnn.metrics.classification import Accuracy, F1Score, Precision, Recall, TopKAccuracy
from jaxnn.metrics.ranking import AUC
from jaxnn.metrics.regression import Mean

__all__ = ["get", "names"]

_BY_NAME: dict[str, Callable[[], Metric]] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "top_5_accuracy": lambda: TopKAccuracy(5),
    "precision": Precision,
    "recall": Recall,
    "f1_score": F1Score,
    "f1": lambda: F1Score(name="f1"),
    "auc": AUC,
    "mse": lambda: Mean(losses.mse, name="mse"),
    "mae": lambda: Mean(losses.mae, name="mae"),
}


def names() -> list[str]:
    """All metric names :func:`get` knows, sorted.

    Example:
        >>> names()[:3]
        ['acc', 'accuracy', 'auc']
    """
    return sorted(_BY_NAME)


def get(metric: str | Metric) -> Metric:
    """Looks up a metric by name; a :class:`Metric` is returned as it is.

    Args:
        metric: A name from :func:`names` (case-insensitive) or a :class:`Metric`.

    Returns:
        The :class:`Metric` with its default options.

    Raises:
        ValueError: For an unknown name; the message lists the known names.
        TypeError: For anything else.

    Example:
        >>> get("accuracy").name
        'accuracy'
    """
    if isinstance(metric, Metric):
        return metric
    return lookup(_BY_NAME, metric, kind="metric", example="accuracy", alternative="a Metric")()
