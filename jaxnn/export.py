r"""Export a trained model's inference function to StableHLO (:mod:`jax.export`) or ONNX.

The file holds :math:`f(x) = \mathrm{apply}(\theta, s, x;\ \mathrm{train}=\mathrm{False})_0`
with the weights baked in, so the function read back takes only the input batch; a ``-1`` batch axis
becomes the symbolic dimension ``batch`` (any batch size >= 1). ``.stablehlo``, ``.jaxexport`` or
``.bin``: ``Exported.serialize()`` bytes, read by any process with jax alone
(``jax.export.deserialize(open(path, "rb").read()).call(x)``) or by :func:`load_exported`.
``.onnx``: an ONNX model converted by ``jax2onnx`` and checked in ``onnxruntime`` before it is
written (``pip install "jaxnn[onnx]"``). Writes are atomic: a failed export keeps the old file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import export as jax_export

from jaxnn._onnx import onnx_bytes, verify_onnx
from jaxnn.checkpoint import write_atomic
from jaxnn.core import Layer

__all__ = ["export", "exported_text", "load_exported"]

_SUFFIXES = {".stablehlo": "stablehlo", ".jaxexport": "stablehlo", ".bin": "stablehlo"}
_SUFFIXES[".onnx"] = "onnx"
_PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


def _format_of(path: Path, fmt: str | None, where: str) -> str:
    by_suffix = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        if by_suffix is None:
            raise ValueError(
                f"{where}: cannot tell the format from the suffix of {str(path)!r}; use one of "
                f"{sorted(_SUFFIXES)} or pass format='stablehlo' or format='onnx'."
            )
        return by_suffix
    if fmt not in ("onnx", "stablehlo"):
        raise ValueError(f"{where}: format must be one of ['onnx', 'stablehlo']; got {fmt!r}.")
    if by_suffix is not None and by_suffix != fmt:
        raise ValueError(
            f"{where}: format={fmt!r} but the suffix of {str(path)!r} means {by_suffix!r}; "
            f"change one of them."
        )
    return fmt


def _weights(train_state: Any) -> tuple[Any, Any]:
    if hasattr(train_state, "params") and hasattr(train_state, "state"):
        return train_state.params, train_state.state
    if isinstance(train_state, (tuple, list)) and len(train_state) == 2:
        return train_state[0], train_state[1]
    raise TypeError(
        f"export: train_state must be a jaxnn.TrainState or a (params, state) pair; got "
        f"{type(train_state).__name__}."
    )


def _spec(node: Any, dtype: Any, batch: Any) -> Any:
    """One input's ``ShapeDtypeStruct``, a ``-1``/``None`` batch axis made symbolic."""
    if isinstance(node, jax.ShapeDtypeStruct):
        return node
    if hasattr(node, "shape") and hasattr(node, "dtype"):  # an example array: taken literally
        return jax.ShapeDtypeStruct(tuple(node.shape), node.dtype)
    dims = [-1 if d is None else int(d) for d in node]
    if any(d < -1 for d in dims) or -1 in dims[1:]:
        raise ValueError(
            f"export: input_shape may have -1 (any size) only on the batch axis and no other "
            f"negative size; got {tuple(node)}. For other symbolic axes pass a "
            f"jax.ShapeDtypeStruct(jax.export.symbolic_shape('batch, t, 4'), jnp.float32)."
        )
    shape = tuple(batch if i == 0 and d == -1 else d for i, d in enumerate(dims))
    return jax.ShapeDtypeStruct(shape, dtype)


def _specs(input_shape: Any, dtype: Any) -> Any:
    """The pytree of ``ShapeDtypeStruct`` that the exported function takes."""
    batch = jax_export.symbolic_shape("batch")[0]

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {k: walk(v) for k, v in node.items()}
        is_shape = isinstance(node, (tuple, list)) and all(
            d is None or isinstance(d, (int, np.integer)) for d in node
        )
        if is_shape or hasattr(node, "shape"):
            return _spec(node, dtype, batch)
        if isinstance(node, (tuple, list)):
            return type(node)(walk(v) for v in node)
        raise TypeError(
            f"export: input_shape must be a shape such as (-1, 784), an example array, a "
            f"jax.ShapeDtypeStruct, or a dict/tuple of them; got {type(node).__name__} {node!r}."
        )

    return walk(input_shape)


