r"""Transformer building blocks: position embeddings and the pre-norm block.

:func:`PositionalEmbedding` adds a vector for each position :math:`t` to the features of an
``(N, T, D)`` sequence, learned (a table) or sinusoidal (Vaswani et al. 2017, interleaved as in the
paper: sine on even features, cosine on odd ones):

.. math:: y_{n,t} = x_{n,t} + P_t, \qquad P_{t, 2i} = \sin\!\left(t / 10000^{2i/D}\right),
    \quad P_{t, 2i+1} = \cos\!\left(t / 10000^{2i/D}\right)

:func:`TransformerBlock` is the pre-norm block of GPT-2 and ViT (LayerNorm before each branch,
none after the skip), with :math:`\phi` the activation and dropout on each branch's output:

.. math:: h = x + \mathrm{Dropout}(\mathrm{MHA}(\mathrm{LN}_1(x))), \qquad
    y = h + \mathrm{Dropout}(W_2\, \phi(W_1\, \mathrm{LN}_2(h) + b_1) + b_2)

It is built from :func:`~jaxnn.residual`, :func:`~jaxnn.serial`, :func:`LayerNorm`,
:func:`MultiHeadAttention`, :func:`Dense` and :func:`Dropout`, so its params are their readable
tree (``attention/multi_head_attention/query/w``, ``mlp/hidden/w`` ...) and summaries see inside.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxnn import activations, initializers
from jaxnn.combinators import residual, serial
from jaxnn.core import Layer, as_shape, check_key, check_positive_int
from jaxnn.dtypes import compute_in, layer_dtypes
from jaxnn.layers.attention import MultiHeadAttention
from jaxnn.layers.dense import Dense
from jaxnn.layers.dropout import Dropout
from jaxnn.layers.normalization import LayerNorm
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["PositionalEmbedding", "TransformerBlock"]

_KINDS = ("learned", "sinusoidal")


def _sinusoid(t: int, d: int) -> np.ndarray:
    """The paper's table ``(T, D)`` in float64: sin on even features, cos on odd ones."""
    angles = np.arange(t)[:, None] / 10000.0 ** (np.arange(0, d, 2) / d)[None, :]
    table = np.empty((t, d))
    table[:, 0::2], table[:, 1::2] = np.sin(angles), np.cos(angles)
    return table


def _sequence_shape(input_shape: Any, where: str) -> Shape:
    shape = as_shape(input_shape, where=f"{where}.init")
    if len(shape) != 3 or shape[-1] < 1:
        raise ValueError(
            f"{where}: input_shape must be (N, T, D) with a batch axis and a known D; got {shape}."
        )
    return shape


def PositionalEmbedding(
    max_length: int,
    *,
    kind: str = "learned",
    embedding_init: Any = "normal",
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    name: str = "positional_embedding",
) -> Layer:
    r"""Adds a position vector to each position of an ``(N, T, D)`` sequence.

    .. math:: y_{n,t} = x_{n,t} + P_t, \quad 0 \le t < T \le L

    ``kind="learned"`` learns :math:`P` (``max_length`` rows, of which the first :math:`T` are
    used); ``kind="sinusoidal"`` fixes it to the paper's interleaved sines and cosines (module
    docstring), computed in float64 and cast to the input's dtype, with no params.

    Args:
        max_length: :math:`L`, the longest sequence accepted.
        kind: ``"learned"`` (default) or ``"sinusoidal"``.
        embedding_init: Initializer of the learned table (default ``"normal"``:
            :math:`N(0, 0.05^2)`, as :func:`Embedding`); unused when sinusoidal.
        dtype: The dtype it computes in (default ``None``: as the input and the table
            promote); the input and table are cast to it.
        param_dtype: The learned table's dtype (default float32).
        name: The layer's name (default ``"positional_embedding"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: ``(N, T, D)``; y: the same shape.
        - params ``table``: ``(L, D)`` when learned; ``{}`` when sinusoidal. state: ``{}``

    Raises:
        ValueError: For ``max_length`` below 1, an unknown ``kind``, an input that is not
            ``(N, T, D)`` or is longer than ``max_length``, or an odd ``D`` when sinusoidal.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = PositionalEmbedding(16)
        >>> out_shape, params, _ = layer.init(jax.random.key(0), (-1, 10, 4))
        >>> out_shape, jax.tree.map(jnp.shape, params)
        ((-1, 10, 4), {'table': (16, 4)})
        >>> sine = PositionalEmbedding(16, kind="sinusoidal")
        >>> jnp.round(sine.apply({}, {}, jnp.zeros((1, 2, 4)))[0][0], 3)  # P_0, P_1
        Array([[0.   , 1.   , 0.   , 1.   ],
               [0.841, 0.54 , 0.01 , 1.   ]], dtype=float32)

    References:
        Vaswani et al. 2017, "Attention is all you need", section 3.5.
    """
    where = f"PositionalEmbedding '{name}'"
    check_positive_int(max_length, where=where, arg="max_length")
    if kind not in _KINDS:
        raise ValueError(f"{where}: kind must be one of {sorted(_KINDS)}; got {kind!r}.")
    table_init = initializers.get(embedding_init, where=f"{where} embedding_init")
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)

    def check(shape: Shape) -> None:
        if shape[1] > max_length:
            raise ValueError(
                f"{where}: the sequence has T = {shape[1]} positions, more than max_length = "
                f"{max_length}. Build the layer with a larger max_length."
            )
        if kind == "sinusoidal" and shape[-1] % 2:
            raise ValueError(
                f"{where}: kind='sinusoidal' pairs features (2i, 2i + 1), so D must be even; got "
                f"D = {shape[-1]}."
            )

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{where}.init")
        shape = _sequence_shape(input_shape, where)
        check(shape)
        if kind == "sinusoidal":
            return shape, {}, {}
        return shape, {"table": table_init(key, (max_length, shape[-1]), param_dtype)}, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        params, x = compute_in(dtype, params, x)
        d = params["table"].shape[-1] if kind == "learned" else x.shape[-1]
        if x.ndim != 3 or x.shape[-1] != d:
            raise ValueError(f"{where}: x must have shape (N, T, {d}); got {x.shape}.")
        check(x.shape)
        t = x.shape[1]
        if kind == "learned":
            table = params["table"][:t]
        else:
            table = jnp.asarray(_sinusoid(t, d), x.dtype)
        return x + table[None], state

    config = {
        "type": "PositionalEmbedding",
        "max_length": max_length,
        "kind": kind,
        "embedding_init": embedding_init,
        "dtype": dtype,
        "param_dtype": param_dtype,
        "name": name,
    }
    return Layer(init, apply, name, config)


