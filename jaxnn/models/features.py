"""Feature extraction: the output of every layer inside a model, and a model cut at one of them.

A layer inside a model is named by its path, the unique names of the combinators and the layer
leading to it joined with ``/`` (``"encoder/dense_1"``), the same path under which its params
and state nest. :func:`intermediates` returns every such layer's output in one compiled call
(recorded with :mod:`jaxnn.capture`, so no layer changes); :func:`submodel` builds the model
that stops at one of them, with the matching part of a trained model's params and state, ready
for a new head (transfer learning).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax

from jaxnn import capture

# The combinators' own naming rule, so that these paths always agree with the params' paths.
from jaxnn.combinators import _unique_names, serial
from jaxnn.core import Layer, check_key
from jaxnn.paths import Pattern, leaves_with_paths, matches
from jaxnn.types import Params, PRNGKey, State

__all__ = ["OUTPUT_KEY", "Submodel", "intermediates", "layer_paths", "submodel"]

#: The key of the model's own output in :func:`intermediates`, and the ``upto`` of
#: :func:`submodel` that keeps the whole model.
OUTPUT_KEY = "output"

_KINDS = ("serial", "parallel", "residual")


class Submodel(NamedTuple):
    """A model cut at an inner layer, with the matching part of the original params and state.

    Attributes:
        model: The cut model, a :class:`~jaxnn.Layer` with the original model's name.
        params: The original params pruned to the layers kept (the same arrays), or ``None``
            when no params were given.
        state: The original state pruned likewise, or ``None`` when no state was given.
    """

    model: Layer
    params: Params | None
    state: State | None


def _kind(layer: Layer) -> str | None:
    """``"serial"``, ``"parallel"`` or ``"residual"`` for a combinator, else ``None``."""
    config = layer.config
    kind = config.get("type") if isinstance(config, Mapping) else None
    return kind if kind in _KINDS and layer.children else None


def _child_names(layer: Layer) -> list[str]:
    """The unique names under which a combinator nests its children (none for other layers)."""
    if _kind(layer) is None:
        return []
    return _unique_names([child.name for child in layer.children])


def layer_paths(model: Layer) -> list[str]:
    """The path of every layer inside ``model``, parents before children, in call order.

    These are the keys of :func:`intermediates` (which adds :data:`OUTPUT_KEY`) and the values
    :func:`submodel` accepts. The model itself has no path.

    Args:
        model: A model built with ``serial``, ``parallel`` and ``residual``.

    Returns:
        The paths, each the unique names from the model's root joined with ``/``.

    Raises:
        TypeError: If ``model`` is not a :class:`~jaxnn.Layer`.

    Example:
        >>> import jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense
        >>> layer_paths(jaxnn.serial(Dense(3), jaxnn.parallel(Dense(2), Dense(2)), jnp.tanh))
        ['dense', 'parallel', 'parallel/dense', 'parallel/dense_1', 'tanh']
    """
    if not isinstance(model, Layer):
        raise TypeError(f"layer_paths: model must be a jaxnn Layer; got {type(model).__name__}.")
    out: list[str] = []

    def walk(layer: Layer, prefix: str) -> None:
        for name, child in zip(_child_names(layer), layer.children, strict=True):
            out.append(prefix + name)
            walk(child, prefix + name + "/")

    walk(model, "")
    return out


# ----------------------------------------------------------------------------------------------
# intermediates


def _mismatch(got: Any, want: Any, arg: str) -> str:
    """What differs between a given params or state tree and the one the model's init gives."""
    got_shapes = {p: tuple(getattr(leaf, "shape", ())) for p, leaf in leaves_with_paths(got)}
    want_shapes = {p: tuple(leaf.shape) for p, leaf in leaves_with_paths(want)}
    problems = []
    if missing := sorted(set(want_shapes) - set(got_shapes)):
        problems.append(f"missing {missing}")
    if extra := sorted(set(got_shapes) - set(want_shapes)):
        problems.append(f"unexpected {extra}")
    for path in sorted(set(want_shapes) & set(got_shapes)):
        if got_shapes[path] != want_shapes[path]:
            problems.append(f"{path!r} has shape {got_shapes[path]}, expected {want_shapes[path]}")
    return f"{arg}: " + "; ".join(problems) if problems else ""


