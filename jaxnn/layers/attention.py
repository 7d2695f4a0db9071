r"""Multi-head scaled dot-product attention (Vaswani et al. 2017), self and cross.

For each head :math:`h` with projections :math:`W^Q_h, W^K_h` (``key_dim`` :math:`d_k` columns)
and :math:`W^V_h` (``value_dim`` columns):

.. math:: \mathrm{head}_h = \mathrm{softmax}\!\left(\frac{(Q W^Q_h)(K W^K_h)^\top}{\sqrt{d_k}}
    + M\right) (V W^V_h), \qquad y = [\mathrm{head}_1, \dots, \mathrm{head}_H]\, W^O

where :math:`M` is 0 where attention is allowed and :math:`-\infty` where the mask forbids it (the
causal mask forbids keys after the query's position). A query row whose every key is masked gets
uniform weights (the finite minimum stands in for :math:`-\infty`), as Keras does.

Rotary position embedding (RoPE, Su et al. 2021), with ``rope=True``, rotates each head's
projected query and key at position :math:`p` before the product, pair by pair in the "rotate
half" layout of GPT-NeoX, LLaMA and Keras-hub (feature :math:`i` pairs with :math:`i + d/2`):

.. math:: \theta_i = b^{-2i/d}, \qquad \begin{pmatrix} y_i \\ y_{i + d/2} \end{pmatrix} =
    \begin{pmatrix} \cos p\theta_i & -\sin p\theta_i \\ \sin p\theta_i & \cos p\theta_i
    \end{pmatrix} \begin{pmatrix} x_i \\ x_{i + d/2} \end{pmatrix}, \quad 0 \le i < d/2

A rotation keeps norms, and :math:`\langle R_m q, R_n k\rangle = \langle q, R_{n-m} k\rangle`,
so the logits depend on positions only through :math:`n - m`.

The weights and their product with the values run through :func:`jax.nn.dot_product_attention`
(``implementation=None``: JAX picks the kernel; jax 0.10 always picks XLA, which fills masked
logits with a large finite negative, so a fully masked row is uniform there too). Explicit
einsums (:func:`attention_weights`) remain for what that function does not do: dropout on the
weights in training, a ``value_dim`` different from ``key_dim``, and float64 (it computes the
softmax in float32). A fully masked row is
set to the mean of the values (the uniform weights) after the call, so the behaviour does not
depend on the kernel chosen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn import initializers
from jaxnn.core import Layer, as_shape, check_key, check_positive_int
from jaxnn.dtypes import compute_in, layer_dtypes
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["MultiHeadAttention", "attention_weights", "rotary_embedding"]

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


def rotary_embedding(x: Array, positions: Any, base: float = 10000.0) -> Array:
    r"""Rotates the feature pairs :math:`(i, i + d/2)` of ``x`` by :math:`p\,b^{-2i/d}` (RoPE).

    The rotation of the module docstring, at explicit positions (``jnp.arange(T)`` for a whole
    sequence; ``offset + jnp.arange(T)`` for new tokens after ``offset`` cached ones).

    Args:
        x: Projected queries or keys, ``(N, T, H, d)`` with ``d`` even.
        positions: The position of each of the ``T`` steps, ``(T,)`` or ``(N, T)``, ints or
            floats.
        base: :math:`b > 0`, the base of the wavelengths (default 10000).

    Returns:
        The rotated ``x``, same shape and dtype.

    Raises:
        ValueError: For ``x`` that is not 4-D or has an odd ``d``, ``positions`` of another shape,
            or ``base <= 0``.

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.array([[[[1.0, 0.0]]]])  # one pair: (x_0, x_1) = (1, 0), d = 2
        >>> jnp.round(rotary_embedding(x, jnp.array([1]))[0, 0, 0], 3)  # rotated by 1 radian
        Array([0.54 , 0.841], dtype=float32)
    """
    where = "rotary_embedding"
    if not base > 0:
        raise ValueError(f"{where}: base must be > 0; got {base!r}.")
    if x.ndim != 4 or x.shape[-1] % 2:
        raise ValueError(
            f"{where}: x must be (N, T, H, d) with an even d (features i and i + d/2 pair); got "
            f"shape {x.shape}."
        )
    pos = jnp.asarray(positions)
    t, half = x.shape[1], x.shape[-1] // 2
    if pos.shape not in ((t,), (x.shape[0], t)):
        raise ValueError(
            f"{where}: positions must have shape (T,) = {(t,)} or (N, T) = {(x.shape[0], t)}; "
            f"got {pos.shape}."
        )
    dtype = jnp.promote_types(x.dtype, jnp.float32)
    inv_freq = jnp.asarray(base, dtype) ** (-2.0 * jnp.arange(half, dtype=dtype) / x.shape[-1])
    lead = pos.reshape((1,) * (2 - pos.ndim) + pos.shape)  # (1 or N, T): no -1, T may be 0
    angles = lead.astype(dtype)[..., None, None] * inv_freq[None, None, None]
    cos, sin = jnp.cos(angles), jnp.sin(angles)  # (N or 1, T, 1, d/2)
    x1, x2 = x[..., :half].astype(dtype), x[..., half:].astype(dtype)
    y = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return y.astype(x.dtype)


def _attend(q: Array, k: Array, v: Array, mask: Array | None, causal: bool) -> Array:
    """Heads ``(N, T_q, H, d_v)`` through :func:`jax.nn.dot_product_attention`.

    ``mask`` is the caller's ``(N, 1, T_q, T_k)`` boolean mask without the causal part, which
    goes in as ``is_causal``. Rows with no allowed key get the mean of the values, the uniform
    weights of :func:`attention_weights`, whatever kernel JAX picks.
    """
    heads = jax.nn.dot_product_attention(q, k, v, mask=mask, is_causal=causal)
    if mask is None:  # a causal row always sees its own position: none is fully masked
        return heads
    if causal:
        mask = mask & jnp.tril(jnp.ones(mask.shape[-2:], bool))[None, None]
    blind = jnp.transpose(~jnp.any(mask, axis=-1), (0, 2, 1))[..., None]  # (N, T_q, 1, 1)
    return jnp.where(blind, jnp.mean(v, axis=1, keepdims=True), heads)


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
    rope: bool = False,
    rope_base: float = 10000.0,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
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
        rope: Rotate each head's queries and keys by their positions ``0 .. T - 1`` before the
            product (:func:`rotary_embedding`; default ``False``). Needs an even ``key_dim``.
        rope_base: The RoPE base :math:`b` of the wavelengths, > 0 (default 10000).
        dtype: The dtype it computes in (default ``None``: as the inputs and parameters
            promote); parameters and inputs are cast to it. The softmax runs in float32 (at
            least) either way.
        param_dtype: The parameters' dtype (default float32).
        name: The layer's name (default ``"multi_head_attention"``).

    Returns:
        A :class:`~jaxnn.Layer` with params ``query/key/value`` (``{"w": (D, H, d), "b": (H, d)}``)
        and ``output`` (``{"w": (H, d_v, D_out), "b": (D_out,)}``); output ``(N, T_q, D_out)``.

    Raises:
        ValueError: For sizes below 1, a dropout rate outside [0, 1), ``rope`` with an odd
            ``key_dim`` or ``rope_base <= 0``, inputs that are not
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
    if rope and key_dim % 2:
        raise ValueError(
            f"{where}: rope=True rotates pairs of features (i, i + key_dim/2), so key_dim must be "
            f"even; got {key_dim}."
        )
    if rope and not rope_base > 0:
        raise ValueError(f"{where}: rope_base must be > 0; got {rope_base!r}.")
    w_init = initializers.get(kernel_init, where=f"{where} kernel_init")
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)

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
            w = w_init(k_, (d_in, num_heads * size), param_dtype)
            params[part] = {"w": w.reshape(d_in, num_heads, size)}
            if use_bias:
                params[part]["b"] = jnp.zeros((num_heads, size), param_dtype)
        w = w_init(keys[3], (num_heads * v_dim, d_out), param_dtype)
        params["output"] = {"w": w.reshape(num_heads, v_dim, d_out)}
        if use_bias:
            params["output"]["b"] = jnp.zeros((d_out,), param_dtype)
        return (dims["query"][0], dims["query"][1], d_out), params, {}

    def project(p: Params, x: Array) -> Array:
        y = jnp.einsum("ntd,dhk->nthk", x, p["w"])
        return y + p["b"][None, None] if "b" in p else y

    def explicit(q: Array, k: Array, v: Array, mask: Array | None, key: Any) -> Array:
        """The heads from explicit weights, dropped out with ``key`` unless it is None."""
        n, t_q, t_k = q.shape[0], q.shape[1], k.shape[1]
        if causal:
            lower = jnp.broadcast_to(jnp.tril(jnp.ones((t_q, t_k), bool))[None, None],
                                     (n, 1, t_q, t_k))  # fmt: skip
            mask = lower if mask is None else mask & lower
        weights = attention_weights(q, k, None if mask is None else jnp.broadcast_to(
            mask, (n, num_heads, t_q, t_k)))  # fmt: skip
        if key is not None:
            keep = jax.random.bernoulli(key, 1.0 - dropout, weights.shape)
            weights = jnp.where(keep, weights / (1.0 - dropout), 0.0)
        return jnp.einsum("nhqk,nkhv->nqhv", weights, v)

    def apply(
        params: Params, state: State, x: Any, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        params, parts = compute_in(dtype, params, _split(x, where))
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
        q = project(params["query"], parts["query"])
        k = project(params["key"], parts["key"])
        v = project(params["value"], parts["value"])
        if rope:
            q = rotary_embedding(q, jnp.arange(t_q), rope_base)
            k = rotary_embedding(k, jnp.arange(t_k), rope_base)
        drop = train and dropout > 0.0
        if drop and key is None:
            raise ValueError(f"{where}: dropout in training needs a key= at apply.")
        # The fast path computes the softmax in float32: float64 keeps the explicit one.
        same = v.shape[-1] == k.shape[-1] and q.dtype == k.dtype == v.dtype != jnp.float64
        if not drop and same:
            heads = _attend(q, k, v, mask, causal)
        else:
            heads = explicit(q, k, v, mask, key if drop else None)
        y = jnp.einsum("nqhv,hvo->nqo", heads, params["output"]["w"])
        if use_bias:
            y = y + params["output"]["b"][None, None]
        return y, state

    config = {
        "type": "MultiHeadAttention", "num_heads": num_heads, "key_dim": key_dim,
        "value_dim": v_dim, "output_dim": output_dim, "causal": causal, "dropout": dropout,
        "use_bias": use_bias, "kernel_init": kernel_init, "rope": rope, "rope_base": rope_base,
        "dtype": dtype, "param_dtype": param_dtype, "name": name,
    }  # fmt: skip
    return Layer(init, apply, name, config)
