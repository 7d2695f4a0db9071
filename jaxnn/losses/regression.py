"""Regression losses: mean squared error, mean absolute error, Huber."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax

from jaxnn.losses._weighting import (
    check_same_shape,
    reject_class_weight,
    weighted_reduce,
)
from jaxnn.types import Array

__all__ = ["huber", "mae", "mse"]


def mse(
    predictions: Array,
    targets: Array,
    *,
    sample_weight: Any = None,
    class_weight: Any = None,
    reduction: str = "mean",
) -> Array:
    r"""Mean squared error.

    .. math:: \ell = (\hat y - y)^2

    Args:
        predictions: :math:`\hat y`, shape ``(N, ...)``.
        targets: :math:`y`, the same shape (no broadcasting: ``(N,)`` against ``(N, 1)`` is an
            error, not an ``(N, N)`` matrix).
        sample_weight: Optional ``(N,)`` non-negative weights.
        class_weight: Not applicable; must be ``None``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (see the module docstring).

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Raises:
        ValueError: For shapes that differ, a sample weight of the wrong shape, or a class weight.

    Example:
        >>> mse(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0]))  # (0 + 4) / 2
        Array(2., dtype=float32)
    """
    where = "mse"
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    check_same_shape(predictions, targets, where)
    reject_class_weight(class_weight, where)
    return weighted_reduce(
        optax.losses.squared_error(predictions, targets), None, sample_weight, reduction, where
    )


def mae(
    predictions: Array,
    targets: Array,
    *,
    sample_weight: Any = None,
    class_weight: Any = None,
    reduction: str = "mean",
) -> Array:
    r"""Mean absolute error.

    .. math:: \ell = |\hat y - y|

    Arguments, returns and errors as :func:`mse`.

    Example:
        >>> mae(jnp.array([1.0, 2.0]), jnp.array([2.0, 4.0]))  # (1 + 2) / 2
        Array(1.5, dtype=float32)
    """
    where = "mae"
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    check_same_shape(predictions, targets, where)
    reject_class_weight(class_weight, where)
    return weighted_reduce(jnp.abs(predictions - targets), None, sample_weight, reduction, where)


def huber(
    predictions: Array,
    targets: Array,
    *,
    delta: float = 1.0,
    sample_weight: Any = None,
    class_weight: Any = None,
    reduction: str = "mean",
) -> Array:
    r"""Huber loss: quadratic for small errors, linear for large ones.

    .. math:: \ell = \begin{cases} \tfrac12 r^2 & |r| \le \delta \\
        \delta (|r| - \tfrac12\delta) & |r| > \delta \end{cases}, \quad r = \hat y - y

    Args:
        predictions: :math:`\hat y`, shape ``(N, ...)``.
        targets: :math:`y`, the same shape.
        delta: :math:`\delta > 0`, where the loss turns linear (default 1.0).
        sample_weight: Optional ``(N,)`` weights.
        class_weight: Not applicable; must be ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Raises:
        ValueError: As :func:`mse`, or for ``delta <= 0``.

    Example:
        >>> huber(jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0]))  # (0.125 + 2.5) / 2
        Array(1.3125, dtype=float32)
    """
    where = "huber"
    if not delta > 0:
        raise ValueError(f"{where}: delta must be > 0; got {delta}.")
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    check_same_shape(predictions, targets, where)
    reject_class_weight(class_weight, where)
    terms = optax.losses.huber_loss(predictions, targets, delta=delta)
    return weighted_reduce(terms, None, sample_weight, reduction, where)