def TransformerBlock(
    num_heads: int,
    *,
    key_dim: int | None = None,
    mlp_ratio: float = 4.0,
    causal: bool = False,
    dropout: float = 0.0,
    activation: str | Callable[[Array], Array] = "gelu",
    rope: bool = False,
    norm_epsilon: float = 1e-5,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    name: str = "transformer_block",
) -> Layer:
    r"""A pre-norm transformer block: self-attention, then an MLP, each with a skip.

    .. math:: h = x + \mathrm{Dropout}(\mathrm{MHA}(\mathrm{LN}(x))), \qquad
        y = h + \mathrm{Dropout}(W_2\, \phi(W_1\, \mathrm{LN}(h) + b_1) + b_2)

    The inner layers are built at ``init`` from the input's :math:`D`:
    ``serial(residual(LayerNorm, MultiHeadAttention, Dropout, name="attention"),
    residual(LayerNorm, Dense(hidden), Dense(D), Dropout, name="mlp"))`` with the MLP's
    ``hidden`` and ``output`` Dense layers; the Dropouts are left out when ``dropout == 0``.

    Args:
        num_heads: :math:`H`.
        key_dim: Size of each head's queries, keys and values (default ``D // num_heads``, which
            needs ``D`` to be a multiple of ``num_heads``).
        mlp_ratio: Hidden width of the MLP as a multiple of ``D``, > 0 (default 4.0; the width is
            ``round(mlp_ratio * D)``).
        causal: Each position attends only to itself and earlier ones (default ``False``).
        dropout: Rate of dropout on the output of each branch in training, in ``[0, 1)``
            (default 0.0); needs a ``key`` at ``apply(train=True)`` when > 0.
        activation: :math:`\phi`, a name or function (default ``"gelu"``, the exact erf form).
        rope: Rotary position embedding on the queries and keys (default ``False``; see
            :func:`MultiHeadAttention`); needs an even ``key_dim``.
        norm_epsilon: The LayerNorms' epsilon, > 0 (default 1e-5).
        dtype: The inner layers' compute dtype (default ``None``: as the input and parameters
            promote; see :mod:`jaxnn.dtypes`).
        param_dtype: The inner layers' parameter dtype (default float32).
        name: The layer's name (default ``"transformer_block"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: ``(N, T, D)``; y: the same shape.
        - params ``attention``: ``layer_norm`` (``gamma``, ``beta``: ``(D,)``) and
          ``multi_head_attention`` (``query/key/value/w``: ``(D, H, d_k)``, ``b``: ``(H, d_k)``;
          ``output/w``: ``(H, d_k, D)``, ``b``: ``(D,)``); ``mlp``: ``layer_norm``,
          ``hidden`` (``w``: ``(D, D_h)``, ``b``: ``(D_h,)``), ``output`` (``w``: ``(D_h, D)``,
          ``b``: ``(D,)``). Each Dropout adds an empty ``dropout`` entry. state: the same tree
          of ``{}``.

    Raises:
        TypeError: For an ``mlp_ratio`` that is not a number, or an activation that is neither a
            name nor a function.
        ValueError: For sizes below 1, ``mlp_ratio <= 0``, ``dropout`` outside ``[0, 1)``,
            ``norm_epsilon <= 0``, ``rope`` with an odd ``key_dim``, an unknown activation, an
            input that is not ``(N, T, D)``, or (default ``key_dim``) a ``D`` that is not a
            multiple of ``num_heads``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> block = TransformerBlock(num_heads=2, causal=True)
        >>> out_shape, params, state = block.init(jax.random.key(0), (-1, 5, 8))
        >>> out_shape, sorted(params), sorted(params["mlp"])
        ((-1, 5, 8), ['attention', 'mlp'], ['hidden', 'layer_norm', 'output'])
        >>> params["attention"]["multi_head_attention"]["query"]["w"].shape  # (D, H, D // H)
        (8, 2, 4)
        >>> block.apply(params, state, jnp.ones((3, 5, 8)))[0].shape
        (3, 5, 8)

    References:
        Xiong et al. 2020, "On layer normalization in the transformer architecture" (pre-norm).
    """
    where = f"TransformerBlock '{name}'"
    check_positive_int(num_heads, where=where, arg="num_heads")
    if key_dim is not None:
        check_positive_int(key_dim, where=where, arg="key_dim")
        if rope and key_dim % 2:
            raise ValueError(f"{where}: rope=True needs an even key_dim; got {key_dim}.")
    if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)):
        raise TypeError(
            f"{where}: mlp_ratio must be a number; got {type(mlp_ratio).__name__} {mlp_ratio!r}."
        )
    if not mlp_ratio > 0:
        raise ValueError(f"{where}: mlp_ratio must be > 0; got {mlp_ratio!r}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{where}: dropout must be in [0, 1); got {dropout!r}.")
    if not norm_epsilon > 0:
        raise ValueError(f"{where}: norm_epsilon must be > 0; got {norm_epsilon!r}.")
    try:  # an unknown name fails here, not at init
        activations.get(activation)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{where}: activation: {error}") from error
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)
    dtypes = {"dtype": dtype, "param_dtype": param_dtype}

    @functools.lru_cache(maxsize=8)
    def body(d: int) -> Layer:
        """The inner layers for ``D = d`` features (cached: the same Layer at init and apply)."""
        if key_dim is None and d % num_heads:
            raise ValueError(
                f"{where}: key_dim defaults to D // num_heads, so D must be a multiple of "
                f"num_heads; got D = {d}, num_heads = {num_heads}. Pass key_dim= explicitly."
            )
        dk = d // num_heads if key_dim is None else key_dim
        if rope and dk % 2:
            raise ValueError(
                f"{where}: rope=True needs an even key_dim; got D // num_heads = {dk}."
            )
        hidden = max(1, round(mlp_ratio * d))
        drop = [Dropout(dropout)] if dropout > 0 else []
        attention = residual(
            LayerNorm(epsilon=norm_epsilon, **dtypes),
            MultiHeadAttention(num_heads, dk, causal=causal, rope=rope, **dtypes),
            *drop,
            name="attention",
        )
        mlp = residual(
            LayerNorm(epsilon=norm_epsilon, **dtypes),
            Dense(hidden, activation=activation, name="hidden", **dtypes),
            Dense(d, name="output", **dtypes),
            *drop,
            name="mlp",
        )
        return serial(attention, mlp, name=name)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{where}.init")
        shape = _sequence_shape(input_shape, where)
        return body(shape[-1]).init(key, shape)

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        d = params["mlp"]["output"]["w"].shape[-1]
        if x.ndim != 3 or x.shape[-1] != d:
            raise ValueError(f"{where}: x must have shape (N, T, {d}) (as at init); got {x.shape}.")
        if train and dropout > 0 and key is None:
            raise ValueError(
                f"{where}: apply(train=True) with dropout={dropout} needs a key; got key=None. "
                f"Pass key=jax.random.key(seed), or train=False for evaluation."
            )
        x = compute_in(dtype, x)  # the residual stream too, not only the branches
        return body(x.shape[-1]).apply(params, state, x, key=key, train=train)

    config = {
        "type": "TransformerBlock", "num_heads": num_heads, "key_dim": key_dim,
        "mlp_ratio": mlp_ratio, "causal": causal, "dropout": dropout, "activation": activation,
        "rope": rope, "norm_epsilon": norm_epsilon, "dtype": dtype, "param_dtype": param_dtype,
        "name": name,
    }  # fmt: skip
    return Layer(init, apply, name, config)
