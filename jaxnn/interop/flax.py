"""Flax models as jaxnn layers: :func:`from_flax` (linen) and :func:`from_nnx` (NNX).

Both return a :class:`~jaxnn.Layer` whose params and state are plain nested dicts of arrays, so a
Flax model composes with jaxnn's layers (``serial(from_flax(mlp), Dense(2))``) and trains with
:func:`jaxnn.fit`:

- **linen**: the module's ``params`` collection becomes ``params``; every other collection
  (``batch_stats``, ...) becomes ``state``, keyed by collection name. ``apply`` calls
  ``module.apply`` and marks the state collections mutable only in training.
- **NNX**: the module is split once into a graph definition and its variables; ``nnx.Param``
  variables become ``params``, all others (``BatchStat``, random streams) ``state``. ``apply``
  merges them into a fresh module, in training or evaluation mode, calls it and splits it again.

A layer that draws random numbers in training (dropout) needs ``key``; it is turned into one key
per random stream with ``fold_in``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import flax
import jax
import jax.numpy as jnp
from flax import linen, nnx, traverse_util

from jaxnn.core import Layer, as_shape, check_key
from jaxnn.types import Array, Params, PRNGKey, State

__all__ = ["from_flax", "from_nnx"]

#: Mode flags that are True in evaluation, so ``train=True`` passes ``False``.
_EVAL_FLAGS = frozenset({"deterministic", "use_running_average"})


def _snake_case(name: str) -> str:
    """``MLP`` -> ``mlp``, ``ConvBlock`` -> ``conv_block``."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _input_spec(input_shape: Any, default_dtype: Any, where: str) -> tuple[tuple[int, ...], Any]:
    """The shape and dtype of the input: an example array gives both, a shape the default dtype."""
    dtype = getattr(input_shape, "dtype", None)
    return as_shape(input_shape, where=where), default_dtype if dtype is None else dtype


def _output_shape(fn: Callable[[Any], Any], shape: tuple[int, ...], dtype: Any) -> Any:
    """``fn``'s output shape(s) by :func:`jax.eval_shape`; a ``-1`` batch is traced at 2 and 3."""

    def at(batch: int) -> Any:
        concrete = tuple(batch if d == -1 else d for d in shape)
        return jax.eval_shape(fn, jax.ShapeDtypeStruct(concrete, dtype))

    if -1 not in shape:
        return jax.tree.map(lambda out: tuple(out.shape), at(1))
    return jax.tree.map(
        lambda a, b: tuple(m if m == n else -1 for m, n in zip(a.shape, b.shape, strict=True)),
        at(2),
        at(3),
    )


def _plain(tree: Any) -> Any:
    """A nested dict with string keys (``FrozenDict`` and integer keys converted)."""
    if isinstance(tree, Mapping):
        return {str(k): _plain(v) for k, v in tree.items()}
    return tree


def _check_linen_args(
    module: Any, train_kwarg: Any, rng_collections: Any, where: str
) -> tuple[str, ...]:
    if not isinstance(module, linen.Module):
        hint = " For a flax.nnx module use from_nnx." if isinstance(module, nnx.Module) else ""
        raise TypeError(
            f"{where}: module must be a flax.linen Module; got {type(module).__name__}.{hint}"
        )
    if train_kwarg is not None and not (
        isinstance(train_kwarg, str) and train_kwarg.isidentifier()
    ):
        raise TypeError(
            f"{where}: train_kwarg must be the name of the module's mode argument, such as "
            f"'train' or 'deterministic', or None; got {train_kwarg!r}."
        )
    if isinstance(rng_collections, str) or not all(isinstance(c, str) for c in rng_collections):
        raise TypeError(
            f"{where}: rng_collections must be a tuple of collection names such as "
            f"('dropout',); got {rng_collections!r}."
        )
    if "params" in rng_collections:
        raise ValueError(
            f"{where}: rng_collections must not hold 'params'; init draws params from its key."
        )
    return tuple(rng_collections)


