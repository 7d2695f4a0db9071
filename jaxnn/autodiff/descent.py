r"""Gradient descent on linear regression: batch, mini-batch and stochastic, and the step size.

The model is :math:`\hat y = w^\top x + b` with the mean squared error
:math:`L = \frac1N \sum_n (\hat y_n - y_n)^2`, whose gradient, written by hand, is

.. math:: \frac{\partial L}{\partial w} = \frac2N \sum_n (\hat y_n - y_n) x_n, \qquad
    \frac{\partial L}{\partial b} = \frac2N \sum_n (\hat y_n - y_n)

*Batch* gradient descent takes one step per epoch on all :math:`N` samples, *mini-batch* one per
batch, *stochastic* one per sample. Too small a learning rate crawls; too large a one overshoots
and, past :math:`2 / \lambda_{\max}` of the loss's Hessian :math:`\frac2N X^\top X`, diverges.

With the mean *absolute* error :math:`\frac1N \sum_n |\hat y_n - y_n|` the gradient is
:math:`\frac1N \sum_n \operatorname{sign}(\hat y_n - y_n) x_n` (a subgradient at the kinks), and
the best line is a different one: :func:`three_points` is a three-point example whose best line
under the absolute error has a total absolute error of 0.5, while the least-squares line has
0.67 (but the smaller squared error).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "Trajectory",
    "best_absolute_line",
    "gradient",
    "gradient_descent",
    "learning_rate_study",
    "mae",
    "mse",
    "three_points",
    "total_absolute_error",
]

_METHODS = ("batch", "minibatch", "sgd")
_LOSSES = ("mse", "mae")


def mse(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> float:
    r""":math:`\frac1N \sum_n (w^\top x_n + b - y_n)^2`."""
    return float(np.mean((x @ w + b - y) ** 2))


def mae(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> float:
    r""":math:`\frac1N \sum_n |w^\top x_n + b - y_n|`."""
    return float(np.mean(np.abs(x @ w + b - y)))


def total_absolute_error(w: Any, b: float, x: Any, y: Any) -> float:
    r""":math:`\sum_n |w^\top x_n + b - y_n|`, the error of a line summed over the points.

    Example:
        >>> x, y = three_points()
        >>> total_absolute_error(1.5, 0.5, x, y)   # the line y = 1.5 x + 0.5
        0.5
    """
    x, y = _data(x, y, "total_absolute_error")
    w = np.atleast_1d(np.asarray(w, float))
    if w.shape != (x.shape[1],):
        raise ValueError(
            f"total_absolute_error: w must have one weight per feature, shape ({x.shape[1]},); "
            f"got {w.shape}."
        )
    return float(np.sum(np.abs(x @ w + b - y)))


def _data(x: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as ``(N, D)`` (a vector is one feature) and ``y`` checked to be ``(N,)``."""
    x = np.asarray(x, float)
    x = x[:, None] if x.ndim == 1 else x
    y = np.asarray(y, float)
    if y.shape != (len(x),):
        raise ValueError(f"{where}: y must have shape ({len(x)},); got {y.shape}.")
    return x, y


def gradient(
    w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray, loss: str = "mse"
) -> tuple[np.ndarray, float]:
    r"""The hand-written gradient of :func:`mse` (or of :func:`mae`) in ``w`` and ``b``.

    For ``loss="mae"`` it is the subgradient :math:`\frac1N \sum_n \operatorname{sign}(r_n)
    x_n` with :math:`\operatorname{sign}(0) = 0` (the kink contributes nothing).

    Example:
        >>> gradient(np.array([0.0]), 0.0, np.array([[1.0], [2.0]]), np.array([1.0, 2.0]))
        (array([-5.]), -3.0)
        >>> gradient(np.array([0.0]), 0.0, np.array([[1.0], [2.0]]), np.array([1.0, 2.0]), "mae")
        (array([-1.5]), -1.0)
    """
    if loss not in _LOSSES:
        raise ValueError(f"gradient: loss must be one of {list(_LOSSES)}; got {loss!r}.")
    residual = x @ w + b - y
    if loss == "mae":
        sign = np.sign(residual)
        return x.T @ sign / len(y), float(sign.mean())
    return 2.0 * x.T @ residual / len(y), float(2.0 * residual.mean())


def three_points() -> tuple[np.ndarray, np.ndarray]:
    r"""Three points, :math:`(1, 2), (2, 4), (3, 5)`, for fitting a line by hand.

    The line through the outer two, :math:`y = 1.5 x + 0.5`, misses the middle one by 0.5: a total
    absolute error of 0.5, the least any line achieves (:func:`best_absolute_line`). The
    least-squares line :math:`y = 1.5 x + 2/3` misses by :math:`1/6, 1/3, 1/6`: 0.67 in total, but
    its squared error is smaller. (The lecture notes' own three points are not in our sources;
    these were chosen to give the lectures' figure of 0.5.)

    Example:
        >>> x, y = three_points()
        >>> x.tolist(), y.tolist()
        ([1.0, 2.0, 3.0], [2.0, 4.0, 5.0])
    """
    return np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 5.0])


