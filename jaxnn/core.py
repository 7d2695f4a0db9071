"""The Layer protocol: layers as pairs of pure functions, shapes, keys and lifting.

A layer is a value holding two pure functions::

    init(key, input_shape) -> (output_shape, params, state)
    apply(params, state, x, *, key=None, train=False) -> (y, new_state)

``params`` and ``state`` are nested dicts of arrays (``{}`` when a layer has none). Shapes include
the batch axis, which may be ``-1`` for "any batch size". Every jaxnn layer's ``init`` also takes an
example array in place of a shape. Any callable that is not a :class:`Layer` (``jnp.tanh``,
``jax.nn.relu``, a lambda) is lifted into a parameter-free layer by :func:`lift`; its output shape
comes from :func:`jax.eval_shape`, so nothing runs at ``init``.

The combinators in :mod:`jaxnn.combinators` (``serial``, ``parallel``, ``residual``) build
models from layers.
"""

from __future__ import annotations

import functools
import inspect
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = [
    "Layer",
    "accepts_batch_mask",
    "apply_with_batch_mask",
    "as_layer",
    "as_shape",
    "as_shape_tree",
    "check_batch_mask",
    "check_key",
    "check_positive_int",
    "child_key",
    "expand_to",
    "infer_shape",
    "lift",
    "lookup",
]


class Layer(NamedTuple):
    """A layer: a name and two pure functions, ``init`` and ``apply``.

    Attributes:
        init: ``init(key, input_shape) -> (output_shape, params, state)``. Computes shapes without
            running the model.
        apply: ``apply(params, state, x, *, key=None, train=False) -> (y, new_state)``. With
            ``train=False`` the returned state is the input state. A layer that reduces over
            the batch axis may also declare ``batch_mask=None`` (a boolean ``(N,)`` array, False
            on the padding rows of a partial batch); see :func:`accepts_batch_mask`.
        name: The layer's name; combinators make it unique among siblings and nest its params
            under it.
        config: The constructor's type and arguments, for jaxnn's own layers (``None`` for lifted
            functions and hand-written layers).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxnn import Layer
        >>> def init(key, input_shape):
        ...     return input_shape, {"scale": jnp.ones(input_shape[-1])}, {}
        >>> def apply(params, state, x, *, key=None, train=False):
        ...     return x * params["scale"], state
        >>> scale = Layer(init, apply, "scale")
        >>> out_shape, params, state = scale.init(jax.random.key(0), (-1, 3))
        >>> out_shape, jax.tree.map(jnp.shape, params)
        ((-1, 3), {'scale': (3,)})
    """

    init: Callable[..., tuple[Shape, Params, State]]
    apply: Callable[..., tuple[Array, State]]
    name: str
    config: Mapping[str, Any] | None = None

    def __repr__(self) -> str:
        """Shows the name and config, not the two function objects."""
        if self.config is None:
            return f"Layer(name={self.name!r})"
        return f"Layer(name={self.name!r}, config={dict(self.config)!r})"

    def __hash__(self) -> int:
        """Hashes by identity of the functions, so a Layer can be a static argument of ``jit``."""
        return hash((self.init, self.apply, self.name))


# ----------------------------------------------------------------------------------------------
# Shapes, keys and names


def as_shape(shape_or_example: Any, *, where: str = "init") -> Shape:
    """Returns a shape tuple from a shape or from an example array.

    Args:
        shape_or_example: A sequence of ints (``-1`` for an unknown batch size) or anything with a
            ``.shape`` (a NumPy or JAX array, a ``jax.ShapeDtypeStruct``).
        where: Who is asking, for the error message.

    Returns:
        The shape as a tuple of Python ints.

    Raises:
        TypeError: If the argument is neither a shape nor an array.
        ValueError: If a dimension is negative other than ``-1``.

    Example:
        >>> import numpy as np
        >>> as_shape((-1, 784)), as_shape(np.zeros((32, 28, 28, 1)))
        ((-1, 784), (32, 28, 28, 1))
    """
    dims = getattr(shape_or_example, "shape", shape_or_example)
    if isinstance(dims, (int, np.integer)) or not isinstance(dims, Sequence):
        raise TypeError(
            f"{where}: input_shape must be a tuple of ints such as (-1, 784) or an example array; "
            f"got {type(shape_or_example).__name__} {shape_or_example!r}."
        )
    if not all(isinstance(d, (int, np.integer)) for d in dims):
        raise TypeError(f"{where}: input_shape must contain only ints; got {tuple(dims)!r}.")
    shape = tuple(int(d) for d in dims)
    if any(d < -1 for d in shape):
        raise ValueError(
            f"{where}: input_shape dimensions must be >= 0, or -1 for an unknown batch size; "
            f"got {shape}."
        )
    return shape