def from_flax(
    module: linen.Module,
    example_input: Any = None,
    *,
    train_kwarg: str | None = None,
    rng_collections: Sequence[str] = ("dropout",),
    name: str | None = None,
) -> Layer:
    """Wraps a ``flax.linen`` module as a jaxnn layer.

    ``init(key, input_shape)`` runs ``module.init`` on zeros of ``input_shape`` (a ``-1`` batch
    becomes 1) in evaluation mode; the ``params`` collection becomes ``params`` and every other
    collection becomes ``state``, ``{"batch_stats": ...}``. The output shape comes from
    :func:`jax.eval_shape`, with ``-1`` where the input's batch was ``-1``. ``apply`` calls
    ``module.apply({"params": params, **state}, x, rngs=..., mutable=...)``: with a ``key``, each
    collection of ``rng_collections`` gets ``fold_in(key, i)``; with ``train=True`` the state
    collections are mutable and their new values are returned, with ``train=False`` the state
    comes back unchanged.

    Args:
        module: A ``flax.linen.Module`` taking one input.
        example_input: Optional example array (or ``jax.ShapeDtypeStruct``) whose dtype ``init``
            gives the zeros it feeds the module, e.g. integer ids for an ``nn.Embed`` (default
            ``None``: float32). ``init`` also takes an example array in place of a shape.
        train_kwarg: The name of the module's mode argument (default ``None``: none is passed).
            ``"train"`` receives ``train``; ``"deterministic"`` and ``"use_running_average"``
            receive ``not train``.
        rng_collections: The random-number collections the module draws from in training, each
            given its own key (default ``("dropout",)``).
        name: The layer's name (default: the module's class name in snake_case, ``mlp``).

    Returns:
        A :class:`~jaxnn.Layer` (with no config: the module itself is not serialisable).

    Raises:
        TypeError: If ``module`` is not a linen module, or for a malformed ``train_kwarg`` or
            ``rng_collections``.
        ValueError: If ``rng_collections`` holds ``"params"``; at ``apply``, if the module draws
            random numbers and no ``key`` was given.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> import flax.linen as nn
        >>> class MLP(nn.Module):
        ...     @nn.compact
        ...     def __call__(self, x, train: bool = False):
        ...         x = nn.Dense(8)(x)
        ...         x = nn.BatchNorm(use_running_average=not train)(x)
        ...         x = nn.Dropout(0.5, deterministic=not train)(nn.relu(x))
        ...         return nn.Dense(3)(x)
        >>> layer = from_flax(MLP(), train_kwarg="train")
        >>> out_shape, params, state = layer.init(jax.random.key(0), (-1, 4))
        >>> out_shape, sorted(params), sorted(state)
        ((-1, 3), ['BatchNorm_0', 'Dense_0', 'Dense_1'], ['batch_stats'])
        >>> jax.tree.map(jnp.shape, params["Dense_0"])
        {'bias': (8,), 'kernel': (4, 8)}
        >>> x = jnp.ones((2, 4))
        >>> y, new_state = layer.apply(params, state, x, key=jax.random.key(1), train=True)
        >>> y.shape, new_state is state
        ((2, 3), False)
    """
    layer_name = name or _snake_case(type(module).__name__)
    where = f"from_flax '{layer_name}'"
    collections = _check_linen_args(module, train_kwarg, rng_collections, where)
    default_dtype = jnp.float32 if example_input is None else jnp.asarray(example_input).dtype

    def mode(train: bool) -> dict[str, Any]:
        if train_kwarg is None:
            return {}
        return {train_kwarg: (not train) if train_kwarg in _EVAL_FLAGS else train}

    def rngs(key: PRNGKey) -> dict[str, PRNGKey]:
        return {c: jax.random.fold_in(key, i) for i, c in enumerate(collections)}

    def init(key: PRNGKey, input_shape: Any) -> tuple[Any, Params, State]:
        check_key(key, where=f"{where}.init")
        shape, dtype = _input_spec(input_shape, default_dtype, f"{where}.init")
        x = jnp.zeros(tuple(1 if d == -1 else d for d in shape), dtype)
        key_params, key_rest = jax.random.split(key)
        variables = module.init({"params": key_params, **rngs(key_rest)}, x, **mode(False))
        variables = _plain(flax.core.unfreeze(variables))
        out = _output_shape(lambda x: module.apply(variables, x, **mode(False)), shape, dtype)
        params = variables.pop("params", {})
        return out, params, variables

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Any, State]:
        if key is not None:
            check_key(key, where=f"{where}.apply")
        mutable = list(state) if train and state else False
        try:
            out = module.apply(
                {"params": params, **state},
                x,
                rngs=None if key is None else rngs(key),
                mutable=mutable,
                **mode(train),
            )
        except flax.errors.InvalidRngError as error:
            if key is not None:
                raise
            raise ValueError(
                f"{where}: apply(train={train}) needs a key: the module draws random numbers "
                f"({error}). Pass key=jax.random.key(seed), or train=False for evaluation."
            ) from error
        if mutable is False:
            return out, state
        y, updates = out
        return y, {**state, **_plain(flax.core.unfreeze(updates))}

    return Layer(init, apply, layer_name)