def best_absolute_line(x: Any, y: Any) -> tuple[float, float, float]:
    """The line ``(w, b)`` with the least total absolute error on 1-D points, and that error.

    Some best line passes through two of the points (the problem is a linear programme, and its
    optimum lies on a vertex), so trying every pair is exact; fine for the few points of a demo.

    Raises:
        ValueError: For fewer than two distinct ``x`` values or mismatched lengths.

    Example:
        >>> best_absolute_line(*three_points())
        (1.5, 0.5, 0.5)
    """
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    if x.shape != y.shape:
        raise ValueError(
            f"best_absolute_line: x and y must have the same length; got {len(x)} and {len(y)}."
        )
    best: tuple[float, float, float] | None = None
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            if x[i] == x[j]:
                continue
            w = (y[j] - y[i]) / (x[j] - x[i])
            b = y[i] - w * x[i]
            error = float(np.sum(np.abs(w * x + b - y)))
            if best is None or error < best[2] - 1e-12:
                best = (float(w), float(b), error)
    if best is None:
        raise ValueError("best_absolute_line: x needs at least two distinct values.")
    return best


class Trajectory(NamedTuple):
    """The result of :func:`gradient_descent`.

    Attributes:
        weights: Final :math:`w`.
        bias: Final :math:`b`.
        losses: The full-data loss (MSE or MAE) after each epoch (index 0: before training).
        updates: The number of parameter updates made.
    """

    weights: np.ndarray
    bias: float
    losses: list[float]
    updates: int


def gradient_descent(
    x: Any,
    y: Any,
    *,
    method: str = "batch",
    learning_rate: float = 0.1,
    epochs: int = 100,
    batch_size: int = 8,
    seed: int = 0,
    loss: str = "mse",
) -> Trajectory:
    r"""Fits :math:`\hat y = w^\top x + b` by gradient descent on the mean squared error.

    Args:
        x: Inputs ``(N, D)`` (or ``(N,)`` for one feature).
        y: Targets ``(N,)``.
        method: ``"batch"`` (one step per epoch), ``"minibatch"`` (one per ``batch_size`` samples)
            or ``"sgd"`` (one per sample), samples shuffled each epoch with ``seed``.
        learning_rate: The step size :math:`\eta` (default 0.1).
        epochs: Passes over the data (default 100).
        batch_size: For ``"minibatch"`` (default 8).
        seed: Shuffle seed (default 0).
        loss: ``"mse"`` (default) or ``"mae"`` (the mean absolute error, by its subgradient; with
            a constant step it ends within about a step of the best line, not on it).

    Returns:
        A :class:`Trajectory`. The loss may grow without bound for too large a learning rate.

    Raises:
        ValueError: For an unknown method or loss (the known ones listed), mismatched lengths,
            or a learning rate <= 0.

    Example:
        >>> x = np.array([1.0, 2.0, 3.0]); y = 2 * x + 1
        >>> t = gradient_descent(x, y, learning_rate=0.1, epochs=2000)
        >>> [round(float(v), 3) for v in t.weights], round(t.bias, 3), t.updates
        ([2.0], 1.0, 2000)
        >>> t = gradient_descent(*three_points(), learning_rate=0.003, epochs=5000, loss="mae")
        >>> round(total_absolute_error(t.weights, t.bias, *three_points()), 3)
        0.512
    """
    if method not in _METHODS:
        raise ValueError(
            f"gradient_descent: method must be one of {list(_METHODS)}; got {method!r}."
        )
    if loss not in _LOSSES:
        raise ValueError(f"gradient_descent: loss must be one of {list(_LOSSES)}; got {loss!r}.")
    measure = {"mse": mse, "mae": mae}[loss]
    x, y = _data(x, y, "gradient_descent")
    if not learning_rate > 0:
        raise ValueError(f"gradient_descent: learning_rate must be > 0; got {learning_rate}.")
    size = {"batch": len(x), "minibatch": batch_size, "sgd": 1}[method]
    rng = np.random.default_rng(seed)
    w, b, updates = np.zeros(x.shape[1]), 0.0, 0
    losses = [measure(w, b, x, y)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(epochs):
            order = np.arange(len(x)) if method == "batch" else rng.permutation(len(x))
            for start in range(0, len(x), size):
                rows = order[start : start + size]
                gw, gb = gradient(w, b, x[rows], y[rows], loss)
                w, b, updates = w - learning_rate * gw, b - learning_rate * gb, updates + 1
            losses.append(measure(w, b, x, y))
    return Trajectory(w, b, losses, updates)


def learning_rate_study(
    x: Any,
    y: Any,
    rates: tuple[float, ...] = (0.001, 0.1, 1.1),
    *,
    epochs: int = 50,
    loss: str = "mse",
) -> dict[float, list[float]]:
    """Batch gradient descent's loss (``"mse"`` or ``"mae"``) per epoch for each learning rate.

    Example:
        >>> x = np.linspace(-1, 1, 20); y = 3 * x - 1
        >>> study = learning_rate_study(x, y, (0.001, 0.3, 1.5), epochs=30)
        >>> [round(losses[-1] / losses[0], 2) for losses in study.values()][:2]
        [0.94, 0.0]
        >>> study[1.5][-1] > study[1.5][0]  # too large: it diverges
        True
    """
    return {
        r: gradient_descent(x, y, learning_rate=r, epochs=epochs, loss=loss).losses for r in rates
    }
