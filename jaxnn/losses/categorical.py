"""Multi-class losses: softmax and probability cross-entropy, KL divergence."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxnn.encoding import check_labels
from jaxnn.losses._weighting import (
    EPSILON,
    check_same_shape,
    class_weight_vector,
    weighted_reduce,
)
from jaxnn.types import Array

__all__ = ["categorical_cross_entropy", "kl_divergence", "softmax_cross_entropy"]


def _categorical_targets(
    scores: Array, labels: Array, where: str, raw_labels: Any
) -> tuple[Array, bool]:
    """Returns ``(labels, sparse)``: integer class ids ``(N, ...)`` or probabilities like scores."""
    if scores.ndim < 2:
        raise ValueError(
            f"{where}: predictions must have shape (N, ..., K) with K classes on the last axis; "
            f"got {scores.shape}."
        )
    num_classes = scores.shape[-1]
    if jnp.issubdtype(labels.dtype, jnp.integer):
        if labels.shape != scores.shape[:-1]:
            raise ValueError(
                f"{where}: integer labels must have shape {scores.shape[:-1]} for predictions of "
                f"shape {scores.shape}; got {labels.shape}."
            )
        check_labels(raw_labels, num_classes, where=where)  # the caller's values, not a tracer
        return labels, True
    if labels.shape != scores.shape:
        raise ValueError(
            f"{where}: labels must be integer class ids of shape {scores.shape[:-1]} or one-hot "
            f"(probability) rows of shape {scores.shape}; got {labels.dtype} labels of shape "
            f"{labels.shape}."
        )
    return labels.astype(scores.dtype), False


def _categorical_class_weights(
    class_weight: Any, labels: Array, sparse: bool, num_classes: int, where: str
) -> Array | None:
    if class_weight is None:
        return None
    cw = class_weight_vector(class_weight, num_classes, where)
    return cw[labels] if sparse else labels @ cw


def softmax_cross_entropy(
    logits: Array,
    labels: Array,
    *,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    class_weight: Any = None,
    reduction: str = "mean",
) -> Array:
    r"""Softmax cross-entropy from logits, with integer or one-hot labels.

    .. math:: \ell = -\sum_k y_k \log \operatorname{softmax}(z)_k
        = \operatorname{logsumexp}(z) - \sum_k y_k z_k

    With label smoothing :math:`\alpha`, :math:`y \leftarrow (1 - \alpha) y + \alpha / K`.

    Args:
        logits: :math:`z`, shape ``(N, ..., K)``.
        labels: Integer class ids of shape ``(N, ...)`` (any integer dtype), or one-hot /
            probability rows of shape ``(N, ..., K)`` (a float dtype). The dtype decides.
        label_smoothing: :math:`\alpha \in [0, 1)` (default 0).
        sample_weight: Optional ``(N,)`` weights.
        class_weight: Optional ``(K,)`` weights or ``{class: weight}``; for probability labels the
            weight of a sample is :math:`\sum_k y_k c_k`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Raises:
        ValueError: For labels whose shape fits neither form, integer labels outside ``[0, K)``
            (checked outside ``jit``), or weights of the wrong shape.

    Example:
        >>> logits = jnp.array([[0.0, 0.0], [0.0, 0.0]])
        >>> softmax_cross_entropy(logits, jnp.array([0, 1])) / jnp.log(2.0)
        Array(1., dtype=float32)
    """
    where = "softmax_cross_entropy"
    raw_labels = labels
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"{where}: label_smoothing must be in [0, 1); got {label_smoothing}.")
    labels, sparse = _categorical_targets(logits, labels, where, raw_labels)
    num_classes = logits.shape[-1]
    weights = _categorical_class_weights(class_weight, labels, sparse, num_classes, where)
    if sparse and label_smoothing == 0.0:
        terms = optax.losses.softmax_cross_entropy_with_integer_labels(logits, labels)
    else:
        probs = jax.nn.one_hot(labels, num_classes, dtype=logits.dtype) if sparse else labels
        probs = optax.smooth_labels(probs, label_smoothing) if label_smoothing else probs
        terms = optax.losses.softmax_cross_entropy(logits, probs)
    return weighted_reduce(terms, weights, sample_weight, reduction, where)


def categorical_cross_entropy(
    predictions: Array,
    labels: Array,
    *,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    sample_weight: Any = None,
    class_weight: Any = None,
    reduction: str = "mean",
) -> Array:
    r"""Cross-entropy from class probabilities (Keras' ``categorical_crossentropy``).

    .. math:: \ell = -\sum_k y_k \log p_k, \quad
        p = \operatorname{clip}(\hat p / \textstyle\sum_k \hat p_k, \epsilon, 1 - \epsilon)

    Args:
        predictions: :math:`\hat p`, rows of probabilities (e.g. a softmax output), shape
            ``(N, ..., K)``; logits when ``from_logits=True``, which calls
            :func:`softmax_cross_entropy`.
        labels: Integer class ids ``(N, ...)`` or one-hot rows ``(N, ..., K)``, as
            :func:`softmax_cross_entropy`.
        from_logits: Whether ``predictions`` are logits (default ``False``).
        label_smoothing: :math:`\alpha \in [0, 1)` (default 0).
        sample_weight: Optional ``(N,)`` weights.
        class_weight: Optional ``(K,)`` weights or ``{class: weight}``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Raises:
        ValueError: As :func:`softmax_cross_entropy`.

    Example:
        >>> probs = jnp.array([[0.5, 0.5], [0.25, 0.75]])
        >>> jnp.round(categorical_cross_entropy(probs, jnp.array([0, 1])), 4)  # -(ln .5 + ln .75)/2
        Array(0.4904, dtype=float32)
    """
    if from_logits:
        return softmax_cross_entropy(
            predictions,
            labels,
            label_smoothing=label_smoothing,
            sample_weight=sample_weight,
            class_weight=class_weight,
            reduction=reduction,
        )
    where = "categorical_cross_entropy"
    raw_labels = labels
    predictions, labels = jnp.asarray(predictions), jnp.asarray(labels)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"{where}: label_smoothing must be in [0, 1); got {label_smoothing}.")
    labels, sparse = _categorical_targets(predictions, labels, where, raw_labels)
    num_classes = predictions.shape[-1]
    weights = _categorical_class_weights(class_weight, labels, sparse, num_classes, where)
    probs = jax.nn.one_hot(labels, num_classes, dtype=predictions.dtype) if sparse else labels
    probs = optax.smooth_labels(probs, label_smoothing) if label_smoothing else probs
    p = predictions / jnp.sum(predictions, axis=-1, keepdims=True)
    terms = -jnp.sum(probs * jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON)), axis=-1)
    return weighted_reduce(terms, weights, sample_weight, reduction, where)


def kl_divergence(
    predictions: Array,
    targets: Array,
    *,
    from_logits: bool = False,
    sample_weight: Any = None,
    class_weight: Any = None,
    reduction: str = "mean",
) -> Array:
    r"""Kullback-Leibler divergence of the predicted distribution from the target one.

    .. math:: \ell = \operatorname{KL}(y \,\|\, p) = \sum_k y_k (\log y_k - \log p_k),
        \quad 0 \log 0 = 0

    Args:
        predictions: :math:`p`, rows of probabilities over the last axis, shape ``(N, ..., K)``
            (clipped to :math:`[\epsilon, 1]`); logits when ``from_logits=True`` (then
            :math:`\log p` is a stable ``log_softmax``).
        targets: :math:`y`, rows of probabilities, the same shape.
        from_logits: Whether ``predictions`` are logits (default ``False``).
        sample_weight: Optional ``(N,)`` weights.
        class_weight: Optional ``(K,)`` weights; a sample weighs :math:`\sum_k y_k c_k`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Raises:
        ValueError: For shapes that differ or weights of the wrong shape.

    Example:
        >>> p = jnp.array([[0.5, 0.5]])
        >>> kl_divergence(p, p), jnp.round(kl_divergence(p, jnp.array([[1.0, 0.0]])), 4)
        (Array(0., dtype=float32), Array(0.6931, dtype=float32))
    """
    where = "kl_divergence"
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    check_same_shape(predictions, targets, where)
    if predictions.ndim < 2:
        raise ValueError(
            f"{where}: predictions must have shape (N, ..., K); got {predictions.shape}."
        )
    if from_logits:
        log_p = jax.nn.log_softmax(predictions, axis=-1)
    else:
        log_p = jnp.log(jnp.clip(predictions, EPSILON, 1.0))
    targets = targets.astype(predictions.dtype)
    terms = optax.losses.kl_divergence(log_p, targets)
    num_classes = predictions.shape[-1]
    weights = _categorical_class_weights(class_weight, targets, False, num_classes, where)
    return weighted_reduce(terms, weights, sample_weight, reduction, where)
