"""Walking a model without running it: its layers, paths, shapes, parameter counts.

:func:`model_shapes` runs ``init`` under :func:`jax.eval_shape` (no array is allocated) and
records every nested layer with :mod:`jaxnn.capture`; :func:`children_paths`, :func:`subtree`,
:func:`count`, :func:`layer_type` and :func:`format_shape` read what it found. Shared by
:func:`jaxnn.models.summary` and :func:`jaxnn.models.plot_model`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxnn.capture import Record, recording
from jaxnn.core import Layer, as_shape_tree, check_key
from jaxnn.types import Params, PRNGKey, State

__all__ = [
    "ModelShapes",
    "Path",
    "children_paths",
    "count",
    "format_shape",
    "in_context",
    "layer_type",
    "model_shapes",
    "subtree",
    "to_specs",
]

Path = tuple[str, ...]
_TRACER_ERRORS = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerArrayConversionError,
    jax.errors.TracerBoolConversionError,
    jax.errors.TracerIntegerConversionError,
)


class ModelShapes(NamedTuple):
    """What ``init`` tells about a model, as shapes only.

    Attributes:
        input_shape: The input shape (tree), ``-1`` for an unknown batch size.
        output_shape: The model's output shape (tree).
        params: The params tree, with a ``jax.ShapeDtypeStruct`` for each array.
        state: The state tree, likewise.
        records: One :class:`~jaxnn.capture.Record` per nested layer, parents first; the root
            is not among them.
    """

    input_shape: Any
    output_shape: Any
    params: Params
    state: State
    records: list[Record]


def to_specs(tree: Any) -> Any:
    """``tree`` with each array replaced by a ``jax.ShapeDtypeStruct`` of its shape and dtype.

    Example:
        >>> import jax.numpy as jnp
        >>> to_specs({"w": jnp.zeros((2, 3))})
        {'w': ShapeDtypeStruct(shape=(2, 3), dtype=float32)}
    """
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), tree)


def in_context(error: Exception, context: str) -> Exception:
    """A ``ValueError`` or ``TypeError`` with ``context`` before its message; others unchanged.

    Example:
        >>> in_context(ValueError("bad shape"), "summary: model 'mlp'")
        ValueError("summary: model 'mlp': bad shape")
    """
    if type(error) in (ValueError, TypeError):
        return type(error)(f"{context}: {error}")
    return error


def model_shapes(
    model: Layer, input_shape: Any, *, key: PRNGKey | None = None, where: str = "summary"
) -> ModelShapes:
    """Runs ``model.init`` abstractly (no array is allocated) and records every nested layer.

    Args:
        model: A :class:`~jaxnn.Layer`.
        input_shape: A shape such as ``(-1, 784)``, an example array, or a tree of them.
        key: The key given to ``init`` (default ``jax.random.key(0)``); shapes do not depend on it.
        where: The public function asking, for error messages.

    Returns:
        A :class:`ModelShapes`.

    Raises:
        TypeError, ValueError: If ``model`` is not a Layer, or its ``init`` rejects
            ``input_shape`` (the layer's own message, with ``where`` and the model named).

    Example:
        >>> import jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense
        >>> shapes = model_shapes(jaxnn.serial(Dense(3), jnp.tanh), (-1, 4))
        >>> shapes.output_shape, [r.path for r in shapes.records], shapes.params["dense"]["w"]
        ((-1, 3), [('dense',), ('tanh',)], ShapeDtypeStruct(shape=(4, 3), dtype=float32))
    """
    if not isinstance(model, Layer):
        hint = " Wrap a plain function with jaxnn.lift(fn)." if callable(model) else ""
        raise TypeError(
            f"{where}: model must be a jaxnn Layer; got {type(model).__name__} {model!r}.{hint}"
        )
    key = jax.random.key(0) if key is None else key
    check_key(key, where=where)
    shape = as_shape_tree(input_shape, where=where)
    side: dict[str, Any] = {}

    def init(k: PRNGKey) -> tuple[Params, State]:
        with recording() as records:
            side["output_shape"], params, state = model.init(k, shape)
        side["records"] = records
        return params, state

    try:
        try:
            params, state = jax.eval_shape(init, key)
        except _TRACER_ERRORS:  # an init that needs concrete values: run it for real
            params, state = to_specs(init(key))
    except (ValueError, TypeError) as error:
        raise in_context(error, f"{where}: model '{model.name}' on input_shape {shape}") from error
    return ModelShapes(shape, side["output_shape"], params, state, side["records"])


def children_paths(records: Sequence[Record]) -> dict[Path, list[Path]]:
    """Each recorded path's direct children, in call order; the root is ``()``.

    Example:
        >>> from jaxnn.capture import Record
        >>> children_paths([Record(("a",), None, (), ()), Record(("a", "b"), None, (), ())])
        {(): [('a',)], ('a',): [('a', 'b')]}
    """
    out: dict[Path, list[Path]] = {}
    for record in records:
        out.setdefault(record.path[:-1], []).append(record.path)
    return out


def layer_type(layer: Layer) -> str:
    """``config["type"]`` (``"Dense"``, ``"serial"``, ``"function"``), or ``"Layer"`` without one.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxnn.core import lift
        >>> layer_type(lift(jnp.tanh)), layer_type(Layer(None, None, "mine"))
        ('function', 'Layer')
    """
    config = layer.config or {}
    return str(config.get("type", "Layer"))


def format_shape(shape: Any) -> str:
    """A shape (tree) as text, an unknown (``-1``) dimension shown as ``None`` (as Keras).

    Example:
        >>> format_shape((-1, 28, 28, 1)), format_shape(((-1, 3), (-1,))), format_shape({"a": (2,)})
        ('(None, 28, 28, 1)', '[(None, 3), (None,)]', '{a: (2,)}')
    """
    if isinstance(shape, Mapping):
        return "{" + ", ".join(f"{k}: {format_shape(v)}" for k, v in shape.items()) + "}"
    if isinstance(shape, (tuple, list)) and all(isinstance(d, int) for d in shape):
        dims = ["None" if d == -1 else str(d) for d in shape]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
    if isinstance(shape, (tuple, list)):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    return str(shape)


def subtree(tree: Any, path: Path, *, where: str = "summary") -> Any:
    """The params (or state) of the layer at ``path``: ``tree[path[0]][path[1]]...``.

    Example:
        >>> subtree({"encoder": {"dense": {"b": 1}}}, ("encoder", "dense"))
        {'b': 1}
    """
    for i, name in enumerate(path):
        if not isinstance(tree, Mapping) or name not in tree:
            raise ValueError(
                f"{where}: no params or state under {'/'.join(path[: i + 1])!r}; the layers of "
                f"the model must nest each child's params under the child's name."
            )
        tree = tree[name]
    return tree


def count(tree: Any) -> tuple[int, int]:
    """The number of array entries in ``tree`` and their bytes.

    Example:
        >>> import jax.numpy as jnp
        >>> count({"w": jnp.zeros((3, 2)), "b": jnp.zeros(2, jnp.float16)})  # 6*4 + 2*2 bytes
        (8, 28)
    """
    leaves = jax.tree.leaves(tree)
    sizes = [math.prod(np.shape(a)) for a in leaves]
    return sum(sizes), sum(
        n * np.dtype(a.dtype).itemsize for n, a in zip(sizes, leaves, strict=True)
    )