def _inference_fn(model: Layer, params: Any, state: Any) -> Callable[[Any], Any]:
    def infer(x: Any) -> Any:
        return model.apply(params, state, x, train=False)[0]

    infer.__name__ = infer.__qualname__ = str(model.name)  # names the exported module
    return infer


def _concrete(specs: Any, size: int = 2) -> Any:
    """``specs`` with every symbolic size set to ``size``."""
    return jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(
            tuple(d if isinstance(d, int) else size for d in s.shape), s.dtype
        ),
        specs,
    )


def _trace(fn: Callable[[Any], Any], specs: Any, model: Layer) -> Any:
    """The output shapes; says so when only the symbolic batch axis stops the model tracing."""
    try:
        return jax.eval_shape(fn, specs)
    except Exception as error:
        if all(isinstance(d, int) for s in jax.tree.leaves(specs) for d in s.shape):
            raise
        try:
            jax.eval_shape(fn, _concrete(specs))
        except Exception:
            raise error from None
        raise ValueError(
            f"export: model {model.name!r} traces with a fixed batch size but not with a "
            f"symbolic one ({type(error).__name__}: {str(error).rstrip('.')}). Export it for a "
            f"fixed batch size, e.g. input_shape=(32, ...)."
        ) from error


def _platforms(platforms: Any) -> tuple[str, ...]:
    if platforms is None:
        return (jax_export.default_export_platform(),)
    names = (platforms,) if isinstance(platforms, str) else tuple(platforms)
    unknown = [p for p in names if p not in _PLATFORMS]
    if not names or unknown:
        raise ValueError(
            f"export: platforms must be names from {sorted(_PLATFORMS)} (NVIDIA GPUs are "
            f"'cuda'); got {platforms!r}."
        )
    return names


def _check_target(path: Path, where: str) -> None:
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"{where}: the folder {str(path.parent)!r} of {str(path)!r} does not exist; create "
            f"it first."
        )
    if path.is_dir():
        raise IsADirectoryError(f"{where}: path {str(path)!r} is a folder; give a file name.")


