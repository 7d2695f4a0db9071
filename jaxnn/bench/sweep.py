"""The sweep: every configuration on every backend and dtype, written as it goes.

Records go to ``<out>/bench.json`` after each configuration (atomically), so an interrupted
sweep keeps what it measured and ``resume=True`` skips those. A configuration whose estimated
memory exceeds the device's limit is recorded as skipped with the reason, not run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax

from jaxnn.bench.cost import estimate_memory, measured_peak_flops
from jaxnn.bench.measure import measure, record_header
from jaxnn.bench.records import load_records, record_key, save_records

__all__ = ["DTYPES", "add_speedups", "check_dtype", "resolve_backends", "run_sweep"]

DTYPES = ("bfloat16", "float16", "float32")
# What each platform computes in; bfloat16 on a GPU also needs compute capability 8.0 or newer.
_SUPPORTED = {
    "cpu": ("bfloat16", "float32"),
    "gpu": ("bfloat16", "float16", "float32"),
    "tpu": ("bfloat16", "float32"),
}


def resolve_backends(names: Sequence[str] | None = None) -> list[Any]:
    """The first device of each backend named (default: every platform JAX can see).

    Raises:
        ValueError: For a backend that is not present, listing the ones that are.

    Example:
        >>> [d.platform for d in resolve_backends(["cpu"])]
        ['cpu']
    """
    present: dict[str, Any] = {}
    for platform in ("cpu", "gpu", "tpu"):
        try:
            present[platform] = jax.devices(platform)[0]
        except RuntimeError:  # that backend is not installed or has no device
            continue
    if not names:
        return list(present.values())
    for name in names:
        if name not in present:
            raise ValueError(
                f"bench: backend {name!r} is not present; present: {', '.join(sorted(present))}."
            )
    return [present[n] for n in dict.fromkeys(names)]


def check_dtype(dtype: str, device: Any) -> None:
    """Checks that ``device`` computes in ``dtype``.

    Raises:
        ValueError: For an unknown dtype (listing the known ones), or one the backend lacks.

    Example:
        >>> check_dtype("float16", jax.devices("cpu")[0])
        Traceback (most recent call last):
        ...
        ValueError: bench: backend 'cpu' does not compute in float16; use one of bfloat16, float32.
    """
    if dtype not in DTYPES:
        raise ValueError(f"bench: unknown dtype {dtype!r}; known: {', '.join(DTYPES)}.")
    supported = _SUPPORTED.get(device.platform, ("float32",))
    capability = getattr(device, "compute_capability", None)
    if device.platform == "gpu" and capability and float(capability) < 8.0:
        supported = ("float16", "float32")
    if dtype not in supported:
        raise ValueError(
            f"bench: backend {device.platform!r} does not compute in {dtype}; use one of "
            f"{', '.join(supported)}."
        )


def _memory_limit(device: Any) -> int | None:
    try:
        stats = device.memory_stats() or {}
    except Exception:  # CPU and some plugins report no memory statistics
        stats = {}
    return stats.get("bytes_limit")


def add_speedups(records: list[dict[str, Any]]) -> None:
    """Sets ``speedup_vs_cpu``: the CPU's step time over this record's, same config and dtype.

    Example:
        >>> rs = [
        ...     {"status": "ok", "family": "fc", "config": {"b": 1}, "dtype": "float32",
        ...      "backend": b, "fit_step_s": t}
        ...     for b, t in (("cpu", 2.0), ("gpu", 0.5))
        ... ]
        >>> add_speedups(rs)
        >>> [r["speedup_vs_cpu"] for r in rs]
        [1.0, 4.0]
    """
    cpu = {
        record_key(r, backend=False): r["fit_step_s"]
        for r in records
        if r.get("status") == "ok" and r["backend"] == "cpu"
    }
    for r in records:
        base = cpu.get(record_key(r, backend=False))
        if r.get("status") == "ok" and base and r["fit_step_s"]:
            r["speedup_vs_cpu"] = base / r["fit_step_s"]


def _skipped(config: Mapping[str, Any], device: Any, dtype: str, reason: str) -> dict[str, Any]:
    return {**record_header(config, device, dtype, "skipped"), "reason": reason}


def _key(config: Mapping[str, Any], device: Any, dtype: str) -> str:
    """:func:`record_key` of the record that ``config`` on ``device`` in ``dtype`` will give."""
    fields = {k: v for k, v in config.items() if k != "family"}
    return record_key(
        {"family": config["family"], "config": fields, "dtype": dtype, "backend": device.platform}
    )


def run_sweep(
    configs: Sequence[Mapping[str, Any]],
    *,
    out: str | Path,
    backends: Sequence[str] | None = None,
    dtypes: Sequence[str] = ("float32",),
    resume: bool = False,
    overwrite: bool = False,
    step: bool = False,
    repeats: int = 3,
    peak_size: int = 2048,
    memory_limit: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[dict[str, Any]]:
    """Measures each configuration on each backend and dtype; writes ``<out>/bench.json``.

    Args:
        configs: Configurations (see :func:`jaxnn.bench.grid.expand`).
        out: The folder for ``bench.json`` (created).
        backends: Backend names (default: every one present).
        dtypes: Dtypes (default float32).
        resume: Keep the records already in ``<out>/bench.json`` and skip those configurations.
        overwrite: Start again where ``<out>/bench.json`` exists: it is replaced (atomically)
            when the first new record is written.
        step: Also time the jitted step alone.
        repeats: Timed runs per configuration (default 3).
        peak_size: The side of the matmul that measures the peak FLOP/s (default 2048).
        memory_limit: Bytes a configuration may need (default: the device's limit, none on CPU).
        progress: Called with each record once it is written.
        clock: Seconds as a float.

    Returns:
        Every record, the resumed ones first.

    Raises:
        ValueError: For an unknown backend or dtype, or a dtype a backend lacks; an existing
            ``bench.json`` without ``resume`` or ``overwrite``; or both of them.
    """
    if resume and overwrite:
        raise ValueError(
            "bench: resume=True continues a sweep, overwrite=True starts again; pick one."
        )
    devices = resolve_backends(backends)
    for device in devices:
        for dtype in dtypes:
            check_dtype(dtype, device)
    path = Path(out) / "bench.json"
    if path.exists() and not (resume or overwrite):
        raise ValueError(
            f"bench: {str(path)!r} exists; pass resume=True (--resume) to continue it, or "
            "overwrite=True (--overwrite) to start again."
        )
    records = load_records(path) if resume and path.exists() else []
    done = {record_key(r) for r in records}
    for device in devices:
        for dtype in dtypes:
            todo = [c for c in configs if _key(c, device, dtype) not in done]
            if not todo:  # all resumed: no peak to measure
                continue
            peak = measured_peak_flops(device, dtype, size=peak_size, clock=clock)
            limit = memory_limit or _memory_limit(device)
            for config in todo:
                needed = estimate_memory(config, dtype)
                if limit and needed > limit:
                    reason = (
                        f"needs about {needed / 2**20:.0f} MiB; the limit is "
                        f"{limit / 2**20:.0f} MiB"
                    )
                    record = _skipped(config, device, dtype, reason)
                else:
                    record = measure(config, device, dtype, repeats=repeats, step=step, clock=clock)
                    record["estimated_bytes"] = needed
                    record["peak_flop_per_s_measured"] = peak
                    rate = record.get("flop_per_s")
                    record["utilisation"] = rate / peak if rate else None
                records.append(record)
                add_speedups(records)
                save_records(path, records)
                if progress is not None:
                    progress(record)
    return records