def _check_trees(model: Layer, params: Params, state: State, x: Any) -> None:
    """Trace-time check that params and state have the paths and shapes the model's init gives."""
    shapes = jax.tree.map(lambda a: tuple(a.shape), x)
    _, want_params, want_state = jax.eval_shape(lambda: model.init(jax.random.key(0), shapes))
    problems = [_mismatch(params, want_params, "params"), _mismatch(state, want_state, "state")]
    if problems := [problem for problem in problems if problem]:
        raise ValueError(
            f"intermediates: params and state do not match model '{model.name}' on input shape "
            f"{shapes}: {'. '.join(problems)}. Pass the params and state from this model's init "
            f"(or the TrainState that fit returned)."
        )


def _select(outputs: dict[str, Any], patterns: tuple[Pattern, ...] | None) -> dict[str, Any]:
    """The outputs whose keys match one of ``patterns`` (all for ``None``)."""
    if patterns is None:
        return outputs
    for pattern in patterns:
        if not any(matches(pattern, path) for path in outputs):
            raise ValueError(
                f"intermediates: paths pattern {pattern!r} matches no layer; the known paths are "
                f"{list(outputs)}."
            )
    return {k: v for k, v in outputs.items() if any(matches(p, k) for p in patterns)}


@functools.partial(jax.jit, static_argnames=("model", "train", "patterns"))
def _compiled(
    params: Params,
    state: State,
    x: Any,
    key: PRNGKey | None,
    *,
    model: Layer,
    train: bool,
    patterns: tuple[Pattern, ...] | None,
) -> dict[str, Any]:
    """One compiled call per model, mode, selection and input shapes (jit caches it)."""
    _check_trees(model, params, state, x)
    with capture.recording() as records:
        y, _ = model.apply(params, state, x, key=key, train=train)
    outputs = {"/".join(record.path): record.outputs for record in records}
    if OUTPUT_KEY in outputs and outputs[OUTPUT_KEY] is not y:
        raise ValueError(
            f"intermediates: the layer at path {OUTPUT_KEY!r} is not the last layer of model "
            f"'{model.name}', so its output would collide with the model's output, which is "
            f"returned under {OUTPUT_KEY!r}. Give that layer another name, e.g. name='head'."
        )
    outputs[OUTPUT_KEY] = y
    return _select(outputs, patterns)


def _in_call_order(model: Layer, outputs: dict[str, Any]) -> dict[str, Any]:
    """``outputs`` in call order, parents first, the model's output last (``jit`` sorts keys)."""
    paths = layer_paths(model)
    rank = {path: i for i, path in enumerate(paths)} | {OUTPUT_KEY: len(paths) + 1}
    return dict(sorted(outputs.items(), key=lambda item: rank.get(item[0], len(paths))))


