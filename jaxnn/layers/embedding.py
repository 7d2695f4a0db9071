"""Embedding: integer ids to learned vectors."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jaxnn import initializers
from jaxnn.core import Layer, as_shape, check_key, check_positive_int
from jaxnn.dtypes import compute_in, layer_dtypes
from jaxnn.encoding import check_labels
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["Embedding"]


def Embedding(
    num_embeddings: int,
    features: int,
    *,
    embedding_init: Any = "normal",
    mask_zero: bool = False,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
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
        mask_zero: If True, id 0 is padding: the layer returns ``{"inputs": vectors, "mask":
            ids != 0}``, the dict a recurrent layer takes, so padded sequences need no separate
            mask (Keras' ``mask_zero``). Id 0 still has a row in the table: give
            ``num_embeddings`` = vocabulary + 1.
        dtype: The dtype of the vectors it returns (default ``None``: the table's).
        param_dtype: The table's dtype (default float32).
        name: The layer's name (default ``"embedding"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: integer ids ``(N, ...)``; y: ``(N, ..., D)``, or with ``mask_zero``
          ``{"inputs": (N, ..., D), "mask": (N, ...)}``.
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
        >>> padded = Embedding(10, 4, mask_zero=True)
        >>> padded.init(jax.random.key(0), (-1, 7))[0]
        {'inputs': (-1, 7, 4), 'mask': (-1, 7)}
        >>> out, _ = padded.apply(params, {}, jnp.array([[3, 1, 0, 0]]))
        >>> out["mask"].tolist()
        [[True, True, False, False]]
    """
    where = f"Embedding '{name}'"
    check_positive_int(num_embeddings, where=where, arg="num_embeddings")
    check_positive_int(features, where=where, arg="features")
    table_init = initializers.get(embedding_init, where=f"{where} embedding_init")
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{where}.init")
        shape = as_shape(input_shape, where=f"{where}.init")
        if len(shape) < 1:
            raise ValueError(f"{where}: input_shape must have a batch axis, (N, ...); got {shape}.")
        out: Any = shape + (features,)
        if mask_zero:
            out = {"inputs": out, "mask": shape}
        return out, {"embedding": table_init(key, (num_embeddings, features), param_dtype)}, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Any, State]:
        del key, train
        if not jnp.issubdtype(jnp.asarray(x).dtype, jnp.integer):
            raise TypeError(f"{where}: x must hold integer ids; got dtype {jnp.asarray(x).dtype}.")
        check_labels(x, num_embeddings, where=where, arg="ids")
        y = compute_in(dtype, jnp.take(params["embedding"], x, axis=0, mode="clip"))
        if mask_zero:
            return {"inputs": y, "mask": jnp.asarray(x) != 0}, state
        return y, state

    config = {
        "type": "Embedding",
        "num_embeddings": num_embeddings,
        "features": features,
        "embedding_init": embedding_init,
        "mask_zero": mask_zero,
        "dtype": dtype,
        "param_dtype": param_dtype,
        "name": name,
    }
    return Layer(init, apply, name, config)