def export(
    model: Layer,
    train_state: Any,
    input_shape: Any,
    path: str | os.PathLike,
    *,
    format: str | None = None,
    platforms: str | Sequence[str] | None = None,
    opset: int | None = None,
    dtype: Any = None,
    verify: bool = True,
) -> Path:
    r"""Writes the model's inference function, weights included, to a StableHLO or ONNX file.

    .. math:: f(x) = \mathrm{apply}(\theta, s, x;\ \mathrm{train}=\mathrm{False})_0

    Args:
        model: The model.
        train_state: A :class:`~jaxnn.TrainState` or a ``(params, state)`` pair.
        input_shape: The input's shape with its batch axis first, ``-1`` or ``None`` for any
            batch size (the symbolic dimension ``batch``), e.g. ``(-1, 784)``. Also a
            ``jax.ShapeDtypeStruct`` (symbolic dims allowed), an example array (shape and
            dtype taken as they are, batch included), or a dict, tuple or list of these for a
            model with several inputs (their ``-1`` axes share one batch size).
        path: The file to write; its folder must exist. An existing file is replaced only once
            the new one is complete.
        format: ``"stablehlo"`` or ``"onnx"``; default from the suffix (``.stablehlo``,
            ``.jaxexport``, ``.bin``: StableHLO; ``.onnx``: ONNX).
        platforms: StableHLO only: where the file may run, from ``"cpu"``, ``"cuda"``, ``"rocm"``,
            ``"tpu"`` (default: the current backend). ``("cpu", "cuda")`` lowers for both.
        opset: ONNX only: the opset version (default: jax2onnx's default, 23 in jax2onnx 0.17).
        dtype: The dtype of inputs given as shapes (default float32).
        verify: ONNX only: run the converted model in onnxruntime on a sample batch of 2 and
            compare it with JAX before writing (default True).

    A model that does not accept the input raises its own error, naming the layer.

    Returns:
        The path written.

    Raises:
        ValueError: For an unknown or conflicting format or suffix, a ``-1`` on a non-batch
            axis, an unknown platform, ``platforms`` with ONNX or ``opset`` with StableHLO, or a
            model that traces with a fixed batch size but not with a symbolic one.
        TypeError: If ``train_state`` or ``input_shape`` has the wrong kind.
        FileNotFoundError: If the folder of ``path`` does not exist.
        ImportError: For ONNX without ``jax2onnx`` (or ``onnxruntime`` when verifying).
        NotImplementedError: If jax2onnx cannot convert the model (its message names the
            primitive).
        RuntimeError: If the ONNX model fails or disagrees with JAX in onnxruntime.

    Example:
        >>> import os, tempfile, jax, jax.numpy as jnp, optax, jaxnn
        >>> from jaxnn.layers import Dense
        >>> model = jaxnn.serial(Dense(4), jnp.tanh, Dense(2))
        >>> ts = jaxnn.TrainState.create(model, jax.random.key(0), (-1, 3), optax.sgd(0.1))
        >>> path = export(model, ts, (-1, 3), os.path.join(tempfile.mkdtemp(), "m.stablehlo"))
        >>> f = load_exported(path)  # or jax.export.deserialize(path.read_bytes()).call
        >>> x = jnp.arange(15.0).reshape(5, 3) / 10
        >>> f(x).shape, bool(jnp.allclose(f(x), jaxnn.predict(model, ts, x), atol=1e-6))
        ((5, 2), True)
    """
    path = Path(path)
    fmt = _format_of(path, format, "export")
    if fmt == "onnx" and platforms is not None:
        raise ValueError("export: platforms applies to StableHLO; ONNX runs where ONNX runs.")
    if fmt == "stablehlo" and opset is not None:
        raise ValueError("export: opset applies to ONNX only; drop it or use a '.onnx' path.")
    _check_target(path, "export")
    params, state = _weights(train_state)
    specs = _specs(input_shape, jnp.float32 if dtype is None else dtype)
    fn = _inference_fn(model, params, state)
    out = _trace(fn, specs, model)
    if fmt == "stablehlo":
        exported = jax_export.export(jax.jit(fn), platforms=_platforms(platforms))(specs)
        data = bytes(exported.serialize())
    else:
        data = onnx_bytes(fn, specs, out, model, opset)
        if verify:
            verify_onnx(data, fn, specs, _concrete(specs), model)
    write_atomic(path, data)
    return path


def _read_exported(path: str | os.PathLike, where: str) -> tuple[jax_export.Exported, str]:
    """The deserialized file and its StableHLO text (parsing it finds a damaged module)."""
    path = Path(path)
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind == "onnx":
        raise ValueError(
            f"{where}: {str(path)!r} is an ONNX file; {where} reads jax.export files. Run it "
            f"with onnxruntime.InferenceSession({str(path)!r})."
        )
    if kind is None:
        known = sorted(s for s, k in _SUFFIXES.items() if k == "stablehlo")
        raise ValueError(
            f"{where}: {str(path)!r} does not end in a jax.export suffix {known}; rename it, or "
            f"read it with jax.export.deserialize(open(path, 'rb').read())."
        )
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no exported model at {str(path)!r}.")
    try:
        exported = jax_export.deserialize(bytearray(path.read_bytes()))
        text = exported.mlir_module()
    except Exception as error:  # a damaged flatbuffer or module raises many kinds
        raise ValueError(
            f"{where}: {str(path)!r} is truncated, corrupt or not a jax.export file "
            f"({type(error).__name__}: {error})."
        ) from error
    return exported, text