def intermediates(
    model: Layer,
    params: Params,
    state: State,
    x: Any,
    *,
    key: PRNGKey | None = None,
    train: bool = False,
    paths: Sequence[Pattern] | str | None = None,
) -> dict[str, Any]:
    """The output of every layer inside ``model``, keyed by its path, in one compiled call.

    The model runs once, as ``model.apply(params, state, x, key=key, train=train)`` does (the
    same dropout masks, batch statistics in training), and every layer that a combinator calls
    reports its output. The compiled function is cached per model, mode, selection and input
    shapes: a second call with arrays of the same shapes runs without tracing or compiling.

    Args:
        model: The model, a :class:`~jaxnn.Layer`.
        params: Its params, as its ``init`` returns them (or ``TrainState.params``).
        state: Its state (``{}`` leaves for stateless layers), e.g. ``TrainState.state``.
        x: The input, an array (or the pytree of arrays the model takes) with a batch axis.
        key: The PRNG key for ``train=True`` with dropout (default ``None``).
        train: Run in training mode (default ``False``, evaluation).
        paths: Path patterns (:mod:`jaxnn.paths`) of the outputs to return, e.g.
            ``["encoder/*", "output"]``; default ``None``, all of them. Only what the selected
            outputs need is computed (XLA drops the rest).

    Returns:
        A dict from path (``"encoder/dense_1"``, see :func:`layer_paths`) to that layer's
        output, parents before children, then the model's own output under
        :data:`OUTPUT_KEY` (``"output"``). A layer that returns a pytree keeps it.

    Raises:
        TypeError: If ``key`` is not a PRNG key or ``train`` is not a bool.
        ValueError: If params or state do not have the paths and shapes of the model's init
            (the message lists the missing, unexpected and misshapen paths), a pattern in
            ``paths`` matches no layer (the known paths are listed), or a layer named
            ``"output"`` other than the model's last one would hide the model's output.

    Example:
        >>> import jax, jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense
        >>> model = jaxnn.serial(jaxnn.serial(Dense(3), jnp.tanh, name="encoder"), Dense(2))
        >>> _, params, state = model.init(jax.random.key(0), (-1, 4))
        >>> features = intermediates(model, params, state, jnp.ones((5, 4)))
        >>> {path: y.shape for path, y in features.items()}  # doctest: +NORMALIZE_WHITESPACE
        {'encoder': (5, 3), 'encoder/dense': (5, 3), 'encoder/tanh': (5, 3), 'dense': (5, 2),
         'output': (5, 2)}
        >>> list(intermediates(model, params, state, jnp.ones((5, 4)), paths=["encoder/*"]))
        ['encoder/dense', 'encoder/tanh']
    """
    if not isinstance(model, Layer):
        raise TypeError(f"intermediates: model must be a jaxnn Layer; got {type(model).__name__}.")
    if not isinstance(train, bool):
        raise TypeError(f"intermediates: train must be True or False; got {train!r}.")
    if key is not None:
        check_key(key, where="intermediates")
    patterns = None if paths is None else (paths,) if isinstance(paths, str) else tuple(paths)
    outputs = _compiled(params, state, x, key, model=model, train=train, patterns=patterns)
    return _in_call_order(model, outputs)


# ----------------------------------------------------------------------------------------------
# submodel


def _as_path(upto: Any) -> tuple[str, ...]:
    if isinstance(upto, str):
        return tuple(upto.split("/")) if upto else ()
    if isinstance(upto, tuple) and all(isinstance(name, str) for name in upto):
        return upto
    raise TypeError(
        f"submodel: upto must be a path such as 'encoder/dense_1' or ('encoder', 'dense_1'); "
        f"got {type(upto).__name__} {upto!r}."
    )


def _check_keys(layer: Layer, tree: Any, arg: str, at: str = "") -> None:
    """Every combinator's entry of ``tree`` must have one key per child, as its init gives."""
    names = _child_names(layer)
    if not names:
        return
    if not isinstance(tree, Mapping) or set(tree) != set(names):
        got = sorted(tree) if isinstance(tree, Mapping) else type(tree).__name__
        where = f"at {at!r}" if at else "at the root"
        raise ValueError(
            f"submodel: {arg} do not match the model: {where} expected one entry per layer, "
            f"{sorted(names)}; got {got}. Pass the {arg} from this model's init (or the "
            f"TrainState that fit returned)."
        )
    for name, child in zip(names, layer.children, strict=True):
        _check_keys(child, tree[name], arg, f"{at}/{name}" if at else name)


def _renamed(layer: Layer, name: str) -> Layer:
    """``layer`` under another name (and config name, so that a saved model rebuilds it)."""
    if layer.name == name:
        return layer
    config = layer.config
    if isinstance(config, Mapping) and "name" in config:
        config = {**config, "name": name}
    return layer._replace(name=name, config=config)


