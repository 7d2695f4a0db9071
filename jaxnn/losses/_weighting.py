"""Shared checks and the weighted reduction behind every loss (see :mod:`jaxnn.losses`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxnn.encoding import is_traced
from jaxnn.types import Array

__all__ = [
    "EPSILON",
    "REDUCTIONS",
    "check_same_shape",
    "check_sample_weight",
    "class_weight_vector",
    "reject_class_weight",
    "weighted_reduce",
]

REDUCTIONS = ("mean", "none", "sum")
EPSILON = 1e-7


def check_same_shape(predictions: Array, targets: Array, where: str) -> None:
    if predictions.shape != targets.shape:
        hint = ""
        if predictions.shape == targets.shape + (1,):
            hint = " Add the trailing axis to targets, e.g. targets[:, None]."
        raise ValueError(
            f"{where}: predictions and targets must have the same shape; got predictions "
            f"{predictions.shape} and targets {targets.shape}.{hint}"
        )
    if predictions.ndim < 1:
        raise ValueError(f"{where}: predictions need a batch axis, (N, ...); got a scalar.")


def check_sample_weight(sample_weight: Any, n: int, where: str) -> Array | None:
    if sample_weight is None:
        return None
    sw = jnp.asarray(sample_weight)
    if sw.shape != (n,):
        raise ValueError(
            f"{where}: sample_weight must have shape (N,) = ({n},), one weight per sample; "
            f"got {sw.shape}."
        )
    if not is_traced(sample_weight) and np.any(np.asarray(sample_weight) < 0):
        low = float(np.min(np.asarray(sample_weight)))
        raise ValueError(f"{where}: sample_weight must be >= 0; got a minimum of {low}.")
    return sw


def class_weight_vector(class_weight: Any, num_classes: int, where: str) -> Array:
    if isinstance(class_weight, Mapping):
        keys = sorted(class_weight)
        if any(not isinstance(k, (int, np.integer)) or not 0 <= k < num_classes for k in keys):
            raise ValueError(
                f"{where}: class_weight keys must be class ids in [0, {num_classes}); got {keys}."
            )
        table = np.ones(num_classes, np.float32)
        table[keys] = [class_weight[k] for k in keys]
        return jnp.asarray(table)
    vec = jnp.asarray(class_weight, jnp.float32)
    if vec.shape != (num_classes,):
        raise ValueError(
            f"{where}: class_weight must hold one weight per class ({num_classes}) or be a dict "
            f"{{class: weight}}; got shape {vec.shape}."
        )
    return vec


def reject_class_weight(class_weight: Any, where: str) -> None:
    if class_weight is not None:
        raise ValueError(
            f"{where}: class_weight applies to classification losses only; use sample_weight "
            f"for a regression loss."
        )


def weighted_reduce(
    terms: Array, weights: Array | None, sample_weight: Any, reduction: str, where: str
) -> Array:
    """Reduces elementwise terms ``(N, ...)`` with class weights broadcastable to them."""
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{where}: reduction must be one of {list(REDUCTIONS)}; got {reduction!r}."
        )
    n = terms.shape[0]
    w = jnp.ones_like(terms) if weights is None else jnp.broadcast_to(weights, terms.shape)
    sw = check_sample_weight(sample_weight, n, where)
    if sw is not None:
        w = w * sw.reshape((n,) + (1,) * (terms.ndim - 1)).astype(terms.dtype)
    if reduction == "mean":
        total = jnp.sum(w)
        safe = jnp.where(total > 0, total, 1.0)
        return jnp.where(total > 0, jnp.sum(w * terms) / safe, 0.0)
    per_sample = jnp.mean((w * terms).reshape(n, -1), axis=1)
    return per_sample if reduction == "none" else jnp.sum(per_sample)
