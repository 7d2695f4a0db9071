r"""Multi-head scaled dot-product attention (Vaswani et al. 2017), self and cross.

For each head :math:`h` with projections :math:`W^Q_h, W^K_h` (``key_dim`` :math:`d_k` columns)
and :math:`W^V_h` (``value_dim`` columns):

.. math:: \mathrm{head}_h = \mathrm{softmax}\!\left(\frac{(Q W^Q_h)(K W^K_h)^\top}{\sqrt{d_k}}
    + M\right) (V W^V_h), \qquad y = [\mathrm{head}_1, \dots, \mathrm{head}_H]\, W^O

where :math:`M` is 0 where attention is allowed and :math:`-\infty` where the mask forbids it (the
causal mask forbids keys after the query's position). A query row whose every key is masked gets
uniform weights (the finite minimum stands in for :math:`-\infty`), as Keras does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn import initializers
from jaxnn.core import Layer, as_shape, check_key, check_positive_int
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["MultiHeadAttention", "attention_weights"]

_KEYS = ("query", "value", "key", "mask")


def attention_weights(q: Array, k: Array, mask: Array | None = None) -> Array:
    r"""Softmax weights ``(N, H, T_q, T_k)`` from projected ``q (N, T_q, H, d)`` and ``k``.

    Example:
        >>> import jax.numpy as jnp
        >>> q = k = jnp.ones((1, 2, 1, 4))
        >>> attention_weights(q, k)[0, 0].tolist()
        [[0.5, 0.5], [0.5, 0.5]]
    """
    logits = jnp.einsum("nqhd,nkhd->nhqk", q, k) / math.sqrt(q.shape[-1])
    if mask is not None:
        logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
    return jax.nn.softmax(logits, axis=-1)


def _split(x: Any, where: str) -> dict[str, Any]:
    """``x`` as a dict with query, value, key (default value) and mask (default None)."""
    if not isinstance(x, Mapping):
        return {"query": x, "value": x, "key": x, "mask": None}
    unknown = sorted(set(x) - set(_KEYS))
    if unknown or "query" not in x:
        raise ValueError(
            f"{where}: a dict input needs 'query' and may have 'value', 'key' and 'mask'; got keys "
            f"{sorted(x)}."
        )
    value = x.get("value", x["query"])
    return {"query": x["query"], "value": value, "key": x.get("key", value), "mask": x.get("mask")}


def MultiHeadAttention(
    num_heads: int,
    key_dim: int,
    *,
    value_dim: int | None = None,
    output_dim: int | None = None,
    causal: bool = False,
    dropout: float = 0.0,
    use_bias: bool = True,
    kernel_init: Any = "glorot_uniform",
    name: str = "multi_head_attention",
) -> Layer:
    r"""Multi-head attention; self-attention on an array, cross-attention on a dict.

    Inputs: an array ``(N, T, D)`` attends to itself. A dict ``{"query": (N, T_q, D_q),
    "value": (N, T_k, D_v), "key": (N, T_k, D_k), "mask": ...}`` attends from the query to the
    value (``key`` defaults to ``value``, ``value`` to ``query``). ``mask`` is boolean, True where
    attention is allowed: ``(N, T_k)`` (padded keys), ``(T_q, T_k)`` or ``(N, T_q, T_k)``.

    Args:
        num_heads: :math:`H`.
        key_dim: Size of each head's queries and keys, :math:`d_k`.
        value_dim: Size of each head's values (default ``key_dim``).
        output_dim: Output features (default: the query's features).
        causal: Forbid each query position from attending to later key positions (the keys must
            be as long as the queries).
        dropout: Rate of dropout on the attention weights in training (needs a key).
        use_bias: Biases on the four projections (default ``True``).
        kernel_init: Initializer of the projection kernels (default ``"glorot_uniform"``).
        name: The layer's name (default ``"multi_head_attention"``).

    Returns:
        A :class:`~jaxnn.Layer` with params ``query/key/value`` (``{"w": (D, H, d), "b": (H, d)}``)
        and ``output`` (``{"w": (H, d_v, D_out), "b": (D_out,)}``); output ``(N, T_q, D_out)``.

    Raises:
        ValueError: For sizes below 1, a dropout rate outside [0, 1), inputs that are not
            ``(N, T, D)``, batch sizes or key/value lengths that disagree, a mask of the wrong
            shape, or a causal mask with keys and queries of different lengths.

    Example:
        >>> import jax
        >>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
        >>> out_shape, params, _ = mha.init(jax.random.key(0), (-1, 5, 8))
        >>> out_shape, params["query"]["w"].shape
        ((-1, 5, 8), (8, 2, 4))
    """
    where = f"MultiHeadAttention '{name}'"
    check_positive_int(num_heads, where=where, arg="num_heads")
    check_positive_int(key_dim, where=where, arg="key_dim")
    v_dim = key_dim if value_dim is None else value_dim
    check_positive_int(v_dim, where=where, arg="value_dim")
    if output_dim is not None:
        check_positive_int(output_dim, where=where, arg="output_dim")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{where}: dropout must be in [0, 1); got {dropout!r}.")
    w_init = initializers.get(kernel_init, where=f"{where} kernel_init")

    def shapes(parts: dict[str, Any]) -> dict[str, Shape]:
        out: dict[str, Shape] = {}
        for part in ("query", "value", "key"):
            dims = getattr(parts[part], "shape", parts[part])
            if isinstance(dims, tuple):  # a symbolic batch (jax.export) checks as unknown, -1
                dims = tuple(d if isinstance(d, int) else -1 for d in dims)
            shape = as_shape(dims, where=f"{where} {part}")
            if len(shape) != 3 or shape[-1] < 1:
                raise ValueError(
                    f"{where}: the {part} must be (N, T, D) with a batch axis and known D; got "
                    f"{shape}."
                )
            out[part] = shape
        q, k, v = out["query"], out["key"], out["value"]
        if k[1] != v[1] and -1 not in (k[1], v[1]):
            raise ValueError(f"{where}: key and value lengths differ: {k[1]} and {v[1]}.")
        batches = {s[0] for s in out.values()} - {-1}
        if len(batches) > 1:
            raise ValueError(
                f"{where}: query, key and value batch sizes differ: {sorted(batches)}."
            )
        if causal and q[1] != k[1] and -1 not in (q[1], k[1]):
            raise ValueError(
                f"{where}: causal=True needs keys as long as the queries; got {k[1]} keys for "
                f"{q[1]} queries."
            )
        return out

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{where}.init")
        dims = shapes(_split(input_shape, where))
        keys = jax.random.split(key, 4)
        d_out = dims["query"][-1] if output_dim is None else output_dim
        params: Params = {}
        sizes = {"query": key_dim, "key": key_dim, "value": v_dim}
        for k_, (part, size) in zip(keys[:3], sizes.items(), strict=True):
            d_in = dims[part][-1]
            w = w_init(k_, (d_in, num_heads * size), jnp.float32)
            params[part] = {"w": w.reshape(d_in, num_heads, size)}
            if use_bias:
                params[part]["b"] = jnp.zeros((num_heads, size), jnp.float32)
        w = w_init(keys[3], (num_heads * v_dim, d_out), jnp.float32)
        params["output"] = {"w": w.reshape(num_heads, v_dim, d_out)}
        if use_bias:
            params["output"]["b"] = jnp.zeros((d_out,), jnp.float32)
        return (dims["query"][0], dims["query"][1], d_out), params, {}

    def project(p: Params, x: Array) -> Array:
        y = jnp.einsum("ntd,dhk->nthk", x, p["w"])
        return y + p["b"][None, None] if "b" in p else y

    def apply(
        params: Params, state: State, x: Any, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        parts = _split(x, where)
        dims = shapes(parts)
        for part in ("query", "key", "value"):
            expected = params[part]["w"].shape[0]
            if dims[part][-1] != expected:
                raise ValueError(
                    f"{where}: the {part} must have {expected} features (as at init); got shape "
                    f"{dims[part]}."
                )
        n, t_q, t_k = dims["query"][0], dims["query"][1], dims["key"][1]
        mask = parts["mask"]
        if mask is not None:
            mask = jnp.asarray(mask)
            if mask.shape in ((n, t_k),):
                mask = mask[:, None, None, :]
            elif mask.shape == (t_q, t_k):
                mask = mask[None, None]
            elif mask.shape == (n, t_q, t_k):
                mask = mask[:, None]
            else:
                raise ValueError(
                    f"{where}: mask must have shape (N, T_k) = {(n, t_k)}, (T_q, T_k) = "
                    f"{(t_q, t_k)} or (N, T_q, T_k) = {(n, t_q, t_k)}; got {mask.shape}."
                )
            mask = jnp.broadcast_to(mask.astype(bool), (n, 1, t_q, t_k))
        if causal:
            lower = jnp.broadcast_to(jnp.tril(jnp.ones((t_q, t_k), bool))[None, None],
                                     (n, 1, t_q, t_k))  # fmt: skip
            mask = lower if mask is None else mask & lower
        q = project(params["query"], parts["query"])
        k = project(params["key"], parts["key"])
        v = project(params["value"], parts["value"])
        weights = attention_weights(q, k, None if mask is None else jnp.broadcast_to(
            mask, (n, num_heads, t_q, t_k)))  # fmt: skip
        if train and dropout > 0.0:
            if key is None:
                raise ValueError(f"{where}: dropout in training needs a key= at apply.")
            keep = jax.random.bernoulli(key, 1.0 - dropout, weights.shape)
            weights = jnp.where(keep, weights / (1.0 - dropout), 0.0)
        heads = jnp.einsum("nhqk,nkhv->nqhv", weights, v)
        y = jnp.einsum("nqhv,hvo->nqo", heads, params["output"]["w"])
        if use_bias:
            y = y + params["output"]["b"][None, None]
        return y, state

    config = {
        "type": "MultiHeadAttention", "num_heads": num_heads, "key_dim": key_dim,
        "value_dim": v_dim, "output_dim": output_dim, "causal": causal, "dropout": dropout,
        "use_bias": use_bias, "kernel_init": kernel_init, "name": name,
    }  # fmt: skip
    return Layer(init, apply, name, config)