# ----------------------------------------------------------------------------------------------
# flax.nnx


def _flat(tree: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    return traverse_util.flatten_dict(dict(tree)) if tree else {}


def _to_nnx_state(template: nnx.State, plain: Any, where: str) -> nnx.State:
    """``template`` (an ``nnx.State``) with its values replaced by those of the plain dict."""
    values = _flat(plain) if isinstance(plain, Mapping) else None
    paths = [(path, tuple(str(p) for p in path), var) for path, var in nnx.to_flat_state(template)]
    if values is None or set(values) != {key for _, key, _ in paths}:
        got = sorted("/".join(k) for k in values) if values is not None else type(plain).__name__
        raise ValueError(
            f"{where}: must be a dict with the module's variables "
            f"{sorted('/'.join(key) for _, key, _ in paths)}; got {got}. Pass what init returned."
        )
    return nnx.from_flat_state([(path, var.replace(values[key])) for path, key, var in paths])


def _nnx_streams(module: nnx.Module) -> tuple[dict[tuple[Any, ...], int], tuple[str, ...]]:
    """Each random stream's path -> its index, and the streams' tags, in a fixed order."""
    streams = [
        (path, node.key.tag)
        for path, node in nnx.iter_graph(module)
        if isinstance(node, nnx.RngStream)
    ]
    order = sorted(streams, key=lambda item: tuple(map(str, item[0])))
    return {path: i for i, (path, _) in enumerate(order)}, tuple(sorted({t for _, t in streams}))


def _reseed(
    module: nnx.Module, key: PRNGKey, index: Mapping[tuple[Any, ...], int], tags: Sequence[str]
) -> None:
    """Gives every random stream of ``module`` its own key ``fold_in(key, i)``."""

    def policy(path: tuple[Any, ...], tag_key: Array, shape: tuple[int, ...]) -> Array:
        del tag_key  # one key per stream, not per tag: two dropouts must not share a mask
        stream_key = jax.random.fold_in(key, index[path])
        return stream_key if shape == () else jax.random.split(stream_key, shape)

    stream_keys: dict[str, Any] = {tag: key for tag in tags}
    nnx.reseed(module, policy=policy, **stream_keys)


def _nnx_mode_graphdef(module: nnx.Module, train: bool) -> Any:
    """The graph definition of ``module`` as ``module.train()`` / ``module.eval()`` set it."""
    flags = {"deterministic": not train, "use_running_average": not train}
    return nnx.graphdef(nnx.with_attributes(module, raise_if_not_found=False, **flags))


def from_nnx(module: nnx.Module, *, name: str | None = None) -> Layer:
    """Wraps a ``flax.nnx`` module as a jaxnn layer.

    The module is split once into its graph definition, its ``nnx.Param`` variables (``params``)
    and every other variable (``state``: ``BatchStat`` running statistics, random streams), both
    as plain nested dicts with string keys (``nnx.to_pure_dict``; list indices become ``"0"``).
    ``apply`` merges them into a fresh module, in training mode (``train=True``: as
    ``module.train()``, ``deterministic=False`` and ``use_running_average=False`` on every
    submodule that has them) or evaluation mode (as ``module.eval()``), calls it on ``x`` and,
    in training, splits it again to return the new state. The module passed in is never changed.

    Randomness: in training each random stream the module holds (``nnx.Dropout(..., rngs=rngs)``)
    is reseeded from ``key``, one ``fold_in(key, i)`` per stream; the streams' stored keys and
    counts are returned unchanged, so the state changes only by what the module updates itself
    (batch statistics).

    Args:
        module: A ``flax.nnx.Module`` called with one input; the modules it uses for dropout
            must hold their random streams (``rngs=``) rather than take them at call time.
        name: The layer's name (default: the class name in snake_case).

    Returns:
        A :class:`~jaxnn.Layer`. Its ``init(key, input_shape)`` returns the module's current
        values; the key is unused (the module was initialised when it was built). The output
        shape comes from :func:`jax.eval_shape`; an example array in place of the shape also sets
        the input dtype (integer ids for an ``nnx.Embed``).

    Raises:
        TypeError: If ``module`` is not an NNX module.
        ValueError: At ``apply``, for params or state whose keys are not the module's, or for
            ``train=True`` without a key when the module holds random streams.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from flax import nnx
        >>> class Block(nnx.Module):
        ...     def __init__(self, rngs):
        ...         self.linear = nnx.Linear(4, 3, rngs=rngs)
        ...         self.norm = nnx.BatchNorm(3, rngs=rngs)
        ...     def __call__(self, x):
        ...         return self.norm(self.linear(x))
        >>> layer = from_nnx(Block(nnx.Rngs(0)))
        >>> out_shape, params, state = layer.init(jax.random.key(0), (-1, 4))  # the key is unused
        >>> out_shape, jax.tree.map(jnp.shape, state)
        ((-1, 3), {'norm': {'mean': (3,), 'var': (3,)}})
        >>> x = jnp.arange(8.0).reshape(2, 4)
        >>> _, new_state = layer.apply(params, state, x, train=True)
        >>> bool(jnp.any(new_state["norm"]["mean"] != 0))  # running mean moved towards the batch's
        True
        >>> layer.apply(params, state, x)[1] is state  # evaluation: the state comes back as it is
        True
    """
    layer_name = name or _snake_case(type(module).__name__)
    where = f"from_nnx '{layer_name}'"
    if not isinstance(module, nnx.Module):
        hint = " For a flax.linen module use from_flax." if isinstance(module, linen.Module) else ""
        raise TypeError(
            f"{where}: module must be a flax.nnx Module; got {type(module).__name__}.{hint}"
        )
    graphdefs = {train: _nnx_mode_graphdef(module, train) for train in (False, True)}
    _, params_template, *rest = nnx.split(module, nnx.Param, ...)
    state_template = rest[0]
    params0, state0 = (_plain(nnx.to_pure_dict(t)) for t in (params_template, state_template))
    rng_paths = set(_flat(_plain(nnx.to_pure_dict(nnx.state(module, nnx.RngState)))))
    stream_index, tags = _nnx_streams(module)

    def call(params: Params, state: State, x: Any, key: PRNGKey | None, train: bool) -> Any:
        p = _to_nnx_state(params_template, params, f"{where}: params")
        s = _to_nnx_state(state_template, state, f"{where}: state")
        live = nnx.merge(graphdefs[train], p, s)
        if train and key is not None and stream_index:
            _reseed(live, key, stream_index, tags)
        return live(x), live

    def init(key: PRNGKey | None, input_shape: Any) -> tuple[Any, Params, State]:
        del key  # the module's variables already exist; init returns them
        shape, dtype = _input_spec(input_shape, jnp.float32, f"{where}.init")
        out = _output_shape(lambda x: call(params0, state0, x, None, False)[0], shape, dtype)
        return out, params0, state0

    def apply(
        params: Params, state: State, x: Any, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Any, State]:
        if key is not None:
            check_key(key, where=f"{where}.apply")
        elif train and stream_index:
            raise ValueError(
                f"{where}: apply(train=True) needs a key: the module holds random streams "
                f"{list(tags)}. Pass key=jax.random.key(seed), or train=False for evaluation."
            )
        y, live = call(params, state, x, key, train)
        if not train:
            return y, state
        new = _flat(_plain(nnx.to_pure_dict(nnx.state(live, nnx.Not(nnx.Param)))))
        old = _flat(state)
        for path in rng_paths:
            new[path] = old[path]
        return y, traverse_util.unflatten_dict(new) if new else {}

    return Layer(init, apply, layer_name)
