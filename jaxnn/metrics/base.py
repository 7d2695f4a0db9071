"""The accumulable :class:`Metric` and how predictions and labels become class ids."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxnn.encoding import check_labels
from jaxnn.types import Array

__all__ = [
    "Metric",
    "Stats",
    "label_ids",
    "merge",
    "num_classes_of",
    "predicted_classes",
    "prepare",
    "ratio",
    "sample_weights",
]

Stats = dict[str, Array]


class Metric(NamedTuple):
    """An accumulable metric: sufficient statistics and how to turn them into a value.

    Attributes:
        name: The key under which ``fit`` logs it (``accuracy``, ``val_accuracy``).
        stats: ``(predictions, labels, sample_weight=None) -> dict`` of weighted sums.
        compute: ``stats -> value``.

    Example:
        >>> from jaxnn.metrics import Accuracy
        >>> m = Accuracy()
        >>> s1 = m.stats(jnp.array([[0.9, 0.1]]), jnp.array([0]))
        >>> s2 = m.stats(jnp.array([[0.2, 0.8]]), jnp.array([0]))
        >>> m.compute(merge(s1, s2))
        Array(0.5, dtype=float32)
    """

    name: str
    stats: Callable[..., Stats]
    compute: Callable[[Stats], Array]

    def __call__(
        self, predictions: Array, labels: Array, sample_weight: Array | None = None
    ) -> Array:
        """The metric of one set of predictions: ``compute(stats(...))``."""
        return self.compute(self.stats(predictions, labels, sample_weight))


def merge(a: Stats, b: Stats) -> Stats:
    """Adds the sufficient statistics of two batches.

    Example:
        >>> merge({"n": jnp.float32(1.0)}, {"n": jnp.float32(2.0)})
        {'n': Array(3., dtype=float32)}
    """
    return jax.tree.map(jnp.add, a, b)


def num_classes_of(predictions: Array, num_classes: int | None, where: str) -> int:
    """:math:`K`: from the score columns, 2 for binary scores, or ``num_classes`` for ids."""
    if jnp.issubdtype(predictions.dtype, jnp.integer):
        if num_classes is None:
            raise ValueError(
                f"{where}: predictions are integer class ids, so num_classes must be given."
            )
        return num_classes
    if predictions.ndim == 2 and predictions.shape[1] >= 2:
        return predictions.shape[1]
    if predictions.ndim == 1 or (predictions.ndim == 2 and predictions.shape[1] == 1):
        return 2
    raise ValueError(
        f"{where}: predictions must have shape (N,), (N, 1) or (N, K); got {predictions.shape}."
    )


def predicted_classes(predictions: Array, threshold: float) -> Array:
    """Class ids ``(N,)``: argmax of scores, ``score > threshold`` for binary, or the ids."""
    if jnp.issubdtype(predictions.dtype, jnp.integer):
        return predictions.reshape(predictions.shape[0])
    if predictions.ndim == 2 and predictions.shape[1] >= 2:
        return jnp.argmax(predictions, axis=-1)
    return (predictions.reshape(predictions.shape[0]) > threshold).astype(jnp.int32)


def label_ids(labels: Array, n: int, num_classes: int, where: str) -> Array:
    """Integer labels ``(N,)`` from ids ``(N,)``/``(N, 1)`` or one-hot rows, range-checked."""
    raw = labels  # range checks look at the caller's values, never at a tracer
    labels = jnp.asarray(labels)
    if labels.shape == (n, num_classes) and not jnp.issubdtype(labels.dtype, jnp.integer):
        return jnp.argmax(labels, axis=-1)
    if labels.shape not in ((n,), (n, 1)):
        raise ValueError(
            f"{where}: labels must be class ids of shape ({n},) or one-hot rows of shape "
            f"({n}, {num_classes}); got {labels.shape}."
        )
    labels = labels.reshape(n)
    check_labels(raw, num_classes, where=where)
    return labels.astype(jnp.int32)


def sample_weights(sample_weight: Any, n: int, where: str) -> Array:
    """Weights ``(N,)``: ones when ``sample_weight`` is ``None``, else checked for shape."""
    if sample_weight is None:
        return jnp.ones((n,), jnp.float32)
    sw = jnp.asarray(sample_weight, jnp.float32)
    if sw.shape != (n,):
        raise ValueError(f"{where}: sample_weight must have shape ({n},); got {sw.shape}.")
    return sw


def prepare(
    predictions: Any, labels: Any, sample_weight: Any, num_classes: int | None, where: str
) -> tuple[Array, Array, Array, int]:
    """Checks inputs; returns ``(predictions, label ids, weights, K)``.

    Sequence scores ``(N, T, ..., K)`` with integer labels ``(N, T, ...)`` (a language model's
    per-token logits) count each position as one prediction, weighted by its sample's weight.

    Example:
        >>> logits = jnp.array([[[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]])  # (N, T, K) = (1, 3, 2)
        >>> p, ids, w, k = prepare(logits, jnp.array([[0, 1, 1]]), None, None, "accuracy")
        >>> p.shape, ids.tolist(), w.tolist(), k
        ((3, 2), [0, 1, 1], [1.0, 1.0, 1.0], 2)
    """
    predictions = jnp.asarray(predictions)
    if predictions.ndim < 1:
        raise ValueError(f"{where}: predictions need a batch axis; got a scalar.")
    if predictions.ndim >= 3 and jnp.issubdtype(predictions.dtype, jnp.floating):
        predictions, labels, sample_weight = _positions(predictions, labels, sample_weight, where)
    n = predictions.shape[0]
    k = num_classes_of(predictions, num_classes, where)
    return predictions, label_ids(labels, n, k, where), sample_weights(sample_weight, n, where), k


def _positions(
    predictions: Array, labels: Any, sample_weight: Any, where: str
) -> tuple[Array, Any, Any]:
    """Scores ``(N, T, ..., K)`` and ids ``(N, T, ...)`` as ``(N T ..., K)`` and ``(N T ...,)``."""
    shape = predictions.shape[:-1]
    label_shape = jnp.shape(labels)
    if label_shape != shape:
        raise ValueError(
            f"{where}: sequence predictions of shape {predictions.shape} need integer labels of "
            f"shape {shape} (one class id per position); got {label_shape}."
        )
    n, per = shape[0], math.prod(shape[1:])
    flat = None
    if sample_weight is not None:
        flat = jnp.repeat(sample_weights(sample_weight, n, where), per)
    return predictions.reshape(-1, predictions.shape[-1]), jnp.reshape(labels, -1), flat


def ratio(numerator: Array, denominator: Array) -> Array:
    """Divides, giving 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    safe = jnp.where(denominator > 0, denominator, 1.0)
    return jnp.where(denominator > 0, numerator / safe, 0.0)