def _describe(shape: Sequence[Any]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


def _check_input(exported: jax_export.Exported, x: Any) -> Any:
    """``x`` as arrays, checked against the exported input: structure, rank, sizes, dtype."""
    xs = jax.tree.map(jnp.asarray, x)
    in_tree: Any = exported.in_tree  # the args and kwargs of the call: ((x,), {})
    if in_tree != jax.tree.structure(((xs,), {})):
        want = jax.tree.unflatten(exported.in_tree, exported.in_avals)[0][0]
        raise TypeError(
            f"load_exported: x must have the structure of the exported input, "
            f"{jax.tree.structure(want)}; got {jax.tree.structure(xs)}."
        )
    seen: dict[str, int] = {}  # symbolic size -> its value in this call
    leaves = jax.tree_util.tree_flatten_with_path(xs)[0]
    for (where, leaf), aval in zip(leaves, exported.in_avals, strict=True):
        name = "x" + jax.tree_util.keystr(where)
        if leaf.ndim != len(aval.shape) or any(
            n < 1 if not isinstance(d, int) else n != d
            for n, d in zip(leaf.shape, aval.shape, strict=True)
        ):
            raise ValueError(
                f"load_exported: {name} must have shape {_describe(aval.shape)} (symbolic sizes "
                f"such as batch take any value >= 1); got {_describe(leaf.shape)}."
            )
        for n, d in zip(leaf.shape, aval.shape, strict=True):
            if not isinstance(d, int) and seen.setdefault(str(d), n) != n:
                raise ValueError(
                    f"load_exported: {name} has {d} = {n} but an earlier input has {d} = "
                    f"{seen[str(d)]}; all inputs must agree."
                )
        if leaf.dtype != aval.dtype:
            raise TypeError(
                f"load_exported: {name} must have dtype {aval.dtype}; got {leaf.dtype}. Cast it "
                f"with x.astype('{aval.dtype}')."
            )
    return xs


def load_exported(path: str | os.PathLike) -> Callable[[Any], Any]:
    """Reads a jax.export (StableHLO) file back as a function ``x -> y``.

    The function checks ``x`` against the exported input (clear errors for a wrong rank, size
    or dtype) and runs ``jax.jit(exported.call)``, compiled once per batch size. Reading the file
    needs only jax: ``jax.export.deserialize(open(path, "rb").read()).call(x)`` does the same
    without the checks.

    Args:
        path: A file written by :func:`export` (or by ``Exported.serialize()``) with a
            ``.stablehlo``, ``.jaxexport`` or ``.bin`` suffix.

    Returns:
        The inference function; it also works inside ``jax.jit`` (not under ``jax.vmap``: jax has
        no batching rule for an exported call, and none is needed, as the batch axis is there).

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        ValueError: For an ONNX or unknown suffix, or a truncated or corrupt file (checked
            here, not at the first call). The function raises ``ValueError`` for an input whose
            rank or fixed sizes differ and ``TypeError`` for another dtype or structure.

    Example:
        >>> import os, tempfile, jax, jax.numpy as jnp
        >>> from jaxnn.layers import Dense
        >>> model = Dense(2, kernel_init="ones")
        >>> _, params, state = model.init(jax.random.key(0), (-1, 3))
        >>> path = os.path.join(tempfile.mkdtemp(), "dense.bin")
        >>> f = load_exported(export(model, (params, state), (-1, 3), path))
        >>> f(jnp.ones((4, 3)))[0]  # 1 + 1 + 1 and a zero bias
        Array([3., 3.], dtype=float32)
        >>> f(jnp.ones((4, 5)))
        Traceback (most recent call last):
        ValueError: load_exported: x must have shape (batch, 3) (...); got (4, 5).
    """
    exported, _ = _read_exported(path, "load_exported")
    run = jax.jit(exported.call)

    def call(x: Any) -> Any:
        return run(_check_input(exported, x))

    call.__name__ = call.__qualname__ = exported.fun_name
    call.__doc__ = f"The exported {exported.fun_name!r} read from {str(path)!r}."
    return call


def exported_text(path: str | os.PathLike) -> str:
    """The StableHLO module of a jax.export file, as MLIR text, to read or diff.

    Args:
        path: A file written by :func:`export` in StableHLO format.

    Returns:
        The module text: ``func.func public @main`` takes the input (``?`` marks the symbolic
        batch axis) and the weights appear as ``stablehlo.constant`` values.

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        ValueError: As :func:`load_exported`.

    Example:
        >>> import os, tempfile, jax, jax.numpy as jnp
        >>> from jaxnn.layers import Dense
        >>> model = Dense(2)
        >>> _, params, state = model.init(jax.random.key(0), (-1, 3))
        >>> path = os.path.join(tempfile.mkdtemp(), "dense.bin")
        >>> text = exported_text(export(model, (params, state), (-1, 3), path))
        >>> "tensor<?x3xf32>" in text, "stablehlo.dot_general" in text
        (True, True)
    """
    return _read_exported(path, "exported_text")[1]
