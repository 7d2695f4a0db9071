"""Feature scalers as pure fit / transform pairs, fitted on training data only."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["MinMax", "Standardize"]


def _features(x: Any, where: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or len(x) == 0:
        raise ValueError(f"{where}: x must have shape (N, ...) with N >= 1; got {x.shape}.")
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if bad.any():
        raise ValueError(
            f"{where}: x has NaN or Inf in {int(bad.sum())} rows; the first is row "
            f"{int(np.argmax(bad))}."
        )
    return x


class Standardize(NamedTuple):
    r"""Scales each feature to zero mean and unit variance, with statistics from training data.

    .. math:: z = \frac{x - \mu}{\sigma}, \qquad \mu, \sigma \text{ per feature over the
        training rows (population standard deviation)}

    Features with :math:`\sigma = 0` are only centred. Fit with :meth:`fit` on the training split,
    then :meth:`transform` every split with the same object.

    Example:
        >>> scaler = Standardize.fit(np.array([[1.0, 10.0], [3.0, 10.0]]))
        >>> scaler.transform(np.array([[2.0, 12.0]])).tolist()
        [[0.0, 2.0]]
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: Any) -> Standardize:
        """Computes per-feature mean and standard deviation over the rows of ``x``."""
        x = _features(x, "Standardize.fit")
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std > 0, std, 1.0))

    def transform(self, x: Any) -> np.ndarray:
        """Scales ``x`` (float32 out)."""
        return ((np.asarray(x, np.float64) - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: Any) -> np.ndarray:
        """Undoes :meth:`transform`."""
        return (np.asarray(z, np.float64) * self.std + self.mean).astype(np.float32)


class MinMax(NamedTuple):
    r"""Scales each feature to ``[low, high]`` (default [0, 1]) using the training range.

    .. math:: z = \text{low} + (\text{high} - \text{low}) \frac{x - \min}{\max - \min}

    Constant features map to ``low``. Values outside the training range map outside
    ``[low, high]``; nothing is clipped.

    Example:
        >>> scaler = MinMax.fit(np.array([[0.0], [4.0]]))
        >>> scaler.transform(np.array([[1.0], [4.0]])).tolist()
        [[0.25], [1.0]]
    """

    minimum: np.ndarray
    scale: np.ndarray
    low: float
    high: float

    @classmethod
    def fit(cls, x: Any, *, low: float = 0.0, high: float = 1.0) -> MinMax:
        """Computes per-feature minimum and range over the rows of ``x``.

        Raises:
            ValueError: If ``low >= high`` or ``x`` is empty or not finite.
        """
        if not low < high:
            raise ValueError(f"MinMax.fit: low must be below high; got low={low}, high={high}.")
        x = _features(x, "MinMax.fit")
        span = x.max(axis=0) - x.min(axis=0)
        return cls(x.min(axis=0), np.where(span > 0, span, 1.0), float(low), float(high))

    def transform(self, x: Any) -> np.ndarray:
        """Scales ``x`` (float32 out)."""
        unit = (np.asarray(x, np.float64) - self.minimum) / self.scale
        return (self.low + (self.high - self.low) * unit).astype(np.float32)

    def inverse(self, z: Any) -> np.ndarray:
        """Undoes :meth:`transform`."""
        unit = (np.asarray(z, np.float64) - self.low) / (self.high - self.low)
        return (unit * self.scale + self.minimum).astype(np.float32)
