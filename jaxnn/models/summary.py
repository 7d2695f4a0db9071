"""A Keras-like model summary: one row per layer, with parameter counts, bytes and XLA FLOPs.

:func:`summary` walks the model through the combinators' ``children`` (recording every nested
layer with :mod:`jaxnn.capture`), all without allocating a parameter: shapes come from
:func:`jax.eval_shape` of ``init`` and ``apply``. Each row gives the layer's path (the name under
which its params nest, e.g. ``encoder/dense_1``), its type, its output shape, the numbers of
parameters and state entries, their bytes, and the FLOPs of its forward pass.

FLOPs are XLA's own count (``compiled.cost_analysis()["flops"]``) for one forward pass in
evaluation mode (``train=False``) on a batch of ``batch_size`` rows:

- a *leaf* layer's FLOPs are those of its ``apply`` compiled on its own;
- a *combinator*'s FLOPs are the sum of its children's plus the cost of its own merge, also
  counted by XLA: the skip ``x + f(x)`` of a ``residual`` (one FLOP per output element), the
  sum of a ``parallel(combine="sum")`` (``k - 1`` per output element for ``k`` branches); a
  concatenation costs 0 FLOPs;
- the model's total is the same sum at the root.

XLA counts additions and multiplications (a matrix product of ``(N, D_in)`` by
``(D_in, D_out)`` is ``2 N D_in D_out`` FLOPs, a bias add ``N D_out``) and reports ``exp``,
``tanh``, ``sqrt`` and the like apart, as *transcendentals* (kept in :class:`Summary` too).
XLA counts the body of a loop once, so for the recurrent layers (``SimpleRNN``, ``LSTM``,
``GRU``, ``Bidirectional``: a ``lax.scan`` over time) on ``(N, T, D)`` the count is ``T`` times
that of the layer on a sequence of length 1: every time step costs the same.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import precision as precisions
from jaxnn.capture import Record, recording
from jaxnn.core import Layer, check_positive_int
from jaxnn.models._table import Row, Summary
from jaxnn.models._walk import (
    ModelShapes,
    Path,
    children_paths,
    count,
    in_context,
    layer_type,
    model_shapes,
    subtree,
    to_specs,
)
from jaxnn.paths import Pattern, leaves_with_paths, matches
from jaxnn.types import Params, PRNGKey, State

__all__ = ["Row", "Summary", "summary"]


# ----------------------------------------------------------------------------------------------
# Checking given params, tracing apply, counting FLOPs


def _matched(given: Any, expected: Any, arg: str, where: str) -> Any:
    """``given`` as ShapeDtypeStructs in ``expected``'s structure, if every path and shape match."""
    want = dict(leaves_with_paths(expected))
    got = dict(leaves_with_paths(given))
    problems = [f"missing {p!r} (expected shape {want[p].shape})" for p in want if p not in got]
    problems += [f"unexpected {p!r} (shape {np.shape(got[p])})" for p in got if p not in want]
    problems += [
        f"at {p!r} expected shape {want[p].shape}, found {tuple(np.shape(got[p]))}"
        for p in want
        if p in got and tuple(np.shape(got[p])) != want[p].shape
    ]
    if problems:
        raise ValueError(
            f"{where}: {arg} do not match the model: {'; '.join(problems)}. Pass the {arg} "
            f"of this model (from model.init or a TrainState), for this input_shape."
        )
    leaves = [to_specs(got[p]) for p in want]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(expected), leaves)


def _trace(
    model: Layer, params: Params, state: State, x: Any, *, where: str
) -> tuple[Any, dict[Path, tuple[Any, Any]]]:
    """The model's output spec, and each nested layer's (input, output) specs, from ``apply``."""
    paths: list[Path] = []

    def run(p: Params, s: State, inputs: Any) -> tuple[Any, list[tuple[Any, Any]]]:
        with recording() as records:
            y, _ = model.apply(p, s, inputs)
        paths[:] = [r.path for r in records]
        return y, [(r.inputs, r.outputs) for r in records]

    try:
        y, calls = jax.eval_shape(run, params, state, x)
    except (ValueError, TypeError) as error:
        shapes = jax.tree.map(lambda a: f"{a.dtype}{list(a.shape)}", x)
        hint = " (pass dtype= for integer inputs)" if "integer" in str(error) else ""
        raise in_context(
            error, f"{where}: model '{model.name}' on an input {shapes}{hint}"
        ) from error
    return y, dict(zip(paths, calls, strict=True))