def as_shape_tree(shape_or_example: Any, *, where: str = "init") -> Any:
    """:func:`as_shape`, or a dict of them for layers that take dict inputs (masks, attention).

    Example:
        >>> import numpy as np
        >>> as_shape_tree({"inputs": np.zeros((2, 5, 3)), "mask": (2, 5)})
        {'inputs': (2, 5, 3), 'mask': (2, 5)}
    """
    if isinstance(shape_or_example, Mapping):
        return {
            k: None if v is None else as_shape_tree(v, where=f"{where} {k!r}")
            for k, v in shape_or_example.items()
        }
    return as_shape(shape_or_example, where=where)


def check_key(key: Any, *, where: str) -> None:
    """Raises a clear ``TypeError`` unless ``key`` is a JAX PRNG key.

    Both typed keys (``jax.random.key``) and legacy ``uint32[2]`` keys (``jax.random.PRNGKey``)
    are accepted.

    Args:
        key: The object to check.
        where: Who is asking, for the error message.

    Raises:
        TypeError: If ``key`` is not a PRNG key.

    Example:
        >>> import jax
        >>> check_key(jax.random.key(0), where="demo")
        >>> check_key(3, where="demo")
        Traceback (most recent call last):
        ...
        TypeError: demo: key must be a PRNG key from jax.random.key(seed) or \
jax.random.PRNGKey(seed); got int 3.
    """
    dtype = getattr(key, "dtype", None)
    if dtype is not None:
        if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) and np.ndim(key) == 0:
            return
        if dtype == jnp.uint32 and tuple(np.shape(key)) == (2,):
            return
    raise TypeError(
        f"{where}: key must be a PRNG key from jax.random.key(seed) or jax.random.PRNGKey(seed); "
        f"got {type(key).__name__} {key!r}."
    )


def check_positive_int(value: Any, *, where: str, arg: str) -> int:
    """Returns ``value`` if it is an int >= 1, else raises a clear error naming ``arg``.

    Example:
        >>> check_positive_int(3, where="Dense 'dense'", arg="units")
        3
        >>> check_positive_int(0, where="Dense 'dense'", arg="units")
        Traceback (most recent call last):
        ...
        ValueError: Dense 'dense': units must be >= 1; got 0.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{where}: {arg} must be a positive int; got {type(value).__name__} {value!r}."
        )
    if value < 1:
        raise ValueError(f"{where}: {arg} must be >= 1; got {value}.")
    return int(value)


def lookup(
    table: Mapping[str, Any],
    name: Any,
    *,
    kind: str,
    example: str,
    where: str = "",
    alternative: str = "a callable",
) -> Any:
    """Finds ``name`` (case-insensitive) in a table of named functions, with clear errors.

    Args:
        table: Lower-case names to values.
        name: The name asked for.
        kind: What the table holds, for the message (``"activation"``).
        example: A valid name to show when ``name`` is not a string.
        where: Who is asking (a layer and argument), put in front of the message.
        alternative: What else the caller accepts instead of a name, for the message.

    Returns:
        The value stored under ``name``.

    Raises:
        TypeError: If ``name`` is not a string.
        ValueError: For an unknown name; the message lists the known names, sorted.

    Example:
        >>> lookup({"relu": 1, "tanh": 2}, "Tanh", kind="activation", example="relu")
        2
        >>> lookup({"relu": 1, "tanh": 2}, "rleu", kind="activation", example="relu")
        Traceback (most recent call last):
        ...
        ValueError: Unknown activation 'rleu'. Known activations: relu, tanh.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"{where or kind} must be a name such as {example!r} or {alternative}; "
            f"got {type(name).__name__} {name!r}."
        )
    try:
        return table[name.lower()]
    except KeyError:
        unknown = f"{where}: unknown {kind}" if where else f"Unknown {kind}"
        plural = kind + ("es" if kind.endswith("s") else "s")
        raise ValueError(
            f"{unknown} {name!r}. Known {plural}: {', '.join(sorted(table))}."
        ) from None


