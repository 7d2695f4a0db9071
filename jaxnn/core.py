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
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import _html
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = [
    "Layer",
    "as_layer",
    "as_shape",
    "as_shape_tree",
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
            on the padding rows of a partial batch); see :func:`jaxnn.masking.accepts_batch_mask`.
        name: The layer's name; combinators make it unique among siblings and nest its params
            under it.
        config: The constructor's type and arguments (``{"type": "Dense", "units": 64, ...}``),
            from which :func:`jaxnn.load_model` rebuilds the layer; ``None`` for hand-written
            layers. A lifted function's config names the function.
        children: The layers a combinator is built from, in order (``()`` for other layers);
            summaries, diagrams and :func:`jaxnn.models.submodel` walk the model through them.

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
    children: tuple[Layer, ...] = ()

    def __repr__(self) -> str:
        """Shows the name and config, not the two function objects."""
        if self.config is None:
            return f"Layer(name={self.name!r})"
        return f"Layer(name={self.name!r}, config={dict(self.config)!r})"

    def __hash__(self) -> int:
        """Hashes by identity of the functions, so a Layer can be a static argument of ``jit``."""
        return hash((self.init, self.apply, self.name))

    def _repr_html_(self) -> str:
        """The layer tree as an HTML table in a notebook: name, type and arguments of each layer.

        Parameter counts need an input shape: :func:`jaxnn.summary` gives them.
        """
        rows = _html.layer_rows(self)
        return _html.table(
            ["Layer", "Type", "Arguments"],
            rows,
            title=f"Layer {self.name!r}: {len(rows)} layer{'s' if len(rows) != 1 else ''}",
            footer=["Parameter counts: jaxnn.summary(model, input_shape, print_fn=None)."],
        )


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
    """:func:`as_shape`, or a dict, tuple or list of them (dict inputs, several outputs).

    A tuple or list is a shape if it holds an int (or nothing), else a tuple or list of shapes.

    Example:
        >>> import numpy as np
        >>> as_shape_tree({"inputs": np.zeros((2, 5, 3)), "mask": (2, 5)})
        {'inputs': (2, 5, 3), 'mask': (2, 5)}
        >>> as_shape_tree(((-1, 4), np.zeros((2, 3))))
        ((-1, 4), (2, 3))
    """
    if isinstance(shape_or_example, Mapping):
        return {
            k: None if v is None else as_shape_tree(v, where=f"{where} {k!r}")
            for k, v in shape_or_example.items()
        }
    if (
        isinstance(shape_or_example, (tuple, list))
        and len(shape_or_example) > 0
        and not any(isinstance(d, (int, np.integer)) for d in shape_or_example)
    ):
        parts = [
            None if v is None else as_shape_tree(v, where=f"{where} [{i}]")
            for i, v in enumerate(shape_or_example)
        ]
        make: Any = type(shape_or_example)
        return make(*parts) if hasattr(shape_or_example, "_fields") else make(parts)  # NamedTuple
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