def _forward(how: Any, *args: Any) -> Any:
    """The computation whose cost is counted: a leaf's ``apply``, or a combinator's merge."""
    if callable(how):  # a leaf layer's apply, on (params, state, x)
        return how(*args)[0]
    kind, axis = how
    if kind == "add":
        return functools.reduce(jnp.add, args)
    return jnp.concatenate(args, axis=axis)


@functools.lru_cache(maxsize=1024)
def _xla_cost(how: Any, treedef: Any, avals: tuple[tuple[Any, Any], ...]) -> tuple[int, int]:
    """XLA's (flops, transcendentals) of ``_forward(how, *args)``, cached by function and shapes.

    The cache makes a second summary of the same model (other ``frozen`` patterns, a trained
    model's params) compile nothing.
    """
    specs = [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in avals]
    args = jax.tree_util.tree_unflatten(treedef, specs)
    analysis = jax.jit(functools.partial(_forward, how)).lower(*args).compile().cost_analysis()
    if isinstance(analysis, (list, tuple)):  # older jax: one dict per device program
        analysis = analysis[0] if analysis else {}
    analysis = analysis or {}
    return int(analysis.get("flops", 0)), int(analysis.get("transcendentals", 0))


def _cost(how: Any, *specs: Any) -> tuple[int, int]:
    leaves, treedef = jax.tree.flatten(specs)
    return _xla_cost(how, treedef, tuple((tuple(a.shape), jnp.dtype(a.dtype)) for a in leaves))


def _merge_cost(layer: Layer, outs: list[Any], out: Any) -> tuple[int, int]:
    """XLA's cost of a combinator's own merge of its children's outputs ``outs`` into ``out``."""
    config, kind = layer.config or {}, layer_type(layer)
    if kind == "residual":
        return _cost(("add", None), out, out)
    if kind == "parallel" and config.get("combine") == "sum":
        return _cost(("add", None), *outs)
    if kind == "parallel":
        return _cost(("concat", config.get("axis", -1)), *outs)
    return 0, 0  # an unknown combinator: its children only


def _costs(
    model: Layer, walk: ModelShapes, calls: dict[Path, tuple[Any, Any]], params: Params,
    state: State,
) -> dict[Path, tuple[int, int]]:  # fmt: skip
    """(flops, transcendentals) of every layer's forward pass, by path; the root is ``()``."""
    layers = {r.path: r.layer for r in walk.records} | {(): model}
    kids = children_paths(walk.records)
    costs: dict[Path, tuple[int, int]] = {}
    for path in sorted(layers, key=len, reverse=True):  # children before their parents
        layer, (x, y) = layers[path], calls[path]
        if path in kids:
            merge = _merge_cost(layer, [calls[k][1] for k in kids[path]], y)
            parts = [costs[k] for k in kids[path]] + [merge]
            costs[path] = (sum(p[0] for p in parts), sum(p[1] for p in parts))
        else:
            costs[path] = _leaf_cost(layer, subtree(params, path), subtree(state, path), x)
    return costs


_RECURRENT = ("SimpleRNN", "LSTM", "GRU", "Bidirectional")


def _leaf_cost(layer: Layer, params: Params, state: State, x: Any) -> tuple[int, int]:
    """A leaf layer's cost; a recurrent one's is T times its cost on one time step."""
    steps = x.shape[1] if layer_type(layer) in _RECURRENT and getattr(x, "ndim", 0) == 3 else 1
    if steps > 1:
        one = jax.ShapeDtypeStruct((x.shape[0], 1, x.shape[2]), x.dtype)
        flops, transcendentals = _cost(layer.apply, params, state, one)
        return steps * flops, steps * transcendentals
    return _cost(layer.apply, params, state, x)


