"""Combinators: serial, parallel and residual composition of layers.

Each combinator gives its children unique names (``dense``, ``dense_1`` ...) and nests their
params and state under those names, so a path like ``("dense_1", "w")`` names one array. Child
``i`` gets its own key ``fold_in(key, i)`` at ``init`` and at ``apply``. State is threaded
explicitly: ``apply`` returns the new state of every child. An error raised by a child names the
combinator, the child's position and its unique name.

Every combinator's ``apply`` takes ``batch_mask`` (a boolean ``(N,)`` array, True for the real rows
of a padded batch, or ``None``) and passes it to each child that declares it, such as
``BatchNorm`` or a nested combinator; other children are called without it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp

from jaxnn import capture
from jaxnn.core import Layer, as_layer, as_shape, as_shape_tree, check_key, child_key
from jaxnn.masking import apply_with_batch_mask, check_batch_mask
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["parallel", "residual", "serial"]


def _unique_names(names: Sequence[str]) -> list[str]:
    """Makes sibling names unique by suffixing ``_1``, ``_2`` ... in order of appearance."""
    used: set[str] = set()
    out = []
    for name in names:
        unique, i = name, 0
        while unique in used:
            i += 1
            unique = f"{name}_{i}"
        used.add(unique)
        out.append(unique)
    return out


def _in_context(error: Exception, context: str) -> Exception:
    """The same kind of error with ``context`` in front of its message, for nested layers."""
    if type(error) in (ValueError, TypeError):
        return type(error)(f"{context}: {error}")
    return error


class _Children(NamedTuple):
    kind: str
    name: str
    names: list[str]
    layers: list[Layer]

    def where(self, i: int) -> str:
        return f"{self.kind} '{self.name}', layer {i} ('{self.names[i]}')"

    def check_tree(self, tree: Any, arg: str) -> None:
        """Trace-time check that params or state has exactly one entry per child."""
        if not isinstance(tree, Mapping) or set(tree) != set(self.names):
            got = sorted(tree) if isinstance(tree, Mapping) else type(tree).__name__
            raise ValueError(
                f"{self.kind} '{self.name}': {arg} must be a dict with one entry per layer, "
                f"{sorted(self.names)}; got {got}. Pass the {arg} returned by this model's init."
            )

    def init(self, key: PRNGKey, input_shape: Shape, i: int) -> tuple[Shape, Params, State]:
        layer = self.layers[i]
        try:
            return capture.child_call(
                self.names[i],
                layer,
                input_shape,
                lambda: layer.init(child_key(key, i), input_shape),
            )
        except (ValueError, TypeError) as error:
            raise _in_context(error, self.where(i)) from error

    def check_inputs(self, params: Params, state: State, x: Any, batch_mask: Any) -> None:
        """Trace-time checks of everything ``apply`` is given, before any child runs."""
        self.check_tree(params, "params")
        self.check_tree(state, "state")
        check_batch_mask(batch_mask, x, where=f"{self.kind} '{self.name}'")

    def apply(
        self,
        params: Params,
        state: State,
        x: Array,
        i: int,
        key: PRNGKey | None,
        train: bool,
        batch_mask: Array | None,
    ) -> tuple[Array, State]:
        name, layer = self.names[i], self.layers[i]
        try:
            return capture.child_call(
                name,
                layer,
                x,
                lambda: apply_with_batch_mask(
                    layer,
                    params[name],
                    state[name],
                    x,
                    key=child_key(key, i),
                    train=train,
                    batch_mask=batch_mask,
                ),
            )
        except (ValueError, TypeError) as error:
            raise _in_context(error, self.where(i)) from error


def _children(kind: str, name: str, layers: Sequence[Any]) -> _Children:
    if not layers:
        raise ValueError(f"{kind} '{name}': needs at least one layer; got none.")
    built = [as_layer(obj, where=f"{kind} '{name}'") for obj in layers]
    return _Children(kind, name, _unique_names([layer.name for layer in built]), built)


def _configs(children: _Children) -> list[Any]:
    return [layer.config for layer in children.layers]


def _chain(children: _Children) -> tuple[Callable, Callable]:
    """``init`` and ``apply`` that run ``children`` one after another."""

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{children.kind} '{children.name}'.init")
        shape = as_shape_tree(input_shape, where=f"{children.kind} '{children.name}'.init")
        params, state = {}, {}
        for i, name in enumerate(children.names):
            shape, params[name], state[name] = children.init(key, shape, i)
        return shape, params, state

    def apply(
        params: Params,
        state: State,
        x: Array,
        *,
        key: PRNGKey | None = None,
        train: bool = False,
        batch_mask: Array | None = None,
    ) -> tuple[Array, State]:
        children.check_inputs(params, state, x, batch_mask)
        new_state = {}
        for i, name in enumerate(children.names):
            x, new_state[name] = children.apply(params, state, x, i, key, train, batch_mask)
        return x, new_state

    return init, apply


def serial(*layers: Any, name: str = "serial") -> Layer:
    r"""Composes layers one after another.

    .. math:: y = f_n(\cdots f_2(f_1(x)))

    Args:
        *layers: Layers or plain callables (lifted with :func:`lift`).
        name: This combinator's name (default ``"serial"``), used when it is nested in another.

    Returns:
        A :class:`Layer` whose params and state are dicts keyed by the children's unique names.

    Raises:
        ValueError: If no layers are given, or (at ``init``) a child rejects its input shape; the
            message names the child by position and name.
        TypeError: If a layer is neither a :class:`Layer` nor callable.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxnn.layers import Dense
        >>> model = serial(Dense(8), jnp.tanh, Dense(8), jnp.tanh, Dense(1))
        >>> out_shape, params, state = model.init(jax.random.key(0), (-1, 2))
        >>> out_shape
        (-1, 1)
        >>> jax.tree.map(jnp.shape, params)["dense_1"]
        {'b': (8,), 'w': (8, 8)}
        >>> y, state = model.apply(params, state, jnp.ones((5, 2)))
        >>> y.shape
        (5, 1)
    """
    children = _children("serial", name, layers)
    init, apply = _chain(children)
    config = {"type": "serial", "name": name, "layers": _configs(children)}
    return Layer(init, apply, name, config, tuple(children.layers))


def residual(*layers: Any, name: str = "residual") -> Layer:
    r"""Adds the input to the output of a chain of layers (a skip connection).

    .. math:: y = x + f_n(\cdots f_1(x))

    Args:
        *layers: The body, composed as by :func:`serial`; it must keep the shape of its input.
        name: This combinator's name (default ``"residual"``).

    Returns:
        A :class:`Layer` with the body's params and state, keyed by the children's unique names.

    Raises:
        ValueError: At ``init``, if the body changes the shape of its input.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxnn.layers import Dense
        >>> block = residual(Dense(4), jnp.tanh)
        >>> out_shape, params, state = block.init(jax.random.key(0), (-1, 4))
        >>> zero = jax.tree.map(jnp.zeros_like, params)
        >>> x = jnp.arange(8.0).reshape(2, 4)
        >>> bool(jnp.all(block.apply(zero, state, x)[0] == x))  # tanh(0 @ w + 0) = 0
        True
    """
    children = _children("residual", name, layers)
    body_init, body_apply = _chain(children)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        shape = as_shape(input_shape, where=f"residual '{name}'.init")
        out_shape, params, state = body_init(key, shape)
        if out_shape != shape:
            raise ValueError(
                f"residual '{name}': the body maps input shape {shape} to {out_shape}; a residual "
                f"connection needs the same shape out as in. Make the last layer produce "
                f"{shape[-1]} features, or project the input in a parallel branch."
            )
        return out_shape, params, state

    def apply(
        params: Params,
        state: State,
        x: Array,
        *,
        key: PRNGKey | None = None,
        train: bool = False,
        batch_mask: Array | None = None,
    ) -> tuple[Array, State]:
        y, state = body_apply(params, state, x, key=key, train=train, batch_mask=batch_mask)
        return x + y, state

    config = {"type": "residual", "name": name, "layers": _configs(children)}
    return Layer(init, apply, name, config, tuple(children.layers))


_COMBINES = ("concat", "sum")


def _combined_shape(
    shapes: list[Shape], combine: str, axis: int, name: str, names: list[str]
) -> Shape:
    listed = ", ".join(f"'{n}': {s}" for n, s in zip(names, shapes, strict=True))
    if combine == "sum":
        if any(s != shapes[0] for s in shapes):
            raise ValueError(
                f"parallel '{name}': combine='sum' needs every branch to give the same shape; "
                f"got {listed}."
            )
        return shapes[0]
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes) or not -rank <= axis < rank:
        raise ValueError(
            f"parallel '{name}': combine='concat' on axis {axis} needs branch outputs of one rank "
            f"that has that axis; got {listed}."
        )
    ax = axis % rank
    rest = [s[:ax] + s[ax + 1 :] for s in shapes]
    if any(r != rest[0] for r in rest) or any(s[ax] == -1 for s in shapes):
        raise ValueError(
            f"parallel '{name}': combine='concat' on axis {axis} needs every other axis to agree "
            f"(and known sizes on this one); got {listed}."
        )
    return shapes[0][:ax] + (sum(s[ax] for s in shapes),) + shapes[0][ax + 1 :]


def parallel(
    *branches: Any, combine: str = "concat", axis: int = -1, name: str = "parallel"
) -> Layer:
    r"""Feeds one input to several branches and combines their outputs.

    .. math:: y = \operatorname{concat}_{axis}(f_1(x), \ldots, f_n(x))
        \quad\text{or}\quad y = \textstyle\sum_i f_i(x)

    Args:
        *branches: Layers or plain callables, each applied to the same input.
        combine: ``"concat"`` (default) joins the outputs along ``axis``; ``"sum"`` adds them.
        axis: The concatenation axis (default ``-1``, features).
        name: This combinator's name (default ``"parallel"``).

    Returns:
        A :class:`Layer` whose params and state are keyed by the branches' unique names.

    Raises:
        ValueError: For an unknown ``combine``, or at ``init`` if the branch outputs cannot be
            combined (the message lists each branch's shape).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxnn.layers import Dense
        >>> both = parallel(Dense(3), Dense(5))
        >>> both.init(jax.random.key(0), (-1, 2))[0]
        (-1, 8)
    """
    if combine not in _COMBINES:
        raise ValueError(
            f"parallel '{name}': combine must be one of {sorted(_COMBINES)}; got {combine!r}."
        )
    children = _children("parallel", name, branches)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"parallel '{name}'.init")
        shape = as_shape(input_shape, where=f"parallel '{name}'.init")
        shapes, params, state = [], {}, {}
        for i, child in enumerate(children.names):
            out, params[child], state[child] = children.init(key, shape, i)
            shapes.append(out)
        return _combined_shape(shapes, combine, axis, name, children.names), params, state

    def apply(
        params: Params,
        state: State,
        x: Array,
        *,
        key: PRNGKey | None = None,
        train: bool = False,
        batch_mask: Array | None = None,
    ) -> tuple[Array, State]:
        children.check_inputs(params, state, x, batch_mask)
        outs, new_state = [], {}
        for i, child in enumerate(children.names):
            out, new_state[child] = children.apply(params, state, x, i, key, train, batch_mask)
            outs.append(out)
        if combine == "sum":
            return functools.reduce(jnp.add, outs), new_state
        return jnp.concatenate(outs, axis=axis), new_state

    config = {
        "type": "parallel",
        "name": name,
        "combine": combine,
        "axis": axis,
        "layers": _configs(children),
    }
    return Layer(init, apply, name, config, tuple(children.layers))
