"""Binary classification losses: sigmoid and probability cross-entropy, hinge."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

from jaxnn.encoding import is_traced
from jaxnn.losses._weighting import (
    EPSILON,
    check_same_shape,
    class_weight_vector,
    weighted_reduce,
)
from jaxnn.types import Array

__all__ = ["binary_cross_entropy", "hinge", "sigmoid_binary_cross_entropy"]


def _check_binary_targets(targets: Array, where: str, *, allow_minus_one: bool = False) -> None:
    if is_traced(targets):
        return
    t = np.asarray(targets, dtype=np.float64)
    low = -1.0 if allow_minus_one else 0.0
    if t.size and (not np.all(np.isfinite(t)) or t.min() < low or t.max() > 1.0):
        expected = "{-1, 1} or [0, 1]" if allow_minus_one else "[0, 1]"
        raise ValueError(
            f"{where}: targets must be in {expected}; got values from {t.min()} to {t.max()}."
        )


def _binary_class_weights(class_weight: Any, targets: Array, where: str) -> Array | None:
    if class_weight is None:
        return None
    cw = class_weight_vector(class_weight, 2, where)
    t = targets.astype(cw.dtype)
    return (1.0 - t) * cw[0] + t * cw[1]  # also right for soft targets


def sigmoid_binary_cross_entropy(
    logits: Array,
    labels: Array,
    *,
    sample_weight: Any = None,
    class_weight: Any = None,
    reduction: str = "mean",
) -> Array:
    r"""Binary cross-entropy from logits, stable for any logit.

    .. math:: \ell = -y \log \sigma(z) - (1 - y)\log(1 - \sigma(z))
        = \max(z, 0) - z y + \log(1 + e^{-|z|})

    Args:
        logits: :math:`z`, shape ``(N, ...)`` (``(N,)`` or ``(N, 1)`` for one output).
        labels: :math:`y \in [0, 1]` (hard 0/1 or soft), the same shape.
        sample_weight: Optional ``(N,)`` weights.
        class_weight: Optional ``[w_0, w_1]`` or ``{0: w_0, 1: w_1}``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Raises:
        ValueError: For shapes that differ, labels outside [0, 1] (checked outside ``jit``), or
            weights of the wrong shape.

    Example:
        >>> sigmoid_binary_cross_entropy(jnp.array([0.0]), jnp.array([1.0])) / jnp.log(2.0)
        Array(1., dtype=float32)
    """
    where = "sigmoid_binary_cross_entropy"
    _check_binary_targets(labels, where)  # on the caller's values, before any tracing
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    check_same_shape(logits, labels, where)
    labels = labels.astype(logits.dtype)
    terms = optax.losses.sigmoid_binary_cross_entropy(logits, labels)
    weights = _binary_class_weights(class_weight, labels, where)
    return weighted_reduce(terms, weights, sample_weight, reduction, where)


def binary_cross_entropy(
    predictions: Array,
    targets: Array,
    *,
    from_logits: bool = False,
    sample_weight: Any = None,
    class_weight: Any = None,
    reduction: str = "mean",
) -> Array:
    r"""Binary cross-entropy from probabilities (Keras' ``binary_crossentropy``).

    .. math:: \ell = -y \log p - (1 - y) \log(1 - p), \quad
        p = \operatorname{clip}(\hat p, \epsilon, 1 - \epsilon), \ \epsilon = 10^{-7}

    Args:
        predictions: :math:`\hat p \in [0, 1]` (e.g. a sigmoid output), shape ``(N, ...)``; or
            logits when ``from_logits=True``, which calls :func:`sigmoid_binary_cross_entropy`.
        targets: :math:`y \in [0, 1]`, the same shape.
        from_logits: Whether ``predictions`` are logits (default ``False``).
        sample_weight: Optional ``(N,)`` weights.
        class_weight: Optional ``[w_0, w_1]`` or ``{0: w_0, 1: w_1}``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Raises:
        ValueError: As :func:`sigmoid_binary_cross_entropy`.

    Example:
        >>> binary_cross_entropy(jnp.array([0.5, 0.5]), jnp.array([0.0, 1.0])) / jnp.log(2.0)
        Array(1., dtype=float32)
    """
    if from_logits:
        return sigmoid_binary_cross_entropy(
            predictions,
            targets,
            sample_weight=sample_weight,
            class_weight=class_weight,
            reduction=reduction,
        )
    where = "binary_cross_entropy"
    _check_binary_targets(targets, where)
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    check_same_shape(predictions, targets, where)
    targets = targets.astype(predictions.dtype)
    p = jnp.clip(predictions, EPSILON, 1.0 - EPSILON)
    terms = -(targets * jnp.log(p) + (1.0 - targets) * jnp.log1p(-p))
    weights = _binary_class_weights(class_weight, targets, where)
    return weighted_reduce(terms, weights, sample_weight, reduction, where)


def hinge(
    predictions: Array,
    targets: Array,
    *,
    sample_weight: Any = None,
    class_weight: Any = None,
    reduction: str = "mean",
) -> Array:
    r"""Hinge loss for binary classification with scores.

    .. math:: \ell = \max(0, 1 - t \hat y), \quad t \in \{-1, 1\}

    Targets given as 0/1 are mapped to -1/1 (as Keras does).

    Args:
        predictions: :math:`\hat y`, real-valued scores, shape ``(N, ...)``.
        targets: :math:`t` in {-1, 1}, or {0, 1}, the same shape.
        sample_weight: Optional ``(N,)`` weights.
        class_weight: Optional ``[w_negative, w_positive]``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Raises:
        ValueError: For shapes that differ, or targets outside [-1, 1].

    Example:
        >>> hinge(jnp.array([0.5, -2.0]), jnp.array([1.0, 0.0]))  # (0.5 + 0) / 2
        Array(0.25, dtype=float32)
    """
    where = "hinge"
    _check_binary_targets(targets, where, allow_minus_one=True)
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    check_same_shape(predictions, targets, where)
    t = targets.astype(predictions.dtype)
    t = jnp.where(t == 0, -1.0, t)
    terms = optax.losses.hinge_loss(predictions, t)
    weights = _binary_class_weights(class_weight, (t + 1.0) / 2.0, where)
    return weighted_reduce(terms, weights, sample_weight, reduction, where)