def _name_of(fn: Callable) -> str:
    """A snake_case name for a callable: ``jnp.tanh`` -> ``tanh``, a lambda -> ``lambda``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    raw = getattr(fn, "__name__", None) or type(fn).__name__
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", raw).strip("_").lower()
    return name or "fn"


# ----------------------------------------------------------------------------------------------
# Lifting a plain function


def _is_shape(node: Any) -> bool:
    return isinstance(node, tuple) and all(isinstance(d, int) for d in node)


def _map_shapes(fn: Callable[[Shape], Any], shapes: Any) -> Any:
    """Maps ``fn`` over the shapes (tuples of ints) in a pytree of shapes."""
    return jax.tree.map(fn, shapes, is_leaf=_is_shape)


def _checked(fn: Callable, x: Any) -> Any:
    """``fn(x)``, after checking at trace time that every output leaf is an array or a number."""
    out = fn(x)
    leaves = jax.tree_util.tree_flatten_with_path(out)[0]
    if not leaves:
        raise TypeError(
            f"must return an array or a pytree of arrays; returned {type(out).__name__} {out!r}, "
            f"which holds no array"
        )
    for path, leaf in leaves:
        if not (hasattr(leaf, "shape") and hasattr(leaf, "dtype")) and not isinstance(
            leaf, (bool, int, float, complex)
        ):
            at = f" at {jax.tree_util.keystr(path)}" if path else ""
            raise TypeError(
                f"must return an array or a pytree of arrays; returned "
                f"{type(leaf).__name__} {leaf!r}{at}"
            )
    return out


def _eval_shape(fn: Callable, shapes: Any) -> Any:
    """The ``jax.ShapeDtypeStruct`` pytree that ``fn`` returns for float32 inputs of ``shapes``."""
    specs = _map_shapes(lambda shape: jax.ShapeDtypeStruct(shape, jnp.float32), shapes)
    return jax.eval_shape(functools.partial(_checked, fn), specs)


def infer_shape(fn: Callable[..., Any], input_shape: Any) -> Any:
    """The output shape of ``fn`` for float32 inputs of ``input_shape``, without running it.

    ``input_shape`` is a shape or a pytree of shapes (a tuple, a dict); the result has the
    structure of ``fn``'s output, one shape per array. A ``-1`` (unknown batch) dimension is
    traced at two sizes; every output dimension that changes with it becomes ``-1``.

    Args:
        fn: A function of one array, or of one pytree of arrays.
        input_shape: The input's shape, or a pytree of shapes, as tuples of ints.

    Returns:
        A shape (a tuple of ints), or a pytree of them matching ``fn``'s output.

    Raises:
        TypeError: If an output leaf is not an array or a number, or ``fn`` returns no array.

    Example:
        >>> import jax.numpy as jnp
        >>> infer_shape(lambda x: x.reshape(x.shape[0], -1), (-1, 4, 5))
        (-1, 20)
        >>> infer_shape(lambda x: {"sum": x.sum(axis=1), "x": x}, (-1, 3))
        {'sum': (-1,), 'x': (-1, 3)}
    """
    if not any(-1 in shape for shape in jax.tree.leaves(input_shape, is_leaf=_is_shape)):
        return jax.tree.map(lambda out: tuple(out.shape), _eval_shape(fn, input_shape))
    small = _eval_shape(
        fn, _map_shapes(lambda s: tuple(2 if d == -1 else d for d in s), input_shape)
    )
    large = _eval_shape(
        fn, _map_shapes(lambda s: tuple(3 if d == -1 else d for d in s), input_shape)
    )
    return jax.tree.map(
        lambda a, b: tuple(m if m == n else -1 for m, n in zip(a.shape, b.shape, strict=True)),
        small,
        large,
    )


def lift(fn: Callable[..., Any], *, name: str | None = None) -> Layer:
    """Makes a parameter-free layer from any array function.

    .. math:: y = f(x)

    ``fn`` may return a pytree of arrays (a tuple, a dict); ``init`` then returns the matching
    pytree of shapes, and the next layer of a :func:`~jaxnn.serial` receives that pytree. It may
    likewise take the pytree the layer before it returns.

    Args:
        fn: A function of one array (or of one pytree of arrays) returning an array or a pytree
            of arrays, e.g. ``jnp.tanh``, ``lambda x: x ** 2`` or ``lambda x: (x, 2 * x)``.
        name: The layer's name; by default the function's name in snake_case (``tanh``,
            ``lambda``).

    Returns:
        A :class:`Layer` with ``params == state == {}``.

    Raises:
        TypeError: If ``fn`` is not callable, or ``init`` finds that it returns something that
            is not an array, such as a string.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = lift(jnp.tanh)
        >>> layer.name, layer.init(jax.random.key(0), (-1, 3))
        ('tanh', ((-1, 3), {}, {}))
        >>> pair = lift(lambda x: (x, x.sum(axis=-1)), name="pair")
        >>> pair.init(jax.random.key(0), (-1, 3))[0]
        ((-1, 3), (-1,))
        >>> pair.apply({}, {}, jnp.ones((2, 3)))[0][1].tolist()
        [3.0, 3.0]
    """
    if isinstance(fn, Layer) or not callable(fn):
        raise TypeError(f"lift: fn must be a plain callable; got {type(fn).__name__} {fn!r}.")
    layer_name = name or _name_of(fn)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Any, Params, State]:
        del key  # no parameters to draw
        shape = as_shape_tree(input_shape, where=f"lifted function '{layer_name}'")
        try:
            return infer_shape(fn, shape), {}, {}
        except TypeError as error:
            raise TypeError(
                f"lifted function '{layer_name}' on input shape {shape}: {error}"
            ) from error

    def apply(
        params: Params, state: State, x: Any, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Any, State]:
        del params, key, train
        return fn(x), state

    return Layer(init, apply, layer_name, {"type": "function", "function": fn, "name": layer_name})


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