def _dtype_name(tree: Any, floating_only: bool) -> str:
    """The one dtype of a tree's (floating) leaves; ``"-"`` for none, ``"mixed"`` for several."""
    dtypes = {
        jnp.dtype(a.dtype).name
        for a in jax.tree.leaves(tree)
        if not floating_only or jnp.issubdtype(a.dtype, jnp.floating)
    }
    return dtypes.pop() if len(dtypes) == 1 else ("-" if not dtypes else "mixed")


def _rows(
    model: Layer, walk: ModelShapes, costs: dict[Path, tuple[int, int]], params: Params,
    state: State, calls: dict[Path, tuple[Any, Any]],
) -> tuple[Row, ...]:  # fmt: skip
    records = walk.records or [Record((model.name,), model, walk.input_shape, walk.output_shape)]
    rows = []
    for r in records:
        path = r.path if walk.records else ()
        n_params, b_params = count(subtree(params, path))
        n_state, b_state = count(subtree(state, path))
        kind, depth = layer_type(r.layer), len(r.path) - 1
        bytes_ = b_params + b_state
        dtypes = (
            _dtype_name(subtree(params, path), False), _dtype_name(calls[path][1], True)
        )  # fmt: skip
        rows.append(
            Row(
                "/".join(r.path),
                depth,
                kind,
                r.outputs,
                n_params,
                n_state,
                bytes_,
                *costs[path],
                *dtypes,
            )  # fmt: skip
        )
    return tuple(rows)


def _frozen_count(params: Params, frozen: Sequence[Pattern], where: str) -> int:
    if isinstance(frozen, str):
        raise TypeError(
            f"{where}: frozen must be a list of path patterns such as ['encoder/*']; got the "
            f"string {frozen!r}. Wrap it in a list."
        )
    leaves = leaves_with_paths(params)
    for pattern in frozen:
        if not any(matches(pattern, path) for path, _ in leaves):
            raise ValueError(
                f"{where}: frozen pattern {pattern!r} matches no parameter; the parameter paths "
                f"are {[path for path, _ in leaves]}."
            )
    return sum(math.prod(a.shape) for p, a in leaves if any(matches(q, p) for q in frozen))


# ----------------------------------------------------------------------------------------------
# The public function


def _input_spec(shape: Any, example: Any, batch_size: int, dtype: Any) -> Any:
    if dtype is None:
        dtype = getattr(example, "dtype", None) or jnp.float32
    dtype = jnp.dtype(dtype)
    return jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(tuple(batch_size if d == -1 else d for d in s), dtype),
        shape,
        is_leaf=lambda s: isinstance(s, tuple) and all(isinstance(d, int) for d in s),
    )


