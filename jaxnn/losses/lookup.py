"""Losses by name, Keras spellings included."""

from __future__ import annotations

from collections.abc import Callable

from jaxnn.core import lookup
from jaxnn.losses.binary import binary_cross_entropy, hinge, sigmoid_binary_cross_entropy
from jaxnn.losses.categorical import (
    categorical_cross_entropy,
    kl_divergence,
    softmax_cross_entropy,
)
from jaxnn.losses.regression import huber, mae, mse
from jaxnn.types import Array

__all__ = ["get", "names"]

_BY_NAME: dict[str, Callable[..., Array]] = {
    "mse": mse,
    "mean_squared_error": mse,
    "mae": mae,
    "mean_absolute_error": mae,
    "huber": huber,
    "sigmoid_binary_cross_entropy": sigmoid_binary_cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
    "binary_crossentropy": binary_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
    "categorical_cross_entropy": categorical_cross_entropy,
    "categorical_crossentropy": categorical_cross_entropy,
    "sparse_categorical_crossentropy": categorical_cross_entropy,
    "kl_divergence": kl_divergence,
    "kld": kl_divergence,
    "hinge": hinge,
}


def names() -> list[str]:
    """All loss names :func:`get` knows, sorted (Keras spellings included).

    Example:
        >>> "mse" in names() and "sparse_categorical_crossentropy" in names()
        True
    """
    return sorted(_BY_NAME)


def get(loss: str | Callable[..., Array]) -> Callable[..., Array]:
    """Looks up a loss by name; a callable is returned as it is.

    Args:
        loss: A name from :func:`names` (case-insensitive) or a loss function.

    Returns:
        The loss function.

    Raises:
        ValueError: For an unknown name; the message lists the known names.
        TypeError: If ``loss`` is neither a string nor callable.

    Example:
        >>> get("mean_squared_error") is mse
        True
    """
    if callable(loss):
        return loss
    return lookup(_BY_NAME, loss, kind="loss", example="mse")
