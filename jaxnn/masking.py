"""Batch masks: which rows of a padded batch are real, for layers that reduce over the batch.

``fit`` pads a partial last batch to the full batch size (so nothing compiles twice) and gives the
padding rows weight 0. A layer whose output for one row depends on the other rows (``BatchNorm``
in training) must also leave them out: it declares the keyword ``batch_mask`` in its ``apply``,
``apply(params, state, x, *, key=None, train=False, batch_mask=None)``, and receives a boolean
``(N,)`` array, True for the real rows. Every other layer keeps the plain protocol; combinators
pass the mask on with :func:`apply_with_batch_mask`.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxnn.core import Layer
from jaxnn.types import Array, Params, PRNGKey, State

__all__ = ["accepts_batch_mask", "apply_with_batch_mask", "check_batch_mask"]


#: ``apply`` function -> whether it declares ``batch_mask``; weak, so layers can be collected.
_ACCEPTS_BATCH_MASK: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _apply_of(layer_or_apply: Any, where: str) -> Callable:
    apply = layer_or_apply.apply if isinstance(layer_or_apply, Layer) else layer_or_apply
    if not callable(apply):
        raise TypeError(
            f"{where}: expected a jaxnn Layer or its apply function; "
            f"got {type(layer_or_apply).__name__} {layer_or_apply!r}."
        )
    return apply


def _declares_batch_mask(apply: Callable) -> bool:
    try:
        parameters = inspect.signature(apply).parameters
    except (TypeError, ValueError):  # callables without a signature (builtins) never declare it
        return False
    parameter = parameters.get("batch_mask")
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


def accepts_batch_mask(layer_or_apply: Layer | Callable[..., Any]) -> bool:
    """Whether a layer's ``apply`` declares the keyword argument ``batch_mask``.

    A layer that reduces over the batch axis (``BatchNorm``, and the combinators, which may hold
    one) opts in to padded batches by declaring ``batch_mask`` in its ``apply``; every other
    layer keeps the plain protocol. Only a parameter named ``batch_mask`` counts (``**kwargs``
    does not). The signature is read once per ``apply`` function and cached.

    Args:
        layer_or_apply: A :class:`Layer` or an ``apply`` function.

    Returns:
        ``True`` if ``apply`` can be called with ``batch_mask=...``.

    Raises:
        TypeError: If the argument is neither a :class:`Layer` nor callable.

    Example:
        >>> from jaxnn.layers import BatchNorm, Dense
        >>> accepts_batch_mask(BatchNorm()), accepts_batch_mask(Dense(2))
        (True, False)
        >>> def apply(params, state, x, *, key=None, train=False, batch_mask=None):
        ...     return x, state
        >>> accepts_batch_mask(apply)
        True
    """
    apply = _apply_of(layer_or_apply, "accepts_batch_mask")
    try:
        return _ACCEPTS_BATCH_MASK[apply]
    except (KeyError, TypeError):  # not seen yet, or not weakly referenceable / hashable
        pass
    answer = _declares_batch_mask(apply)
    try:
        _ACCEPTS_BATCH_MASK[apply] = answer
    except TypeError:  # e.g. a callable object without __weakref__: just not cached
        pass
    return answer


def apply_with_batch_mask(
    layer_or_apply: Layer | Callable[..., Any],
    params: Params,
    state: State,
    x: Any,
    *,
    key: PRNGKey | None = None,
    train: bool = False,
    batch_mask: Array | None = None,
) -> tuple[Any, State]:
    """Calls a layer's ``apply``, passing ``batch_mask`` only if the layer accepts it.

    This is how a layer that wraps others (``serial``, ``parallel``, ``residual``) and the
    training step forward the mask: to a child that declares ``batch_mask`` (see
    :func:`accepts_batch_mask`) it is passed, to any other child it is not. With
    ``batch_mask=None`` the call is the plain ``apply(params, state, x, key=key, train=train)``.

    Args:
        layer_or_apply: A :class:`Layer` or an ``apply`` function.
        params: The layer's params.
        state: The layer's state.
        x: The input, batch axis first.
        key: The PRNG key for ``apply`` (default ``None``).
        train: Training mode (default ``False``).
        batch_mask: ``None`` (every row is real, the default) or a boolean ``(N,)`` array, True
            for the real rows of a padded batch.

    Returns:
        ``(y, new_state)`` from ``apply``.

    Raises:
        TypeError: If ``layer_or_apply`` is neither a :class:`Layer` nor callable.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxnn.layers import BatchNorm, Dense
        >>> bn = BatchNorm(momentum=0.0)
        >>> _, params, state = bn.init(jax.random.key(0), (-1, 1))
        >>> x = jnp.array([[1.0], [3.0], [100.0]])  # the last row is padding
        >>> mask = jnp.array([True, True, False])
        >>> y, new_state = apply_with_batch_mask(bn, params, state, x, train=True, batch_mask=mask)
        >>> jnp.round(y[:2, 0], 2).tolist(), new_state["mean"].tolist()
        ([-1.0, 1.0], [2.0])
        >>> dense = Dense(1)  # does not declare batch_mask: called without it
        >>> _, params, state = dense.init(jax.random.key(0), (-1, 1))
        >>> apply_with_batch_mask(dense, params, state, x, batch_mask=mask)[0].shape
        (3, 1)
    """
    apply = _apply_of(layer_or_apply, "apply_with_batch_mask")
    if batch_mask is not None and accepts_batch_mask(apply):
        return apply(params, state, x, key=key, train=train, batch_mask=batch_mask)
    return apply(params, state, x, key=key, train=train)


def check_batch_mask(batch_mask: Any, x: Any, *, where: str) -> None:
    """Raises a clear error unless ``batch_mask`` is ``None`` or a boolean ``(N,)`` array for ``x``.

    ``N`` is the leading axis of ``x`` (of its first leaf, for a dict input). Only shapes and
    dtypes are read, so the check is free under ``jit``.

    Args:
        batch_mask: The mask to check.
        x: The input the mask describes, batch axis first.
        where: Who is asking (the layer), for the message.

    Raises:
        TypeError: If ``batch_mask`` is not a boolean array.
        ValueError: If its shape is not ``(N,)``.

    Example:
        >>> import numpy as np
        >>> check_batch_mask(np.array([True, False]), np.zeros((2, 3)), where="demo")
        >>> check_batch_mask(np.array([True, False]), np.zeros((4, 3)), where="demo")
        Traceback (most recent call last):
        ...
        ValueError: demo: batch_mask must have shape (N,) = (4,), one entry per row of x; got (2,).
    """
    if batch_mask is None:
        return
    leaves = [leaf for leaf in jax.tree.leaves(x) if np.ndim(leaf) >= 1]
    expected = f"(N,) = ({np.shape(leaves[0])[0]},)" if leaves else "(N,)"
    dtype = getattr(batch_mask, "dtype", None)
    if not (isinstance(dtype, np.dtype) and dtype == np.bool_):
        got = (
            f"{type(batch_mask).__name__}"
            if dtype is None
            else f"{dtype} array of shape {tuple(np.shape(batch_mask))}"
        )
        raise TypeError(
            f"{where}: batch_mask must be a boolean array of shape {expected}, True for the real "
            f"rows; got {got}. Convert a 0/1 row mask with mask > 0."
        )
    shape = tuple(np.shape(batch_mask))
    if len(shape) != 1 or (leaves and shape[0] != np.shape(leaves[0])[0]):
        raise ValueError(
            f"{where}: batch_mask must have shape {expected}, one entry per row of x; got {shape}."
        )