def summary(
    model: Layer,
    input_shape: Any,
    *,
    batch_size: int = 1,
    key: PRNGKey | None = None,
    params: Params | None = None,
    state: State | None = None,
    frozen: Sequence[Pattern] = (),
    dtype: Any = None,
    precision: Any = None,
    print_fn: Callable[[str], Any] | None = print,
) -> Summary:
    """Summarises a model: one row per layer with output shape, counts, bytes and XLA FLOPs.

    Nothing is allocated or run: shapes come from ``jax.eval_shape``; FLOPs from compiling each
    leaf layer on its own (see the module docstring for what is counted). In a notebook, the
    table is printed and the returned :class:`Summary` shows as one line; pass
    ``print_fn=None`` to only return it.

    Args:
        model: A :class:`~jaxnn.Layer`, e.g. a :func:`~jaxnn.serial` model.
        input_shape: The input shape with the batch axis first, ``-1`` for any batch size (e.g.
            ``(-1, 784)``), an example array, or a tree of them for dict inputs.
        batch_size: The number of rows that replaces ``-1`` to count FLOPs (default 1).
        key: The key for ``model.init`` (default ``jax.random.key(0)``); counts do not depend on it.
        params: Trained params to count instead of ``init``'s (e.g. ``train_state.params``);
            their paths and shapes must be those of ``init``'s, their dtypes may differ.
        state: Likewise for the state (default: ``init``'s).
        frozen: Path patterns of frozen params, as :func:`jaxnn.optimizers.freeze` takes them
            (e.g. ``["encoder/*"]``); counted apart from the trainable ones (default: none).
        dtype: The input's dtype (default: the example array's, else float32); ``jnp.int32``
            for a model that starts with an ``Embedding``.
        precision: A precision policy (:mod:`jaxnn.precision`; default float32, or the
            ``params``' own dtypes): the params are counted in its parameter dtype and the
            layers traced in its compute dtype, as :func:`~jaxnn.fit` would run them. The table
            gains a ``Dtype`` column (``params/compute``) whenever a dtype is not float32.
        print_fn: Called with the table (default ``print``); ``None`` prints nothing.

    Returns:
        A :class:`Summary`.

    Raises:
        TypeError, ValueError: If the model rejects ``input_shape`` (the layer's message, with
            ``summary`` and the model named), ``params`` or ``state`` do not match the model (the
            message names each path with the expected and found shapes), a ``frozen`` pattern
            matches no parameter, ``batch_size`` is not a positive int, or ``precision`` is not
            a policy (the choices are named).

    Example:
        >>> import jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense
        >>> s = summary(jaxnn.serial(Dense(3), jnp.tanh, Dense(2)), (-1, 4), frozen=["dense/*"])
        Model 'serial': input (None, 4) -> output (None, 2)
        --------------------------------------------------------------
        Layer    Type      Output shape  Params  State  Bytes    FLOPs
        --------------------------------------------------------------
        dense    Dense     (None, 3)         15      0   60 B  27 FLOP
        tanh     function  (None, 3)          0      0    0 B   0 FLOP
        dense_1  Dense     (None, 2)          8      0   32 B  14 FLOP
        --------------------------------------------------------------
        Total params: 23 (92 B)
        Trainable params: 8
        Frozen params: 15
        State: 0 (0 B)
        FLOPs (forward, batch 1): 41 FLOP, transcendentals 3
        >>> s.rows[0].flops == 2 * 1 * 4 * 3 + 1 * 3  # matmul 2*N*D_in*D_out + bias N*D_out
        True
        >>> s.trainable_params, s.bytes  # 23 float32 params: 92 bytes
        (8, 92)
        >>> m = summary(jaxnn.serial(Dense(3)), (-1, 4), precision="mixed_bfloat16", print_fn=None)
        >>> m.rows[0].param_dtype, m.rows[0].compute_dtype  # float32 master, bfloat16 compute
        ('float32', 'bfloat16')
    """
    check_positive_int(batch_size, where="summary", arg="batch_size")
    walk = model_shapes(model, input_shape, key=key, where="summary")
    params = walk.params if params is None else _matched(params, walk.params, "params", "summary")
    state = walk.state if state is None else _matched(state, walk.state, "state", "summary")
    x = _input_spec(walk.input_shape, input_shape, batch_size, dtype)
    policy = None if precision is None else precisions.get(precision, where="summary")
    run = params
    if policy is not None and not policy.is_default:
        params = precisions.cast_floating(params, policy.param_dtype)
        run = precisions.cast_floating(params, policy.compute_dtype)
        x = precisions.cast_floating(x, policy.compute_dtype)
    y, calls = _trace(model, run, state, x, where="summary")
    calls = calls | {(): (x, y)}
    costs = _costs(model, walk, calls, run, state)
    n_frozen = _frozen_count(params, frozen, "summary")
    (n_params, b_params), (n_state, b_state) = count(params), count(state)
    result = Summary(
        model.name, walk.input_shape, walk.output_shape, batch_size,
        _rows(model, walk, costs, params, state, calls), n_params, n_params - n_frozen, n_frozen,
        b_params, n_state, b_state, *costs[()], "float32" if policy is None else policy.name,
    )  # fmt: skip
    if print_fn is not None:
        print_fn(str(result))
    return result
