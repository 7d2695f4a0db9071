r"""Gradient descent on linear regression: batch, mini-batch and stochastic, and the step size.

The model is :math:`\hat y = w^\top x + b` with the mean squared error
:math:`L = \frac1N \sum_n (\hat y_n - y_n)^2`, whose gradient, written by hand, is

.. math:: \frac{\partial L}{\partial w} = \frac2N \sum_n (\hat y_n - y_n) x_n, \qquad
    \frac{\partial L}{\partial b} = \frac2N \sum_n (\hat y_n - y_n)

*Batch* gradient descent takes one step per epoch on all :math:`N` samples, *mini-batch* one per
batch, *stochastic* one per sample. Too small a learning rate crawls; too large a one overshoots
and, past :math:`2 / \lambda_{\max}` of the loss's Hessian :math:`\frac2N X^\top X`, diverges.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["Trajectory", "gradient", "gradient_descent", "learning_rate_study", "mse"]

_METHODS = ("batch", "minibatch", "sgd")


def mse(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> float:
    r""":math:`\frac1N \sum_n (w^\top x_n + b - y_n)^2`."""
    return float(np.mean((x @ w + b - y) ** 2))


def gradient(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """The hand-written gradient of :func:`mse` with respect to ``w`` and ``b``.

    Example:
        >>> gradient(np.array([0.0]), 0.0, np.array([[1.0], [2.0]]), np.array([1.0, 2.0]))
        (array([-5.]), -3.0)
    """
    residual = x @ w + b - y
    return 2.0 * x.T @ residual / len(y), float(2.0 * residual.mean())


class Trajectory(NamedTuple):
    """The result of :func:`gradient_descent`.

    Attributes:
        weights: Final :math:`w`.
        bias: Final :math:`b`.
        losses: The full-data loss after each epoch (index 0: before training).
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

    Returns:
        A :class:`Trajectory`. The loss may grow without bound for too large a learning rate.

    Raises:
        ValueError: For an unknown method (the known ones listed), mismatched lengths, or a
            learning rate <= 0.

    Example:
        >>> x = np.array([1.0, 2.0, 3.0]); y = 2 * x + 1
        >>> t = gradient_descent(x, y, learning_rate=0.1, epochs=2000)
        >>> [round(float(v), 3) for v in t.weights], round(t.bias, 3), t.updates
        ([2.0], 1.0, 2000)
    """
    if method not in _METHODS:
        raise ValueError(
            f"gradient_descent: method must be one of {list(_METHODS)}; got {method!r}."
        )
    x = np.asarray(x, float)
    x = x[:, None] if x.ndim == 1 else x
    y = np.asarray(y, float)
    if y.shape != (len(x),):
        raise ValueError(f"gradient_descent: y must have shape ({len(x)},); got {y.shape}.")
    if not learning_rate > 0:
        raise ValueError(f"gradient_descent: learning_rate must be > 0; got {learning_rate}.")
    size = {"batch": len(x), "minibatch": batch_size, "sgd": 1}[method]
    rng = np.random.default_rng(seed)
    w, b, updates = np.zeros(x.shape[1]), 0.0, 0
    losses = [mse(w, b, x, y)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(epochs):
            order = np.arange(len(x)) if method == "batch" else rng.permutation(len(x))
            for start in range(0, len(x), size):
                rows = order[start : start + size]
                gw, gb = gradient(w, b, x[rows], y[rows])
                w, b, updates = w - learning_rate * gw, b - learning_rate * gb, updates + 1
            losses.append(mse(w, b, x, y))
    return Trajectory(w, b, losses, updates)


def learning_rate_study(
    x: Any, y: Any, rates: tuple[float, ...] = (0.001, 0.1, 1.1), *, epochs: int = 50
) -> dict[float, list[float]]:
    """Batch gradient descent's loss per epoch for each learning rate.

    Example:
        >>> x = np.linspace(-1, 1, 20); y = 3 * x - 1
        >>> study = learning_rate_study(x, y, (0.001, 0.3, 1.5), epochs=30)
        >>> [round(losses[-1] / losses[0], 2) for losses in study.values()][:2]
        [0.94, 0.0]
        >>> study[1.5][-1] > study[1.5][0]  # too large: it diverges
        True
    """
    return {r: gradient_descent(x, y, learning_rate=r, epochs=epochs).losses for r in rates}
