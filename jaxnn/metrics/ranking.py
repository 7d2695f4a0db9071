"""Area under the ROC curve: exact, and binned so that it accumulates over batches."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.metrics.base import (
    Metric,
    Stats,
    label_ids,
    ratio,
    sample_weights,
)
from jaxnn.types import Array

__all__ = ["AUC", "roc_auc"]


def _binary_scores(
    scores: Any, labels: Any, sample_weight: Any, where: str
) -> tuple[Array, Array, Array]:
    scores = jnp.asarray(scores)
    if scores.ndim not in (1, 2) or (scores.ndim == 2 and scores.shape[1] != 1):
        raise ValueError(f"{where}: scores must have shape (N,) or (N, 1); got {scores.shape}.")
    n = scores.shape[0]
    ids = label_ids(labels, n, 2, where)
    return scores.reshape(n), ids.astype(scores.dtype), sample_weights(sample_weight, n, where)


def AUC(*, num_bins: int = 200, from_logits: bool = False, name: str = "auc") -> Metric:
    r"""Accumulable area under the ROC curve for binary scores, from score histograms.

    Scores (probabilities in [0, 1], or logits with ``from_logits=True``) are counted into
    ``num_bins`` equal bins per class; then

    .. math:: \text{AUC} = \frac{\sum_b N_b \left(P_{>b} + \tfrac12 P_b\right)}{P\,N}

    where :math:`P_b, N_b` are the (weighted) positives and negatives in bin :math:`b` and
    :math:`P_{>b}` the positives in higher bins. It is the exact Mann-Whitney AUC of the binned
    scores (scores in one bin count as ties), so it accumulates exactly over batches and is
    within about ``1/num_bins`` of :func:`roc_auc`.

    Args:
        num_bins: Histogram bins (default 200, like Keras' ``AUC(num_thresholds=200)``).
        from_logits: Apply a sigmoid to the scores first (default ``False``).
        name: The logged name (default ``"auc"``).

    Returns:
        A :class:`Metric` with statistics ``positives`` and ``negatives`` (each ``(num_bins,)``).

    Example:
        >>> AUC()(jnp.array([0.1, 0.4, 0.35, 0.8]), jnp.array([0, 0, 1, 1]))
        Array(0.75, dtype=float32)
    """
    where = name

    def stats(scores: Array, labels: Array, sample_weight: Array | None = None) -> Stats:
        s, y, w = _binary_scores(scores, labels, sample_weight, where)
        s = jax.nn.sigmoid(s) if from_logits else s
        bins = jnp.clip(jnp.floor(s * num_bins).astype(jnp.int32), 0, num_bins - 1)
        hist = jax.nn.one_hot(bins, num_bins) * w[:, None]
        return {"positives": y @ hist, "negatives": (1.0 - y) @ hist}

    def compute(s: Stats) -> Array:
        pos, neg = s["positives"], s["negatives"]
        above = jnp.cumsum(pos[::-1])[::-1] - pos  # positives in strictly higher bins
        return ratio(jnp.sum(neg * (above + 0.5 * pos)), jnp.sum(pos) * jnp.sum(neg))

    return Metric(name, stats, compute)


def roc_auc(scores: Array, labels: Array, *, sample_weight: Array | None = None) -> Array:
    r"""Exact area under the ROC curve for binary scores (jit-compatible).

    .. math:: \text{AUC} = \frac{\sum_{i: y_i = 1}\sum_{j: y_j = 0} w_i w_j
        \left([s_i > s_j] + \tfrac12 [s_i = s_j]\right)}{\sum_{i: y_i=1} w_i
        \sum_{j: y_j=0} w_j}

    The probability that a random positive scores above a random negative, ties counting half
    (the Mann-Whitney statistic), in :math:`O(N \log N)` by sorting. It needs all scores at once;
    :func:`AUC` is the accumulable, binned form.

    Args:
        scores: ``(N,)`` or ``(N, 1)`` real scores (probabilities or logits; only order matters).
        labels: ``(N,)`` 0/1 labels.
        sample_weight: Optional ``(N,)`` weights.

    Returns:
        A scalar in [0, 1]; 0 if either class is absent.

    Example:
        >>> roc_auc(jnp.array([0.1, 0.4, 0.35, 0.8]), jnp.array([0, 0, 1, 1]))
        Array(0.75, dtype=float32)
    """
    s, y, w = _binary_scores(scores, labels, sample_weight, "roc_auc")
    order = jnp.argsort(s)
    sorted_s = s[order]
    neg_cum = jnp.concatenate([jnp.zeros(1, w.dtype), jnp.cumsum((w * (1.0 - y))[order])])
    lo = jnp.searchsorted(sorted_s, s, side="left")
    hi = jnp.searchsorted(sorted_s, s, side="right")
    beaten = neg_cum[lo] + 0.5 * (neg_cum[hi] - neg_cum[lo])
    return ratio(jnp.sum(w * y * beaten), jnp.sum(w * y) * jnp.sum(w * (1.0 - y)))
