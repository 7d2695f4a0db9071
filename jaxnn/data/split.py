"""Seeded train/test and train/validation/test splits, optionally stratified."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["train_test_split", "train_val_test_split"]


def _check_xy(x: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 1 or y.ndim < 1 or len(x) != len(y):
        raise ValueError(
            f"{where}: x and y must have one row per sample; got "
            f"{len(x) if x.ndim else 'a scalar'} and {len(y) if y.ndim else 'a scalar'} rows."
        )
    if x.dtype.kind == "f" and len(x):
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if bad.any():
            raise ValueError(
                f"{where}: x has NaN or Inf in {int(bad.sum())} of {len(x)} rows; the first is row "
                f"{int(np.argmax(bad))}."
            )
    return x, y


def _sizes(n: int, fractions: Sequence[float], where: str) -> list[int]:
    """Part sizes that add up to ``n``, each at least 1."""
    counts = [int(round(f * n)) for f in fractions[1:]]
    sizes = [n - sum(counts)] + counts
    if min(sizes) < 1:
        raise ValueError(f"{where}: fractions {list(fractions)} of {n} samples leave a part empty.")
    return sizes


def _split_indices(
    y: np.ndarray, fractions: Sequence[float], stratify: bool, seed: int, where: str
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    if not stratify:
        order = rng.permutation(len(y))
        bounds = np.cumsum(_sizes(len(y), fractions, where))[:-1]
        return [np.sort(part) for part in np.split(order, bounds)]
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < len(fractions):
        rare = classes[counts < len(fractions)].tolist()
        raise ValueError(
            f"{where}: a stratified split into {len(fractions)} parts needs at least "
            f"{len(fractions)} samples of every class; classes {rare} have fewer."
        )
    # Cumulative rounding across classes: each part's total is within one of its fraction of N,
    # and each class is split within one sample of its fractions.
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    seen, given = 0, np.zeros(len(fractions) - 1, int)
    for c in classes:
        rows = rng.permutation(np.flatnonzero(y == c))
        seen += len(rows)
        target = np.floor(np.asarray(fractions[1:]) * seen + 0.5).astype(int)
        counts = target - given
        given = target
        sizes = [len(rows) - int(counts.sum()), *counts.tolist()]
        for part, chunk in zip(parts, np.split(rows, np.cumsum(sizes)[:-1]), strict=True):
            part.append(chunk)
    result = [np.sort(np.concatenate(p)) for p in parts]
    if min(len(r) for r in result) < 1:
        raise ValueError(
            f"{where}: fractions {list(fractions)} of {len(y)} samples leave a part empty."
        )
    return result


def _check_fraction(fraction: float, where: str, arg: str) -> None:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"{where}: {arg} must be in (0, 1); got {fraction}.")


def train_test_split(
    x: Any, y: Any, *, test_fraction: float = 0.2, stratify: bool = False, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Splits ``(x, y)`` at random into training and test sets.

    Args:
        x: Features, ``(N, ...)``.
        y: Labels or targets, ``(N, ...)``.
        test_fraction: Fraction of samples in the test set, in (0, 1) (default 0.2).
        stratify: Keep each class's share equal in both parts (``y`` must hold class labels).
        seed: Random seed (default 0).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``; each part keeps the original row order.

    Raises:
        ValueError: For mismatched lengths, a fraction outside (0, 1), a part that would be
            empty, or (stratified) a class with a single sample.

    Example:
        >>> (xtr, ytr), (xte, yte) = train_test_split(np.arange(10), np.arange(10) % 2, seed=1)
        >>> len(xtr), len(xte)
        (8, 2)
    """
    where = "train_test_split"
    x, y = _check_xy(x, y, where)
    _check_fraction(test_fraction, where, "test_fraction")
    train, test = _split_indices(y, [1 - test_fraction, test_fraction], stratify, seed, where)
    return (x[train], y[train]), (x[test], y[test])


def train_val_test_split(
    x: Any,
    y: Any,
    *,
    fractions: Sequence[float] = (0.7, 0.1, 0.2),
    stratify: bool = False,
    seed: int = 0,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Splits ``(x, y)`` at random into training, validation and test sets.

    Args:
        x: Features, ``(N, ...)``.
        y: Labels or targets, ``(N, ...)``.
        fractions: Train, validation and test fractions, each in (0, 1), summing to 1 (default
            70/10/20).
        stratify: Keep each class's share equal in all parts.
        seed: Random seed (default 0).

    Returns:
        ``((x_train, y_train), (x_val, y_val), (x_test, y_test))``.

    Raises:
        ValueError: For fractions that are not three numbers in (0, 1) summing to 1, or as
            :func:`train_test_split`.

    Example:
        >>> parts = train_val_test_split(np.arange(100), np.arange(100) % 4, stratify=True)
        >>> [len(p[0]) for p in parts]
        [70, 10, 20]
    """
    where = "train_val_test_split"
    x, y = _check_xy(x, y, where)
    fractions = list(fractions)
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(
            f"{where}: fractions must be three numbers (train, validation, test) that sum to 1; "
            f"got {fractions}."
        )
    for name, f in zip(("train", "validation", "test"), fractions, strict=True):
        _check_fraction(f, where, f"the {name} fraction")
    parts = _split_indices(y, fractions, stratify, seed, where)
    return tuple((x[p], y[p]) for p in parts)
