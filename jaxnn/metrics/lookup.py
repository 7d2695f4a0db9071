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

# name -> constructor given the threshold of binary scores (0.5 for probabilities, 0 for logits)
_BY_NAME: dict[str, Callable[[float], Metric]] = {
    "accuracy": lambda t: Accuracy(threshold=t),
    "acc": lambda t: Accuracy(threshold=t),
    "top_5_accuracy": lambda t: TopKAccuracy(5),
    "precision": lambda t: Precision(threshold=t),
    "recall": lambda t: Recall(threshold=t),
    "f1_score": lambda t: F1Score(threshold=t),
    "f1": lambda t: F1Score(threshold=t, name="f1"),
    "auc": lambda t: AUC(from_logits=t == 0.0),
    "mse": lambda t: Mean(losses.mse, name="mse"),
    "mae": lambda t: Mean(losses.mae, name="mae"),
}


def names() -> list[str]:
    """All metric names :func:`get` knows, sorted.

    Example:
        >>> names()[:3]
        ['acc', 'accuracy', 'auc']
    """
    return sorted(_BY_NAME)


def get(metric: str | Metric, *, logits: bool = False) -> Metric:
    """Looks up a metric by name; a :class:`Metric` is returned as it is.

    Args:
        metric: A name from :func:`names` (case-insensitive) or a :class:`Metric`.
        logits: Whether binary scores are logits: thresholds become 0 instead of 0.5 and
            ``auc`` applies a sigmoid (default ``False``). ``fit`` sets it from the loss.

    Returns:
        The :class:`Metric` with its default options.

    Raises:
        ValueError: For an unknown name; the message lists the known names.
        TypeError: For anything else.

    Example:
        >>> get("accuracy").name
        'accuracy'
        >>> import jax.numpy as jnp
        >>> get("accuracy", logits=True)(jnp.array([-0.2, 0.3]), jnp.array([0, 1]))
        Array(1., dtype=float32)
    """
    if isinstance(metric, Metric):
        return metric
    factory = lookup(_BY_NAME, metric, kind="metric", example="accuracy", alternative="a Metric")
    return factory(0.0 if logits else 0.5)
