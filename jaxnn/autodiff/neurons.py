r"""The neurons of the lectures: McCulloch-Pitts units and Rosenblatt's perceptron rule.

A McCulloch-Pitts unit fires when the weighted sum of its binary inputs reaches a threshold,

.. math:: y = [\textstyle\sum_i w_i x_i \ge \theta],

which is enough for AND, OR and NOT, but not for XOR: XOR needs a hidden layer.

Rosenblatt's perceptron learns the weights of such a unit (labels in {0, 1}, bias as weight 0):

.. math:: \hat y = [w \cdot x + b \ge 0], \qquad w \leftarrow w + \eta (y - \hat y) x, \quad
    b \leftarrow b + \eta (y - \hat y)

It changes nothing on a correct prediction, so it stops once every sample is right, and on
linearly separable data it provably gets there in finitely many updates (Novikoff). On XOR no
line separates the classes: :math:`b < 0`, :math:`w_1 + b \ge 0`, :math:`w_2 + b \ge 0` and
:math:`w_1 + w_2 + b < 0` add up to :math:`0 < 0`, so the rule never stops making mistakes. The
step has no useful gradient (zero almost everywhere), which is why this rule and not gradient
descent trains it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["AND", "NOT", "OR", "Perceptron", "mcculloch_pitts", "perceptron_train", "xor_network"]


def mcculloch_pitts(x: Any, weights: Any, threshold: float) -> np.ndarray:
    r"""A McCulloch-Pitts threshold unit: :math:`y = [\sum_i w_i x_i \ge \theta]`.

    Args:
        x: Binary inputs, ``(N, D)``.
        weights: ``(D,)``; +1 excitatory, -1 inhibitory in the classic unit.
        threshold: :math:`\theta`.

    Returns:
        ``(N,)`` int outputs in {0, 1}.

    Example:
        >>> mcculloch_pitts([[0, 0], [0, 1], [1, 0], [1, 1]], [1, 1], 2).tolist()  # AND
        [0, 0, 0, 1]
    """
    x, weights = np.asarray(x, float), np.asarray(weights, float)
    if x.ndim != 2 or weights.shape != (x.shape[1],):
        raise ValueError(
            f"mcculloch_pitts: x must be (N, D) and weights (D,); got {x.shape} and "
            f"{weights.shape}."
        )
    return (x @ weights >= threshold).astype(int)


def AND(x: Any) -> np.ndarray:  # noqa: N802 - the gate's name
    """AND of two inputs: weights (1, 1), threshold 2.

    Example:
        >>> AND([[0, 0], [0, 1], [1, 0], [1, 1]]).tolist()
        [0, 0, 0, 1]
    """
    return mcculloch_pitts(x, [1, 1], 2)


def OR(x: Any) -> np.ndarray:  # noqa: N802
    """OR of two inputs: weights (1, 1), threshold 1.

    Example:
        >>> OR([[0, 0], [0, 1], [1, 0], [1, 1]]).tolist()
        [0, 1, 1, 1]
    """
    return mcculloch_pitts(x, [1, 1], 1)


def NOT(x: Any) -> np.ndarray:  # noqa: N802
    """NOT of one input: an inhibitory weight -1, threshold 0.

    Example:
        >>> NOT([[0], [1]]).tolist()
        [1, 0]
    """
    return mcculloch_pitts(x, [-1], 0)


def xor_network(x: Any) -> np.ndarray:
    """XOR with one hidden layer of threshold units: AND(OR(x), NAND(x)).

    Example:
        >>> xor_network([[0, 0], [0, 1], [1, 0], [1, 1]]).tolist()
        [0, 1, 1, 0]
    """
    x = np.asarray(x)
    hidden = np.stack([OR(x), NOT(AND(x)[:, None])], axis=1)
    return AND(hidden)


class Perceptron(NamedTuple):
    """A trained perceptron and its record.

    Attributes:
        weights: ``(D,)``.
        bias: The bias.
        errors: Misclassified samples in each epoch.
        converged: Whether an epoch ended with no error.
    """

    weights: np.ndarray
    bias: float
    errors: list[int]
    converged: bool

    def predict(self, x: Any) -> np.ndarray:
        r""":math:`[w \cdot x + b \ge 0]` for inputs ``(N, D)``."""
        return (np.asarray(x, float) @ self.weights + self.bias >= 0).astype(int)


def perceptron_train(
    x: Any, y: Any, *, learning_rate: float = 1.0, epochs: int = 100, seed: int | None = None
) -> Perceptron:
    r"""Trains a perceptron with Rosenblatt's rule, one sample at a time.

    Args:
        x: Inputs ``(N, D)``.
        y: Labels in {0, 1}, ``(N,)``.
        learning_rate: :math:`\eta > 0` (default 1).
        epochs: The most passes over the data (default 100); training stops at the first pass
            without an error.
        seed: If given, visit the samples in a new random order each epoch.

    Returns:
        A :class:`Perceptron` with the per-epoch error counts.

    Raises:
        ValueError: For labels other than 0 and 1, mismatched lengths, or a learning rate <= 0.

    Example:
        >>> x = [[0, 0], [0, 1], [1, 0], [1, 1]]
        >>> p = perceptron_train(x, [0, 0, 0, 1])  # AND: linearly separable
        >>> p.converged, p.predict(x).tolist()
        (True, [0, 0, 0, 1])
        >>> perceptron_train(x, [0, 1, 1, 0], epochs=50).converged  # XOR: never
        False
    """
    x, y = np.asarray(x, float), np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(
            f"perceptron_train: x must be (N, D) and y (N,); got {x.shape} and {y.shape}."
        )
    if not set(np.unique(y).tolist()) <= {0, 1}:
        raise ValueError(f"perceptron_train: labels must be 0 or 1; got {sorted(set(y.tolist()))}.")
    if not learning_rate > 0:
        raise ValueError(f"perceptron_train: learning_rate must be > 0; got {learning_rate}.")
    w, b, errors = np.zeros(x.shape[1]), 0.0, []
    rng = None if seed is None else np.random.default_rng(seed)
    for _ in range(epochs):
        order = np.arange(len(x)) if rng is None else rng.permutation(len(x))
        mistakes = 0
        for i in order:
            delta = y[i] - int(x[i] @ w + b >= 0)
            if delta:
                w, b, mistakes = (
                    w + learning_rate * delta * x[i],
                    b + learning_rate * delta,
                    mistakes + 1,
                )
        errors.append(mistakes)
        if mistakes == 0:
            return Perceptron(w, b, errors, True)
    return Perceptron(w, b, errors, False)
