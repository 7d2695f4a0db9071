"""Embedding: integer ids to learned vectors."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jaxnn import initializers
from jaxnn.core import Layer, as_shape, check_key, check_positive_int
from jaxnn.encoding import check_labels
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["Embedding"]


def Embedding(
    num_embeddings: int,
    features: int,
    *,
    embedding_init: Any = "normal",
    dtype: Any = jnp.float32,
    name: str = "embedding",
) -> Layer:
    r"""Looks up a learned vector for each integer id.

    .. math:: y_{n, t} = E_{x_{n, t}}

    Ids are checked against ``[0, num_embeddings)`` when they are concrete (outside ``jit``), with
    the bad values listed. Inside ``jit`` values cannot be checked: an out-of-range id is clamped
    to the nearest valid row (``jnp.take`` with ``mode="clip"``), never wrapped.

    Args:
        num_embeddings: :math:`V`, the number of ids.
        features: :math:`D`, the vector length.
        embedding_init: Initializer of the table (default ``"normal"``: :math:`N(0, 0.05^2)`).
        dtype: Parameter dtype (default float32).
        name: The layer's name (default ``"embedding"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: integer ids ``(N, ...)``; y: ``(N, ..., D)``.
        - params ``embedding``: ``(V, D)``.

    Raises:
        ValueError: For ids out of range (outside ``jit``) or sizes below 1.
        TypeError: For non-integer ids.

    Example:
        >>> import jax
        >>> layer = Embedding(10, 4)
        >>> out_shape, params, _ = layer.init(jax.random.key(0), (-1, 7))
        >>> out_shape, params["embedding"].shape
        ((-1, 7, 4), (10, 4))
    """
    where = f"Embedding '{name}'"
    check_positive_int(num_embeddings, where=where, arg="num_embeddings")
    check_positive_int(features, where=where, arg="features")
    table_init = initializers.get(embedding_init, where=f"{where} embedding_init")

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{where}.init")
        shape = as_shape(input_shape, where=f"{where}.init")
        if len(shape) < 1:
            raise ValueError(f"{where}: input_shape must have a batch axis, (N, ...); got {shape}.")
        return (
            shape + (features,),
            {"embedding": table_init(key, (num_embeddings, features), dtype)},
            {},
        )

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        if not jnp.issubdtype(jnp.asarray(x).dtype, jnp.integer):
            raise TypeError(f"{where}: x must hold integer ids; got dtype {jnp.asarray(x).dtype}.")
        check_labels(x, num_embeddings, where=where, arg="ids")
        return jnp.take(params["embedding"], x, axis=0, mode="clip"), state

    config = {
        "type": "Embedding",
        "num_embeddings": num_embeddings,
        "features": features,
        "name": name,
    }
    return Layer(init, apply, name, config)
