"""An activation function as a named layer."""

from __future__ import annotations

from collections.abc import Callable

from jaxnn import activations
from jaxnn.core import Layer, lift
from jaxnn.types import Array

__all__ = ["Activation"]


def Activation(activation: str | Callable[[Array], Array], *, name: str | None = None) -> Layer:
    r"""Applies an activation function element-wise (or over the last axis for softmax).

    .. math:: y = \phi(x)

    Any callable in a model is already lifted into a layer; ``Activation`` adds lookup by name and
    a config, so that a model can be rebuilt from its description.

    Args:
        activation: A name from :func:`jaxnn.activations.names` (e.g. ``"relu"``) or a function.
        name: The layer's name (default: the activation's name).

    Returns:
        A :class:`~jaxnn.Layer` with no params and no state.

    Shapes:
        - x: any shape ``(N, ...)``; y: the same shape.

    Raises:
        ValueError: For an unknown activation name (the message lists the known ones).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = Activation("relu")
        >>> layer.name, layer.apply({}, {}, jnp.array([[-1.0, 2.0]]))[0]
        ('relu', Array([[0., 2.]], dtype=float32))
    """
    fn = activations.get(activation)
    layer = lift(fn, name=name or (activation.lower() if isinstance(activation, str) else None))
    config = {"type": "Activation", "activation": activation, "name": layer.name}
    return layer._replace(config=config)
