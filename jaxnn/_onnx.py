"""ONNX for :func:`jaxnn.export`: conversion with ``jax2onnx`` and a check in ``onnxruntime``.

Both packages are the optional ``onnx`` extra (``pip install "jaxnn[onnx]"``) and are imported
only when an ONNX file is asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.core import Layer

__all__ = ["onnx_bytes", "verify_onnx"]

_ONNX_HINT = 'pip install "jaxnn[onnx]"'


def _leaf_names(tree: Any, default: str) -> list[str]:
    """ONNX names: ``x`` for one array, ``x_a``, ``x_0`` ... for the leaves of a dict or tuple."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    paths = [jax.tree_util.keystr(p, simple=True, separator="_") for p, _ in leaves]
    return [default] if paths == [""] else [f"{default}_{p}" for p in paths]


def _import_onnx(what: str, hint: str = "") -> Any:
    try:
        return __import__(what)
    except ImportError as error:
        raise ImportError(
            f"export: ONNX export needs the {what} package: {_ONNX_HINT}{hint}."
        ) from error


def onnx_bytes(fn: Callable[[Any], Any], specs: Any, out: Any, model: Layer, opset: Any) -> bytes:
    jax2onnx = _import_onnx("jax2onnx")
    leaves, tree = jax.tree.flatten(specs)

    def flat_fn(*xs: Any) -> Any:
        return fn(jax.tree.unflatten(tree, xs))

    options = {} if opset is None else {"opset": opset}
    # jax2onnx's IR logs a warning per untyped shape constant: harmless (the model is checked in
    # onnxruntime), but alarming.
    logger = logging.getLogger("onnx_ir.serde")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        proto = jax2onnx.to_onnx(
            flat_fn,
            leaves,
            model_name=str(model.name),
            input_names=_leaf_names(specs, "x"),
            output_names=_leaf_names(out, "y"),
            **options,
        )
    except Exception as error:
        hint = " (a reversed scan: Bidirectional or reverse=True)" if "everse" in str(error) else ""
        raise NotImplementedError(
            f"export: jax2onnx {version('jax2onnx')} cannot convert model {model.name!r} to "
            f"ONNX: {type(error).__name__}: {error}{hint}. Export to StableHLO instead (a "
            f"'.stablehlo' path)."
        ) from error
    finally:
        logger.setLevel(level)
    try:
        return proto.SerializeToString()
    except ValueError as error:  # protobuf's 2 GB limit; jax2onnx would need a .data side file
        raise ValueError(
            f"export: {model.name!r} is too large for one ONNX file; {error}"
        ) from error


def _sample(concrete: Any) -> Any:
    """A batch of 2 for each input: standard normal floats, zeros otherwise."""
    rng = np.random.default_rng(0)

    def one(s: jax.ShapeDtypeStruct) -> np.ndarray:
        if jnp.issubdtype(s.dtype, jnp.floating):
            return rng.standard_normal(s.shape).astype(s.dtype)
        return np.zeros(s.shape, s.dtype)

    return jax.tree.map(one, concrete)


def verify_onnx(
    data: bytes, fn: Callable[[Any], Any], specs: Any, concrete: Any, model: Layer
) -> None:
    """Runs the ONNX model in onnxruntime on a sample batch and compares it with JAX."""
    ort = _import_onnx("onnxruntime", ", or pass verify=False")
    x = _sample(concrete)
    want = [np.asarray(y) for y in jax.tree.leaves(jax.jit(fn)(x))]
    options = ort.SessionOptions()
    options.log_severity_level = 4  # its warnings and errors reach the user in our message
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        feeds = dict(zip(_leaf_names(specs, "x"), jax.tree.leaves(x), strict=True))
        got = session.run(None, feeds)
    except Exception as error:
        raise RuntimeError(
            f"export: the ONNX model that jax2onnx {version('jax2onnx')} made of {model.name!r} "
            f"does not run in onnxruntime ({type(error).__name__}: {error}); nothing was "
            f"written. Export to StableHLO instead (a '.stablehlo' path)."
        ) from error
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        scale = max(1.0, float(np.max(np.abs(w), initial=0.0)))
        if g.shape != w.shape or not np.allclose(g, w, rtol=1e-3, atol=1e-4 * scale):
            diff = f"shape {g.shape}" if g.shape != w.shape else f"{np.max(np.abs(g - w)):.3g}"
            raise RuntimeError(
                f"export: the ONNX model of {model.name!r} disagrees with JAX on a sample batch "
                f"(output {i}: max |difference| {diff}); nothing was written. Export to "
                f"StableHLO instead (a '.stablehlo' path)."
            )