def _cut(layer: Layer, path: tuple[str, ...], trees: tuple[Any, ...]) -> tuple[Layer, tuple]:
    """``layer`` cut at ``path`` (a known path below it), and ``trees`` pruned to match."""
    if not path:
        return layer, trees
    names, kind = _child_names(layer), _kind(layer)
    i = names.index(path[0])
    child, child_trees = _cut(
        layer.children[i], path[1:], tuple(None if t is None else t[names[i]] for t in trees)
    )
    if kind == "serial" and i == len(names) - 1 and child is layer.children[i]:
        return layer, trees  # the whole chain
    # A parallel branch runs alone on the parallel's input; a residual body runs without the skip.
    keep = [] if kind == "parallel" else list(range(i))
    layers = [layer.children[j] for j in keep] + [_renamed(child, names[i])]
    pruned = tuple(
        None if t is None else {**{names[j]: t[names[j]] for j in keep}, names[i]: sub}
        for t, sub in zip(trees, child_trees, strict=True)
    )
    return serial(*layers, name=layer.name), pruned


def submodel(
    model: Layer,
    upto: str | tuple[str, ...],
    *,
    params: Params | None = None,
    state: State | None = None,
) -> Submodel:
    """The model whose output is the output of the layer at path ``upto`` inside ``model``.

    Each ``serial`` on the way keeps its children up to and including the one on the path. A
    ``parallel`` branch or a ``residual`` body on the path becomes a ``serial`` named after that
    combinator, holding the branch (or the body's layers up to the target), run on the
    combinator's input; so a cut inside a residual block gives the body's output **without**
    the skip connection (cut at the residual itself to keep it). Every layer keeps its unique
    name, so the cut model's params and state are exactly the original's sub-dicts: its
    ``init`` gives that structure, and ``params``/``state`` are pruned to it. Its output equals
    ``intermediates(model, ...)[upto]``.

    Args:
        model: The model, built with ``serial``, ``parallel`` and ``residual``.
        upto: The layer's path, ``"encoder/dense_1"`` or ``("encoder", "dense_1")`` (see
            :func:`layer_paths`); ``"output"`` (:data:`OUTPUT_KEY`) or ``()`` for the whole
            model, which comes back unchanged.
        params: The model's params, to prune (default ``None``: the result's params are
            ``None``).
        state: The model's state, to prune (default ``None``).

    Returns:
        A :class:`Submodel` ``(model, params, state)``.

    Raises:
        TypeError: If ``upto`` is neither a string nor a tuple of strings.
        ValueError: If ``upto`` names no layer (the known paths are listed), or params or state
            lack or add entries of the model's combinators (the place is named).

    Example:
        >>> import jax, jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense
        >>> model = jaxnn.serial(jaxnn.serial(Dense(3), jnp.tanh, name="encoder"), Dense(2))
        >>> _, params, state = model.init(jax.random.key(0), (-1, 4))
        >>> cut = submodel(model, "encoder/dense", params=params, state=state)
        >>> jax.tree.map(jnp.shape, cut.params)
        {'encoder': {'dense': {'b': (3,), 'w': (4, 3)}}}
        >>> x = jnp.ones((5, 4))
        >>> y, _ = cut.model.apply(cut.params, cut.state, x)
        >>> bool(jnp.allclose(y, intermediates(model, params, state, x)["encoder/dense"]))
        True
    """
    if not isinstance(model, Layer):
        raise TypeError(f"submodel: model must be a jaxnn Layer; got {type(model).__name__}.")
    path = _as_path(upto)
    known = layer_paths(model)
    if "/".join(path) not in known:
        if path in ((), (OUTPUT_KEY,)):
            path = ()
        else:
            raise ValueError(
                f"submodel: unknown layer path {'/'.join(path)!r} in model '{model.name}'; the "
                f"known paths are {known} (or {OUTPUT_KEY!r} for the whole model)."
            )
    for arg, tree in (("params", params), ("state", state)):
        if tree is not None:
            _check_keys(model, tree, arg)
    cut, (cut_params, cut_state) = _cut(model, path, (params, state))
    return Submodel(cut, cut_params, cut_state)
