r"""Language models: a character transformer and token-by-token sampling with a key/value cache.

:func:`char_transformer` is a decoder-only (GPT-style) model from jaxnn's layers; it is a plain
:func:`~jaxnn.serial`, so :func:`~jaxnn.fit` trains it and :func:`~jaxnn.save_model` saves it.
:func:`make_sampler` and :func:`sample` generate from it one token at a time,

.. math:: c_{t+1} \sim \mathrm{softmax}\big(z_t / \tau\big) \text{ over the } k
    \text{ largest logits } z_t, \qquad \tau = 0: \; c_{t+1} = \arg\max z_t

With ``use_cache=True`` (the default) each step runs the model on the new token only: every
block keeps the keys and values of the positions before it in a fixed-size cache
``(N, L_cache, H, d_k)``, written with :func:`jax.lax.dynamic_update_slice`, and the decode loop
is one :func:`jax.lax.scan` under one :func:`jax.jit`. The layers have no cache of their own, so
the cached path re-states their math on their params (pre-norm LayerNorm, the
``einsum("ntd,dhk->nthk")`` projections, RoPE at absolute positions, the causal softmax, the
MLP); :func:`cached_logits` shows that it gives the logits of ``model.apply``. With
``use_cache=False`` each step runs ``model.apply`` on the whole (padded) sequence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxnn import activations
from jaxnn.combinators import _unique_names, serial
from jaxnn.core import Layer, check_positive_int
from jaxnn.encoding import check_labels
from jaxnn.layers import Dense, Embedding, LayerNorm, PositionalEmbedding, TransformerBlock
from jaxnn.layers.attention import rotary_embedding
from jaxnn.layers.transformer import _sinusoid
from jaxnn.types import Array, Params, PRNGKey, State

__all__ = ["cached_logits", "char_transformer", "make_sampler", "sample"]

_ROPE_BASE = 10000.0  # TransformerBlock's MultiHeadAttention uses the default base
_STRUCTURE = (
    "serial(Embedding, [PositionalEmbedding], TransformerBlock(causal=True) ..., LayerNorm, "
    "Dense), as char_transformer builds"
)


def char_transformer(
    vocab_size: int,
    *,
    max_length: int = 256,
    width: int = 64,
    num_heads: int = 4,
    layers: int = 2,
    mlp_ratio: float = 4.0,
    dropout: float = 0.0,
    rope: bool = False,
    positions: str = "learned",
    name: str = "char_transformer",
) -> Layer:
    r"""A decoder-only transformer over token ids: next-token logits at every position.

    .. math:: h^0 = E_{x} + P, \quad h^{l} = \mathrm{Block}_l(h^{l-1}), \quad
        z = \mathrm{LN}(h^{L}) W + b

    ``serial(Embedding, PositionalEmbedding, TransformerBlock(causal=True) x layers, LayerNorm,
    Dense(vocab_size))``; with ``rope=True`` there is no position table (the attention rotates
    queries and keys instead) and sequences of any length fit.

    Args:
        vocab_size: :math:`V`, the number of token ids.
        max_length: :math:`L`, the longest sequence the position table covers (default 256);
            unused with ``rope=True``.
        width: :math:`D`, the features per position (default 64), a multiple of ``num_heads``.
        num_heads: :math:`H` (default 4).
        layers: The number of transformer blocks (default 2).
        mlp_ratio: Each block's MLP width as a multiple of ``width`` (default 4.0).
        dropout: Dropout rate on each block's branches in training (default 0.0).
        rope: Rotary position embedding instead of a position table (default ``False``).
        positions: ``"learned"`` (default) or ``"sinusoidal"`` table; unused with ``rope``.
        name: The model's name (default ``"char_transformer"``).

    Returns:
        A :class:`~jaxnn.Layer`: ids ``(N, T)`` to logits ``(N, T, V)``. Its children are named
        ``embedding``, ``positions``, ``block_0`` ... ``block_{layers-1}``, ``norm``, ``logits``.

    Raises:
        ValueError: For sizes below 1 (and the layers' own checks).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = char_transformer(10, max_length=16, width=8, num_heads=2, layers=1)
        >>> out_shape, params, state = model.init(jax.random.key(0), (-1, 12))
        >>> out_shape, sorted(params)
        ((-1, 12, 10), ['block_0', 'embedding', 'logits', 'norm', 'positions'])
    """
    check_positive_int(vocab_size, where="char_transformer", arg="vocab_size")
    check_positive_int(layers, where="char_transformer", arg="layers")
    body: list[Any] = [Embedding(vocab_size, width, name="embedding")]
    if not rope:
        body.append(PositionalEmbedding(max_length, kind=positions, name="positions"))
    for i in range(layers):
        body.append(
            TransformerBlock(
                num_heads,
                mlp_ratio=mlp_ratio,
                causal=True,
                dropout=dropout,
                rope=rope,
                name=f"block_{i}",
            )  # fmt: skip
        )
    body += [LayerNorm(epsilon=1e-5, name="norm"), Dense(vocab_size, name="logits")]
    return serial(*body, name=name)


class _Block(NamedTuple):
    name: str
    rope: bool
    epsilon: float
    activation: Any  # a name or a function: hashable either way


class _Decoder(NamedTuple):
    """The cached decoder's reading of a model: its children's names and hyperparameters."""

    embedding: str
    positions: str | None
    kind: str | None
    max_length: int | None
    blocks: tuple[_Block, ...]
    norm: str
    norm_epsilon: float
    head: str
    head_activation: Any


def _decoder(model: Layer, where: str) -> _Decoder:
    """Reads ``model.config``; raises unless it has the shape of :func:`char_transformer`."""
    config = getattr(model, "config", None)
    parts = config.get("layers", []) if isinstance(config, Mapping) else []
    types = [c.get("type") if isinstance(c, Mapping) else None for c in parts]
    if not isinstance(config, Mapping) or config.get("type") != "serial" or len(types) < 3:
        raise ValueError(f"{where}: the model must be {_STRUCTURE}; got config {config!r:.200}.")
    names = _unique_names([c["name"] for c in parts])
    i = 2 if types[1] == "PositionalEmbedding" else 1
    blocks = types[i:-2]
    if (types[0], types[-2], types[-1]) != ("Embedding", "LayerNorm", "Dense") or any(
        t != "TransformerBlock" for t in blocks
    ):
        raise ValueError(f"{where}: the model must be {_STRUCTURE}; got layer types {types}.")
    for c in parts[i:-2]:
        if not c["causal"] or c["key_dim"] is not None:
            raise ValueError(
                f"{where}: block {c['name']!r} has causal={c['causal']}, key_dim={c['key_dim']}; "
                f"cached decoding needs causal=True and the default key_dim."
            )
    if parts[0]["mask_zero"]:
        raise ValueError(f"{where}: the Embedding must have mask_zero=False.")
    pos = parts[1] if i == 2 else None
    return _Decoder(
        names[0],
        names[1] if pos else None,
        pos["kind"] if pos else None,
        pos["max_length"] if pos else None,
        tuple(
            _Block(n, c["rope"], c["norm_epsilon"], c["activation"])
            for n, c in zip(names[i:-2], parts[i:-2], strict=True)
        ),
        names[-2],
        parts[-2]["epsilon"],
        names[-1],
        parts[-1]["activation"],
    )


def _lead(v: Array, like: Array) -> Array:
    """``v (D,)`` with leading axes of size 1 to the rank of ``like`` (no rank promotion)."""
    return v.reshape((1,) * (like.ndim - v.ndim) + v.shape)


def _layer_norm(p: Params, x: Array, epsilon: float) -> Array:
    mean = jnp.mean(x, axis=-1, keepdims=True)
    y = (x - mean) / jnp.sqrt(jnp.var(x, axis=-1, keepdims=True) + epsilon)
    y = y * _lead(p["gamma"], y) if "gamma" in p else y
    return y + _lead(p["beta"], y) if "beta" in p else y


def _dense(p: Params, x: Array, activation: Any) -> Array:
    y = x @ p["w"]
    y = y + _lead(p["b"], y) if "b" in p else y
    return y if activation is None else activations.get(activation)(y)


def _project(p: Params, x: Array) -> Array:
    y = jnp.einsum("ntd,dhk->nthk", x, p["w"])
    return y + p["b"][None, None] if "b" in p else y


def _attend(
    p: Params, x: Array, cache: tuple[Array, Array], offset: Any, rope: bool
) -> tuple[Array, tuple[Array, Array]]:
    """Causal attention of ``x`` (positions ``offset ..``) to the cache, written first."""
    positions = offset + jnp.arange(x.shape[1])
    q, k, v = (_project(p[part], x) for part in ("query", "key", "value"))
    if rope:
        q, k = (
            rotary_embedding(q, positions, _ROPE_BASE),
            rotary_embedding(k, positions, _ROPE_BASE),
        )
    start = (0, offset, 0, 0)
    keys = jax.lax.dynamic_update_slice(cache[0], k.astype(cache[0].dtype), start)
    values = jax.lax.dynamic_update_slice(cache[1], v.astype(cache[1].dtype), start)
    scores = jnp.einsum("nqhd,nkhd->nhqk", q, keys) / math.sqrt(q.shape[-1])
    allowed = jnp.arange(keys.shape[1])[None, :] <= positions[:, None]  # (T, L_cache)
    scores = jnp.where(allowed[None, None], scores, jnp.finfo(scores.dtype).min)
    weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(values.dtype)
    heads = jnp.einsum("nhqk,nkhv->nqhv", weights, values)
    y = jnp.einsum("nqhv,hvo->nqo", heads, p["output"]["w"])
    return (y + _lead(p["output"]["b"], y) if "b" in p["output"] else y), (keys, values)


def _forward(
    dec: _Decoder, params: Params, cache: tuple, ids: Array, offset: Any
) -> tuple[Array, tuple]:
    """Logits ``(N, T, V)`` of ``ids`` at positions ``offset ..``, and the updated cache."""
    x = jnp.take(params[dec.embedding]["embedding"], ids, axis=0, mode="clip")
    if dec.positions is not None:
        if dec.kind == "learned":
            table = params[dec.positions]["table"]
        else:
            table = jnp.asarray(_sinusoid(cache[0][0].shape[1], x.shape[-1]), x.dtype)
        x = x + jax.lax.dynamic_slice_in_dim(table, offset, ids.shape[1], axis=0)[None]
    new_cache = []
    for block, kv in zip(dec.blocks, cache, strict=True):
        p = params[block.name]
        pa, pm = p["attention"], p["mlp"]
        h = _layer_norm(pa["layer_norm"], x, block.epsilon)
        a, kv = _attend(pa["multi_head_attention"], h, kv, offset, block.rope)
        x = x + a
        h = _layer_norm(pm["layer_norm"], x, block.epsilon)
        x = x + _dense(pm["output"], _dense(pm["hidden"], h, block.activation), None)
        new_cache.append(kv)
    x = _layer_norm(params[dec.norm], x, dec.norm_epsilon)
    return _dense(params[dec.head], x, dec.head_activation), tuple(new_cache)


def _empty_cache(dec: _Decoder, params: Params, n: int, length: int) -> tuple:
    """Zero keys and values ``(N, length, H, d_k)`` for every block."""
    cache = []
    for block in dec.blocks:
        p = params[block.name]["attention"]["multi_head_attention"]
        _, heads, dk = p["key"]["w"].shape
        dv = p["value"]["w"].shape[-1]
        dtype = p["key"]["w"].dtype
        cache.append(
            (jnp.zeros((n, length, heads, dk), dtype), jnp.zeros((n, length, heads, dv), dtype))
        )
    return tuple(cache)


def _prompt(prompt_ids: Any, where: str) -> Array:
    """The prompt as ``(N, P)`` ids, P >= 1."""
    ids = jnp.asarray(prompt_ids)
    if not jnp.issubdtype(ids.dtype, jnp.integer) or ids.ndim not in (1, 2) or ids.shape[-1] < 1:
        raise ValueError(
            f"{where}: prompt_ids must be integer ids of shape (P,) or (N, P) with P >= 1; got "
            f"{ids.dtype} {ids.shape}."
        )
    return ids.reshape(-1, ids.shape[-1])


def _check_fits(dec: _Decoder, p: int, steps: int, where: str) -> None:
    if dec.max_length is None:
        return
    if p > dec.max_length:
        raise ValueError(
            f"{where}: the prompt has {p} tokens, more than the model's max_length = "
            f"{dec.max_length} (its position table). Shorten the prompt, e.g. prompt_ids[..., "
            f"-{dec.max_length}:]."
        )
    if p + steps > dec.max_length:
        raise ValueError(
            f"{where}: {p} prompt tokens + steps={steps} = {p + steps} positions, more than the "
            f"model's max_length = {dec.max_length}; give steps <= {dec.max_length - p}."
        )


def cached_logits(model: Layer, params: Params, ids: Any, *, prefill: int = 0) -> Array:
    """The logits of ``ids`` through the key/value cache: ``prefill`` tokens, then one at a time.

    They equal ``model.apply(params, state, ids)[0]`` up to float rounding; this is the check
    that the cached decoder re-states the layers' math.

    Args:
        model: A model shaped like :func:`char_transformer`'s.
        params: Its params.
        ids: Token ids ``(N, T)``.
        prefill: How many leading tokens go through the cache in one call (default 0).

    Returns:
        Logits ``(N, T, V)``.

    Raises:
        ValueError: For a model of another shape, a sequence longer than the position table, or
            ``prefill`` outside ``[0, T]``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = char_transformer(10, max_length=8, width=8, num_heads=2, layers=1)
        >>> _, params, state = model.init(jax.random.key(0), (-1, 8))
        >>> ids = jnp.array([[1, 4, 2, 7, 3]])
        >>> full = model.apply(params, state, ids)[0]
        >>> bool(jnp.allclose(cached_logits(model, params, ids), full, atol=1e-5))
        True
    """
    where = "cached_logits"
    dec, ids = _decoder(model, where), _prompt(ids, where)
    n, t = ids.shape
    _check_fits(dec, t, 0, where)
    if isinstance(prefill, bool) or not isinstance(prefill, int) or not 0 <= prefill <= t:
        raise ValueError(f"{where}: prefill must be an int in [0, {t}]; got {prefill!r}.")

    @jax.jit
    def run(params: Params, ids: Array) -> Array:
        cache = _empty_cache(dec, params, n, t)
        first, cache = _forward(dec, params, cache, ids[:, :prefill], 0)

        def step(cache: tuple, i: Array) -> tuple[tuple, Array]:
            token = jax.lax.dynamic_slice_in_dim(ids, i, 1, axis=1)
            logits, cache = _forward(dec, params, cache, token, i)
            return cache, logits[:, 0]

        _, rest = jax.lax.scan(step, cache, jnp.arange(prefill, t))
        return jnp.concatenate([first, jnp.swapaxes(rest, 0, 1)], axis=1)

    return run(params, ids)


def _check_sampling(steps: Any, temperature: Any, top_k: Any, where: str) -> None:
    check_positive_int(steps, where=where, arg="steps")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"{where}: temperature must be a number; got {temperature!r}.")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(
            f"{where}: temperature must be a finite number >= 0 (0: greedy); got {temperature!r}."
        )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"{where}: top_k must be None or a positive int; got {top_k!r}.")


def _choose(logits: Array, key: PRNGKey, temperature: float, top_k: int | None) -> Array:
    """Next ids ``(N,)`` from logits ``(N, V)``: argmax at temperature 0, else a draw."""
    if temperature == 0:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    logits = logits.astype(jnp.float32) / temperature
    if top_k is not None:
        kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)


def make_sampler(
    model: Layer,
    *,
    steps: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    use_cache: bool = True,
) -> Callable[[Params, State, Any, PRNGKey], Array]:
    """A jitted ``(params, state, prompt_ids, key) -> ids`` that generates ``steps`` tokens.

    Compiles once per prompt shape; a second call with the same shape reuses the program. The
    arguments are those of :func:`sample`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = char_transformer(10, max_length=16, width=8, num_heads=2, layers=1)
        >>> _, params, state = model.init(jax.random.key(0), (-1, 16))
        >>> generate = make_sampler(model, steps=5, temperature=0.0)
        >>> generate(params, state, jnp.array([[1, 2, 3]]), jax.random.key(1)).shape
        (1, 8)
    """
    where = "make_sampler"
    _check_sampling(steps, temperature, top_k, where)
    dec = _decoder(model, where)

    def run(params: Params, state: State, prompt: Array, key: PRNGKey) -> Array:
        n, p = prompt.shape
        vocab = params[dec.head]["w"].shape[-1]
        if top_k is not None and top_k > vocab:
            raise ValueError(
                f"{where}: top_k must be at most the vocabulary, {vocab}; got {top_k}."
            )
        _check_fits(dec, p, steps, where)
        if use_cache:
            cache = _empty_cache(dec, params, n, p + steps)
            logits, cache = _forward(dec, params, cache, prompt, 0)
            carry: Any = (cache, logits[:, -1])
        else:
            carry = jnp.zeros((n, p + steps), prompt.dtype).at[:, :p].set(prompt)

        def step(carry: Any, i: Array) -> tuple[Any, Array]:
            if use_cache:
                cache, last = carry
            else:
                logits = model.apply(params, state, carry)[0]
                last = jax.lax.dynamic_index_in_dim(logits, p + i - 1, axis=1, keepdims=False)
            token = _choose(last, jax.random.fold_in(key, i), temperature, top_k)
            if not use_cache:
                return jax.lax.dynamic_update_slice(carry, token[:, None], (0, p + i)), token
            logits, cache = _forward(dec, params, cache, token[:, None], p + i)
            return (cache, logits[:, 0]), token

        _, tokens = jax.lax.scan(step, carry, jnp.arange(steps))
        return jnp.concatenate([prompt, jnp.swapaxes(tokens, 0, 1).astype(prompt.dtype)], axis=1)

    jitted = jax.jit(run)

    def generate(params: Params, state: State, prompt_ids: Any, key: PRNGKey) -> Array:
        prompt = _prompt(prompt_ids, where)
        check_labels(prompt_ids, params[dec.head]["w"].shape[-1], where=where, arg="prompt_ids")
        out = jitted(params, state, prompt, key)
        return out if jnp.ndim(prompt_ids) == 2 else out[0]

    return generate


def sample(
    model: Layer,
    params: Params,
    state: State,
    prompt_ids: Any,
    *,
    steps: int,
    key: PRNGKey,
    temperature: float = 1.0,
    top_k: int | None = None,
    use_cache: bool = True,
) -> Array:
    r"""Generates ``steps`` tokens after a prompt, one at a time.

    Each step draws from :math:`\mathrm{softmax}(z / \tau)` of the last position's logits
    :math:`z`, restricted to the ``top_k`` largest; step :math:`i` uses
    ``jax.random.fold_in(key, i)``, so one key gives one sequence, cached or not.

    Args:
        model: A model shaped like :func:`char_transformer`'s (also one from
            :func:`~jaxnn.load_model`).
        params: Its params.
        state: Its state (used by ``use_cache=False``).
        prompt_ids: Token ids ``(P,)`` or ``(N, P)``, ``P >= 1``.
        steps: How many tokens to generate, >= 1.
        key: The key of the draws.
        temperature: :math:`\tau \ge 0` (default 1.0; 0 is greedy: the argmax).
        top_k: Keep only the ``k`` largest logits (default ``None``: all); ``top_k=1`` is greedy.
        use_cache: Decode with the key/value cache (default ``True``); ``False`` reruns the
            whole model on the sequence at every step (the slow reference).

    Returns:
        The prompt followed by the new tokens: ``(P + steps,)`` or ``(N, P + steps)`` int ids.

    Raises:
        ValueError: For a model of another shape, a prompt longer than the model's
            ``max_length`` or ``steps`` that run past it (the message gives the limit), a
            negative or non-finite ``temperature``, a ``top_k`` below 1 or above the vocabulary,
            or prompt ids outside the vocabulary.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> model = char_transformer(10, max_length=16, width=8, num_heads=2, layers=1)
        >>> _, params, state = model.init(jax.random.key(0), (-1, 16))
        >>> ids = sample(model, params, state, jnp.array([1, 2, 3]), steps=4,
        ...              key=jax.random.key(1), temperature=0.0)
        >>> ids.shape, ids[:3].tolist()
        ((7,), [1, 2, 3])
    """
    generate = make_sampler(
        model, steps=steps, temperature=temperature, top_k=top_k, use_cache=use_cache
    )
    return generate(params, state, prompt_ids, key)
