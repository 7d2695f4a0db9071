"""Weighted means of per-sample losses (``mse``, ``mae`` as metrics)."""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from jaxnn.metrics.base import (
    Metric,
    Stats,
    ratio,
    sample_weights,
)
from jaxnn.types import Array

__all__ = ["Mean"]


def Mean(loss: Callable[..., Array], *, name: str) -> Metric:
    r"""Accumulable weighted mean of a per-sample loss, e.g. ``Mean(jaxnn.losses.mae, name="mae")``.

    .. math:: \bar\ell = \frac{\sum_n w_n \ell_n}{\sum_n w_n}

    Args:
        loss: A jaxnn loss (called with ``reduction="none"``).
        name: The logged name.

    Returns:
        A :class:`Metric` with statistics ``total`` and ``count``.

    Example:
        >>> from jaxnn import losses
        >>> Mean(losses.mae, name="mae")(jnp.array([1.0, 2.0]), jnp.array([2.0, 4.0]))
        Array(1.5, dtype=float32)
    """

    def stats(predictions: Array, labels: Array, sample_weight: Array | None = None) -> Stats:
        per_sample = loss(predictions, labels, reduction="none")
        w = sample_weights(sample_weight, per_sample.shape[0], name)
        return {"total": jnp.sum(w * per_sample), "count": jnp.sum(w)}

    return Metric(name, stats, lambda s: ratio(s["total"], s["count"]))
