"""Layers that change the shape of their input: Flatten and Reshape."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from jaxnn.core import Layer, as_shape
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["Flatten", "Reshape"]


def _check_batched(shape: Shape, where: str) -> None:
    if len(shape) < 1:
        raise ValueError(
            f"{where}: input_shape must have a batch axis first, (N, ...); got {shape}."
        )


def Flatten(*, name: str = "flatten") -> Layer:
    r"""Flattens every axis but the batch axis.

    .. math:: y_{n, i} = x_{n, (i_1, \ldots, i_k)} \text{ in row-major (C) order}

    Args:
        name: The layer's name (default ``"flatten"``).

    Returns:
        A :class:`~jaxnn.Layer` with no params and no state.

    Shapes:
        - x: ``(N, d_1, ..., d_k)``; y: ``(N, d_1 * ... * d_k)``. ``(N,)`` becomes ``(N, 1)``.

    Raises:
        ValueError: At ``init``, if a non-batch dimension is unknown (``-1``).

    Example:
        >>> import jax
        >>> Flatten().init(jax.random.key(0), (-1, 28, 28, 1))[0]
        (-1, 784)
    """
    where = f"Flatten '{name}'"

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # nothing to draw
        shape = as_shape(input_shape, where=f"{where}.init")
        _check_batched(shape, where)
        if -1 in shape[1:]:
            raise ValueError(f"{where}: every axis but the batch axis must be known; got {shape}.")
        return (shape[0], math.prod(shape[1:])), {}, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del params, key, train
        return x.reshape(x.shape[0], -1), state

    return Layer(init, apply, name, {"type": "Flatten", "name": name})


def _resolve(target: Shape, size: int, where: str, shape: Shape) -> Shape:
    """``target`` with its one ``-1`` filled in so that its product is ``size``."""
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if known == 0 or size % known:
            raise ValueError(
                f"{where}: cannot reshape input {shape} ({size} values per sample) to "
                f"{target}; {size} is not a multiple of {known}."
            )
        return tuple(size // known if d == -1 else d for d in target)
    if known != size:
        raise ValueError(
            f"{where}: cannot reshape input {shape} ({size} values per sample) to {target} "
            f"({known} values)."
        )
    return target


def Reshape(target_shape: Sequence[int], *, name: str = "reshape") -> Layer:
    r"""Reshapes each sample to ``target_shape``, keeping the batch axis (as Keras' ``Reshape``).

    .. math:: y_n = \operatorname{reshape}(x_n, \text{target\_shape})

    Args:
        target_shape: The shape of one sample, without the batch axis; one entry may be ``-1``.
        name: The layer's name (default ``"reshape"``).

    Returns:
        A :class:`~jaxnn.Layer` with no params and no state.

    Shapes:
        - x: ``(N, d_1, ..., d_k)``; y: ``(N, *target_shape)``, with the same number of values.

    Raises:
        ValueError: For more than one ``-1`` or a non-positive entry (at construction), or sizes
            that do not match (at ``init``).

    Example:
        >>> import jax
        >>> Reshape((28, 28, 1)).init(jax.random.key(0), (-1, 784))[0]
        (-1, 28, 28, 1)
    """
    where = f"Reshape '{name}'"
    target = as_shape(tuple(target_shape), where=where)
    if target.count(-1) > 1 or 0 in target:
        raise ValueError(
            f"{where}: target_shape may hold at most one -1 and no zeros; got {target}."
        )

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # nothing to draw
        shape = as_shape(input_shape, where=f"{where}.init")
        _check_batched(shape, where)
        if -1 in shape[1:]:
            raise ValueError(f"{where}: every axis but the batch axis must be known; got {shape}.")
        return (shape[0],) + _resolve(target, math.prod(shape[1:]), where, shape), {}, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del params, key, train
        return x.reshape((x.shape[0],) + target), state

    return Layer(init, apply, name, {"type": "Reshape", "target_shape": list(target), "name": name})
