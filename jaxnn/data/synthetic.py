"""Synthetic data sets: the TensorFlow Playground's six, two-moons and Gaussian blobs.

The Playground sets follow the generating rules of the Playground's ``dataset.ts`` (so a user sees
the same pictures), drawn with NumPy's seeded generator instead of ``Math.random``. ``noise`` is
the Playground's noise slider divided by 100, in ``[0, 0.5]``. Its labels -1 and 1 are 0 and 1
here. Points are shuffled, so the two classes are not in blocks.

Every function returns float32 features ``x`` of shape ``(n, 2)`` (``(n, d)`` for blobs) and
int32 labels ``y`` of shape ``(n,)``; the regression sets return float32 targets of shape
``(n, 1)``. With ``test_fraction`` they return ``((x_train, y_train), (x_test, y_test))``, as
``keras.datasets`` loaders do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jaxnn.core import check_positive_int

__all__ = [
    "blobs",
    "circle",
    "gaussian",
    "moons",
    "regression_gaussian",
    "regression_plane",
    "spiral",
    "xor",
]


def _check(n: Any, noise: float, where: str, *, high: float | None = 0.5) -> None:
    check_positive_int(n, where=where, arg="n")
    if not noise >= 0 or (high is not None and noise > high):
        bound = f"[0, {high}]" if high is not None else ">= 0"
        raise ValueError(
            f"{where}: noise must be in {bound} (the Playground's slider / 100); got {noise}."
        )


def _finish(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, test_fraction: float | None
) -> Any:
    order = rng.permutation(len(x))
    x, y = x[order].astype(np.float32), y[order]
    if test_fraction is None:
        return x, y
    from jaxnn.data.split import train_test_split

    return train_test_split(x, y, test_fraction=test_fraction, seed=int(rng.integers(2**31)))


def _uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return rng.uniform(low, high, n)


def circle(
    n: int = 500, *, noise: float = 0.0, seed: int = 0, test_fraction: float | None = None
) -> Any:
    r"""The Playground's circle: class 1 inside radius 2.5, class 0 in a ring out to 5.

    Half the points are drawn at radius :math:`U(0, 2.5)`, half at :math:`U(3.5, 5)`, at a
    uniform angle; the label is whether the point *plus noise* :math:`U(-5, 5) \cdot` noise lies
    within radius 2.5, so noise flips labels near the boundary.

    Args:
        n: Number of points (default 500).
        noise: In ``[0, 0.5]`` (default 0).
        seed: Random seed (default 0).
        test_fraction: If given, also split off this fraction as a test set.

    Returns:
        ``(x, y)``, or ``((x_train, y_train), (x_test, y_test))`` with ``test_fraction``.

    Example:
        >>> x, y = circle(100, seed=1)
        >>> x.shape, x.dtype, sorted(set(y.tolist()))
        ((100, 2), dtype('float32'), [0, 1])
    """
    _check(n, noise, "circle")
    rng = np.random.default_rng(seed)
    half = n // 2
    r = np.concatenate([_uniform(rng, 0, 2.5, half), _uniform(rng, 3.5, 5, n - half)])
    angle = _uniform(rng, 0, 2 * np.pi, n)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    jitter = rng.uniform(-5, 5, (n, 2)) * noise
    y = (np.hypot(*(x + jitter).T) < 2.5).astype(np.int32)
    return _finish(x, y, rng, test_fraction)


def xor(
    n: int = 500, *, noise: float = 0.0, seed: int = 0, test_fraction: float | None = None
) -> Any:
    r"""The Playground's XOR: class 1 where :math:`x_1 x_2 \ge 0` (first and third quadrants).

    Coordinates are :math:`U(-5, 5)` pushed 0.3 away from each axis; the label uses the point plus
    noise :math:`U(-5, 5) \cdot` noise.

    Args:
        n: Number of points (default 500).
        noise: In ``[0, 0.5]`` (default 0).
        seed: Random seed (default 0).
        test_fraction: If given, also split off this fraction as a test set.

    Returns:
        ``(x, y)``, or the train and test pairs.

    Example:
        >>> x, y = xor(200)
        >>> bool(((x[:, 0] * x[:, 1] >= 0) == (y == 1)).all())  # no noise: exact quadrants
        True
    """
    _check(n, noise, "xor")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-5, 5, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)
    jitter = rng.uniform(-5, 5, (n, 2)) * noise
    p = x + jitter
    y = (p[:, 0] * p[:, 1] >= 0).astype(np.int32)
    return _finish(x, y, rng, test_fraction)


def gaussian(
    n: int = 500, *, noise: float = 0.0, seed: int = 0, test_fraction: float | None = None
) -> Any:
    r"""The Playground's two Gaussians: class 1 around (2, 2), class 0 around (-2, -2).

    Each coordinate is normal with variance :math:`0.5 + 7 \cdot` noise (0.5 to 4 as noise goes
    from 0 to 0.5).

    Args:
        n: Number of points (default 500).
        noise: In ``[0, 0.5]`` (default 0).
        seed: Random seed (default 0).
        test_fraction: If given, also split off this fraction as a test set.

    Returns:
        ``(x, y)``, or the train and test pairs.

    Example:
        >>> x, y = gaussian(1000)
        >>> bool(np.allclose(x[y == 1].mean(axis=0), [2, 2], atol=0.2))
        True
    """
    _check(n, noise, "gaussian")
    rng = np.random.default_rng(seed)
    std = np.sqrt(0.5 + 7.0 * noise)
    half = n // 2
    x = np.concatenate([rng.normal(2, std, (half, 2)), rng.normal(-2, std, (n - half, 2))])
    y = np.concatenate([np.ones(half, np.int32), np.zeros(n - half, np.int32)])
    return _finish(x, y, rng, test_fraction)


def spiral(
    n: int = 500, *, noise: float = 0.0, seed: int = 0, test_fraction: float | None = None
) -> Any:
    r"""The Playground's two interleaved spirals (1.75 turns, radius 0 to 5).

    Point :math:`i` of each arm has radius :math:`5 i / m` and angle
    :math:`1.75 \cdot 2\pi i / m` (plus :math:`\pi` for class 0), with :math:`U(-1, 1) \cdot`
    noise added to each coordinate.

    Args:
        n: Number of points (default 500).
        noise: In ``[0, 0.5]`` (default 0).
        seed: Random seed (default 0).
        test_fraction: If given, also split off this fraction as a test set.

    Returns:
        ``(x, y)``, or the train and test pairs.

    Example:
        >>> x, y = spiral(400)
        >>> float(np.abs(x).max()) < 5
        True
    """
    _check(n, noise, "spiral")
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for count, delta, label in ((n // 2, 0.0, 1), (n - n // 2, np.pi, 0)):
        i = np.arange(count) / count
        r, t = 5 * i, 1.75 * 2 * np.pi * i + delta
        arm = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        parts.append(arm + rng.uniform(-1, 1, (count, 2)) * noise)
        labels.append(np.full(count, label, np.int32))
    return _finish(np.concatenate(parts), np.concatenate(labels), rng, test_fraction)


def regression_plane(
    n: int = 500, *, noise: float = 0.0, seed: int = 0, test_fraction: float | None = None
) -> Any:
    r"""The Playground's regression plane: target :math:`(x_1 + x_2) / 10` on :math:`[-6, 6]^2`.

    The target is computed at the point plus noise :math:`U(-6, 6) \cdot` noise.

    Args:
        n: Number of points (default 500).
        noise: In ``[0, 0.5]`` (default 0).
        seed: Random seed (default 0).
        test_fraction: If given, also split off this fraction as a test set.

    Returns:
        ``(x, y)`` with float32 targets ``y`` of shape ``(n, 1)``, or the train and test pairs.

    Example:
        >>> x, y = regression_plane(50)
        >>> bool(np.allclose(y[:, 0], x.sum(axis=1) / 10, atol=1e-6))
        True
    """
    _check(n, noise, "regression_plane")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-6, 6, (n, 2))
    p = x + rng.uniform(-6, 6, (n, 2)) * noise
    y = (p.sum(axis=1) / 10.0).astype(np.float32)[:, None]
    return _finish(x, y, rng, test_fraction)


_BUMPS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]]
)


def regression_gaussian(
    n: int = 500, *, noise: float = 0.0, seed: int = 0, test_fraction: float | None = None
) -> Any:
    r"""The Playground's six Gaussian bumps of alternating sign on :math:`[-6, 6]^2`.

    Each bump :math:`k` gives :math:`s_k \max(0, 1 - d_k / 2)` at distance :math:`d_k` from its
    centre; the target is the one largest in absolute value (0 far from every bump).

    Args:
        n: Number of points (default 500).
        noise: In ``[0, 0.5]`` (default 0).
        seed: Random seed (default 0).
        test_fraction: If given, also split off this fraction as a test set.

    Returns:
        ``(x, y)`` with float32 targets in ``[-1, 1]`` of shape ``(n, 1)``, or the pairs.

    Example:
        >>> x, y = regression_gaussian(500)
        >>> float(y.min()) >= -1 and float(y.max()) <= 1
        True
    """
    _check(n, noise, "regression_gaussian")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-6, 6, (n, 2))
    p = x + rng.uniform(-6, 6, (n, 2)) * noise
    d = np.hypot(p[:, None, 0] - _BUMPS[None, :, 0], p[:, None, 1] - _BUMPS[None, :, 1])
    values = _BUMPS[None, :, 2] * np.clip(1 - d / 2, 0, 1)
    y = values[np.arange(n), np.argmax(np.abs(values), axis=1)].astype(np.float32)[:, None]
    return _finish(x, y, rng, test_fraction)


def moons(
    n: int = 500, *, noise: float = 0.0, seed: int = 0, test_fraction: float | None = None
) -> Any:
    r"""Two interleaving half circles (as scikit-learn's ``make_moons``).

    Class 0 lies on :math:`(\cos t, \sin t)`, class 1 on :math:`(1 - \cos t, 0.5 - \sin t)`,
    :math:`t \in [0, \pi]` evenly spaced, plus Gaussian noise of standard deviation ``noise``.

    Args:
        n: Number of points (default 500).
        noise: Standard deviation of the Gaussian noise, >= 0 (default 0).
        seed: Random seed (default 0).
        test_fraction: If given, also split off this fraction as a test set.

    Returns:
        ``(x, y)``, or the train and test pairs.

    Example:
        >>> x, y = moons(100)
        >>> x.shape, int(y.sum())
        ((100, 2), 50)
    """
    _check(n, noise, "moons", high=None)
    rng = np.random.default_rng(seed)
    outer, inner = n // 2, n - n // 2
    t_out, t_in = np.linspace(0, np.pi, outer), np.linspace(0, np.pi, inner)
    x = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], 1),
            np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1),
        ]
    )
    x = x + rng.normal(0, noise, x.shape)
    y = np.concatenate([np.zeros(outer, np.int32), np.ones(inner, np.int32)])
    return _finish(x, y, rng, test_fraction)


def blobs(
    n: int = 500,
    *,
    noise: float = 1.0,
    centers: int = 3,
    n_features: int = 2,
    seed: int = 0,
    test_fraction: float | None = None,
) -> Any:
    r"""Isotropic Gaussian blobs, one class per blob (as scikit-learn's ``make_blobs``).

    Centres are drawn uniformly in :math:`[-10, 10]^d`; points of class :math:`k` are
    :math:`N(c_k, \text{noise}^2 I)`; the classes have sizes as equal as possible.

    Args:
        n: Number of points (default 500).
        noise: Standard deviation of each blob, >= 0 (default 1).
        centers: Number of blobs and classes, >= 1 (default 3).
        n_features: Dimension :math:`d` (default 2).
        seed: Random seed (default 0).
        test_fraction: If given, also split off this fraction as a test set.

    Returns:
        ``(x, y)`` with ``x`` of shape ``(n, n_features)``, or the train and test pairs.

    Example:
        >>> x, y = blobs(90, centers=3, n_features=4)
        >>> x.shape, np.bincount(y).tolist()
        ((90, 4), [30, 30, 30])
    """
    _check(n, noise, "blobs", high=None)
    check_positive_int(centers, where="blobs", arg="centers")
    check_positive_int(n_features, where="blobs", arg="n_features")
    rng = np.random.default_rng(seed)
    middle = rng.uniform(-10, 10, (centers, n_features))
    y = np.arange(n, dtype=np.int32) % centers
    x = middle[y] + rng.normal(0, noise, (n, n_features))
    return _finish(x, y, rng, test_fraction)


GENERATORS: dict[str, Callable[..., Any]] = {
    "blobs": blobs,
    "circle": circle,
    "gaussian": gaussian,
    "moons": moons,
    "regression_gaussian": regression_gaussian,
    "regression_plane": regression_plane,
    "spiral": spiral,
    "xor": xor,
}