def child_key(key: PRNGKey | None, index: int) -> PRNGKey | None:
    """Returns child ``index``'s own key, ``fold_in(key, index)``, or ``None`` when ``key`` is.

    Example:
        >>> import jax
        >>> child_key(None, 0) is None
        True
        >>> k = jax.random.key(0)
        >>> first, second = (jax.random.key_data(child_key(k, i)) for i in (0, 1))
        >>> bool((first != second).any())
        True
    """
    return None if key is None else jax.random.fold_in(key, index)


def expand_to(v: Array, ndim: int) -> Array:
    """Prepends unit axes so that ``v`` has ``ndim`` axes, for explicit broadcasting.

    jaxnn code never relies on implicit rank promotion (the tests run with
    ``jax_numpy_rank_promotion="raise"``), so a bias ``(C,)`` meets activations ``(N, ..., C)``
    through this.

    Example:
        >>> expand_to(jnp.ones(3), 3).shape
        (1, 1, 3)
    """
    return jnp.reshape(v, (1,) * (ndim - v.ndim) + v.shape)


# ----------------------------------------------------------------------------------------------
# Batch masks: which rows of a padded batch are real

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


def _name_of(fn: Callable) -> str:
    """A snake_case name for a callable: ``jnp.tanh`` -> ``tanh``, a lambda -> ``lambda``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    raw = getattr(fn, "__name__", None) or type(fn).__name__
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", raw).strip("_").lower()
    return name or "fn"


# ----------------------------------------------------------------------------------------------
# Lifting a plain function


def _eval_shape(fn: Callable, shape: Shape) -> Shape:
    out = jax.eval_shape(fn, jax.ShapeDtypeStruct(shape, jnp.float32))
    if not hasattr(out, "shape"):
        raise TypeError(f"must return one array; returned {type(out).__name__}")
    return tuple(out.shape)


def infer_shape(fn: Callable[[Array], Array], input_shape: Shape) -> Shape:
    """The output shape of ``fn`` for a float32 input of ``input_shape``, without running it.

    A ``-1`` (unknown batch) dimension is traced at two sizes; every output dimension that changes
    with it becomes ``-1``.

    Example:
        >>> import jax.numpy as jnp
        >>> infer_shape(lambda x: x.reshape(x.shape[0], -1), (-1, 4, 5))
        (-1, 20)
    """
    if -1 not in input_shape:
        return _eval_shape(fn, input_shape)
    small = _eval_shape(fn, tuple(2 if d == -1 else d for d in input_shape))
    large = _eval_shape(fn, tuple(3 if d == -1 else d for d in input_shape))
    return tuple(a if a == b else -1 for a, b in zip(small, large, strict=True))


def lift(fn: Callable[[Array], Array], *, name: str | None = None) -> Layer:
    """Makes a parameter-free layer from any array function.

    .. math:: y = f(x)

    Args:
        fn: A function of one array returning one array, e.g. ``jnp.tanh`` or
            ``lambda x: x ** 2``.
        name: The layer's name; by default the function's name in snake_case (``tanh``,
            ``lambda``).

    Returns:
        A :class:`Layer` with ``params == state == {}``.

    Raises:
        TypeError: If ``fn`` is not callable or ``init`` finds it does not return one array.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = lift(jnp.tanh)
        >>> layer.name, layer.init(jax.random.key(0), (-1, 3))
        ('tanh', ((-1, 3), {}, {}))
    """
    if isinstance(fn, Layer) or not callable(fn):
        raise TypeError(f"lift: fn must be a plain callable; got {type(fn).__name__} {fn!r}.")
    layer_name = name or _name_of(fn)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # no parameters to draw
        shape = as_shape(input_shape, where=f"lifted function '{layer_name}'")
        try:
            return infer_shape(fn, shape), {}, {}
        except TypeError as error:
            raise TypeError(
                f"lifted function '{layer_name}' on input shape {shape}: {error}"
            ) from error

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del params, key, train
        return fn(x), state

    return Layer(init, apply, layer_name)


def as_layer(obj: Any, *, where: str = "serial") -> Layer:
    """Returns ``obj`` if it is a :class:`Layer`, lifts it if it is callable, else raises.

    Example:
        >>> as_layer(jnp.tanh).name
        'tanh'
    """
    if isinstance(obj, Layer):
        return obj
    if callable(obj):
        return lift(obj)
    raise TypeError(
        f"{where}: each layer must be a jaxnn Layer or a callable such as jnp.tanh; "
        f"got {type(obj).__name__} {obj!r}."
    )
