"""What XLA says a compiled program costs, and what the device can do at most.

FLOPs and bytes accessed come from ``compiled.cost_analysis()``, memory from
``compiled.memory_analysis()``. The peak FLOP/s is measured on the spot with a large matmul, and
the vendor's figure is looked up by device kind for common NVIDIA GPUs and TPUs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.bench.families import activations_per_example, build, resolve_precision
from jaxnn.bench.timing import Clock, time_calls
from jaxnn.core import check_positive_int

__all__ = [
    "VENDOR_PEAK",
    "compiled_cost",
    "estimate_memory",
    "measured_bandwidth",
    "measured_peak_flops",
    "vendor_peak_flops",
]

# Dense (no sparsity) peak FLOP/s from the vendors' data sheets, by a substring of
# `device.device_kind` (the first match wins, so "A100" comes before "A10").
VENDOR_PEAK: tuple[tuple[str, dict[str, float]], ...] = (
    ("H200", {"float32": 67e12, "bfloat16": 989e12, "float16": 989e12}),
    ("H100 PCIe", {"float32": 51e12, "bfloat16": 756e12, "float16": 756e12}),
    ("H100", {"float32": 67e12, "bfloat16": 989e12, "float16": 989e12}),
    ("A100", {"float32": 19.5e12, "bfloat16": 312e12, "float16": 312e12}),
    ("A10", {"float32": 31.2e12, "bfloat16": 125e12, "float16": 125e12}),
    ("L4", {"float32": 30.3e12, "bfloat16": 121e12, "float16": 121e12}),
    ("V100", {"float32": 15.7e12, "float16": 125e12}),
    ("T4", {"float32": 8.1e12, "float16": 65e12}),
    ("TPU v6", {"bfloat16": 918e12}),
    ("TPU v5 lite", {"bfloat16": 197e12}),
    ("TPU v5e", {"bfloat16": 197e12}),
    ("TPU v5", {"bfloat16": 459e12}),
    ("TPU v4", {"bfloat16": 275e12}),
    ("TPU v3", {"bfloat16": 123e12}),
    ("TPU v2", {"bfloat16": 45e12}),
)


def vendor_peak_flops(device_kind: str, dtype: str) -> float | None:
    """The vendor's peak FLOP/s for a device kind and dtype, or ``None`` when unknown.

    Example:
        >>> vendor_peak_flops("NVIDIA A100-SXM4-80GB", "bfloat16")
        312000000000000.0
        >>> vendor_peak_flops("cpu", "float32") is None
        True
    """
    for pattern, peaks in VENDOR_PEAK:
        if pattern.lower() in device_kind.lower():
            return peaks.get(dtype)
    return None


def compiled_cost(compiled: Any) -> dict[str, float | None]:
    """FLOPs, bytes accessed and memory of a compiled program (``jit(f).lower(...).compile()``).

    Returns:
        ``flops``, ``bytes_accessed`` (``None`` where XLA gives no cost analysis),
        ``argument_bytes``, ``output_bytes``, ``temp_bytes`` and ``peak_bytes`` (arguments +
        outputs - aliased + temporaries; ``None`` without a memory analysis).

    Example:
        >>> c = jax.jit(lambda a, b: a @ b).lower(jnp.ones((4, 8)), jnp.ones((8, 3))).compile()
        >>> compiled_cost(c)["flops"]  # 2 * 4 * 8 * 3
        192.0
    """
    try:
        analysis = compiled.cost_analysis()
    except Exception:  # some backends do not implement it; the figures are then unknown
        analysis = None
    if isinstance(analysis, (list, tuple)):  # older jax: one dict per program
        analysis = analysis[0] if analysis else None
    analysis = analysis or {}
    flops = analysis.get("flops")
    bytes_accessed = analysis.get("bytes accessed")
    out: dict[str, float | None] = {
        "flops": float(flops) if flops is not None else None,
        "bytes_accessed": float(bytes_accessed) if bytes_accessed is not None else None,
    }
    try:
        mem = compiled.memory_analysis()
    except Exception:  # as above
        mem = None
    names = ("argument", "output", "alias", "temp")
    sizes: dict[str, Any] = {n: getattr(mem, f"{n}_size_in_bytes", None) for n in names}
    for n in ("argument", "output", "temp"):
        out[f"{n}_bytes"] = float(sizes[n]) if sizes[n] is not None else None
    if all(v is not None for v in sizes.values()):
        peak = sizes["argument"] + sizes["output"] - sizes["alias"] + sizes["temp"]
        out["peak_bytes"] = float(peak)
    else:
        out["peak_bytes"] = None
    return out


def measured_peak_flops(
    device: Any,
    dtype: str,
    *,
    size: int = 2048,
    repeats: int = 3,
    clock: Clock = time.perf_counter,
) -> float:
    """FLOP/s of a ``size x size`` matmul on ``device``: the median of ``repeats`` runs.

    Args:
        device: A ``jax.Device``.
        dtype: ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        size: The matrix side (default 2048: 2 * 2048^3 = 17 GFLOP per call).
        repeats: Timed calls after one warm-up (default 3).
        clock: Seconds as a float.

    Returns:
        ``2 * size**3 / median seconds``.
    """
    a = jax.device_put(jnp.ones((size, size), dtype), device)
    matmul = jax.jit(lambda a: a @ a)
    timing = time_calls(
        lambda: jax.block_until_ready(matmul(a)), warmup=1, repeats=repeats, clock=clock
    )
    return 2.0 * size**3 / timing.median


def measured_bandwidth(
    device: Any,
    *,
    mib: int = 256,
    repeats: int = 3,
    clock: Clock = time.perf_counter,
) -> float:
    """Memory bandwidth of ``device`` in bytes/s: a streaming ``y = 2 x`` over ``mib`` MiB.

    Each call reads the array once and writes a new one of the same size, so it moves
    ``2 * mib`` MiB; the figure is that over the median of ``repeats`` timed calls after a
    warm-up (STREAM's "scale" kernel). The array is far larger than the caches of a CPU (and of
    a GPU's L2), so what is timed is main memory.

    Args:
        device: A ``jax.Device``.
        mib: The array's size in MiB (default 256).
        repeats: Timed calls after one warm-up (default 3).
        clock: Seconds as a float.

    Returns:
        Bytes per second.

    Example:
        >>> ticks = iter(range(100))
        >>> rate = measured_bandwidth(jax.devices()[0], mib=1, clock=lambda: next(ticks) * 1e-3)
        >>> rate == 2 * 2**20 / 1e-3  # two MiB moved per call, one tick (1 ms) per call
        True
    """
    check_positive_int(mib, where="measured_bandwidth", arg="mib")
    a = jax.device_put(jnp.ones((mib * 2**20 // 4,), jnp.float32), device)
    scale = jax.jit(lambda a: a * 2.0)
    timing = time_calls(
        lambda: jax.block_until_ready(scale(a)), warmup=1, repeats=repeats, clock=clock
    )
    return 2.0 * mib * 2**20 / timing.median


def estimate_memory(config: Mapping[str, Any], precision: str) -> int:
    """Bytes a train step needs, estimated from the shapes before anything compiles.

    Parameters four times (params, gradients and Adam's two moments) in the policy's parameter
    dtype, plus the batch's activations twice (forward values and their gradients) in its
    compute dtype.

    Args:
        config: A configuration.
        precision: A policy name (or an older dtype name, see
            :func:`jaxnn.bench.families.resolve_precision`).

    Example:
        >>> # params 32*10+10 + 10*10+10 = 440; activations 2 * (32 + 10 + 10) = 104
        >>> estimate_memory({"family": "fc", "layers": 1, "width": 10, "batch": 2}, "float32")
        7872
        >>> # mixed_bfloat16: float32 params, bfloat16 activations: 4 * (4 * 440) + 2 * (2 * 104)
        >>> estimate_memory({"family": "fc", "layers": 1, "width": 10, "batch": 2},
        ...                 "mixed_bfloat16")
        7456
    """
    policy = resolve_precision(precision)
    built = build(config)
    shapes = jax.eval_shape(lambda: built.model.init(jax.random.key(0), built.x_shape)[1])
    params = sum(math.prod(s.shape) for s in jax.tree.leaves(shapes))
    acts = built.x_shape[0] * activations_per_example(config)
    param_bytes = jnp.dtype(policy.param_dtype).itemsize
    compute_bytes = jnp.dtype(policy.compute_dtype).itemsize
    return int(4 * params * param_bytes + 2 * acts * compute_bytes)
