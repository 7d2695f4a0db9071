"""The sweep: every configuration on every backend and precision, written as it goes.

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

from jaxnn.bench.cost import estimate_memory, measured_bandwidth, measured_peak_flops
from jaxnn.bench.families import PRECISIONS, resolve_precision
from jaxnn.bench.measure import measure, record_header
from jaxnn.bench.records import Records, load_records, record_key, save_records

__all__ = [
    "DTYPES",
    "PRECISIONS",
    "add_speedups",
    "check_dtype",
    "check_precision",
    "resolve_backends",
    "run_sweep",
]

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


def check_precision(precision: str, device: Any) -> None:
    """Checks that ``device`` computes in the policy's compute dtype.

    Raises:
        ValueError: For an unknown precision (listing the policies), or one whose compute dtype
            the backend lacks.

    Example:
        >>> check_precision("mixed_bfloat16", jax.devices("cpu")[0])
        >>> check_precision("mixed_float16", jax.devices("cpu")[0])
        Traceback (most recent call last):
        ...
        ValueError: bench: precision 'mixed_float16' computes in float16, which backend 'cpu' does not; use one of float32, bfloat16, mixed_bfloat16.
    """  # noqa: E501
    policy = resolve_precision(precision)
    try:
        check_dtype(policy.compute_dtype, device)
    except ValueError:
        usable = []
        for name in PRECISIONS:
            try:
                check_dtype(resolve_precision(name).compute_dtype, device)
            except ValueError:
                continue
            usable.append(name)
        raise ValueError(
            f"bench: precision {precision!r} computes in {policy.compute_dtype}, which backend "
            f"{device.platform!r} does not; use one of {', '.join(usable)}."
        ) from None


def _memory_limit(device: Any) -> int | None:
    try:
        stats = device.memory_stats() or {}
    except Exception:  # CPU and some plugins report no memory statistics
        stats = {}
    return stats.get("bytes_limit")


def add_speedups(records: list[dict[str, Any]]) -> None:
    """Sets ``speedup_vs_cpu``: the CPU's step time over this record's, same config, precision.

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


def _skipped(config: Mapping[str, Any], device: Any, precision: str, reason: str) -> dict[str, Any]:
    return {**record_header(config, device, precision, "skipped"), "reason": reason}


def _key(config: Mapping[str, Any], device: Any, precision: str) -> str:
    """:func:`record_key` of the record that ``config`` on ``device`` in ``precision`` gives."""
    fields = {k: v for k, v in config.items() if k != "family"}
    record = {"family": config["family"], "config": fields, "precision": precision}
    return record_key({**record, "backend": device.platform})


def run_sweep(
    configs: Sequence[Mapping[str, Any]],
    *,
    out: str | Path,
    backends: Sequence[str] | None = None,
    precisions: Sequence[str] = ("float32",),
    dtypes: Sequence[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    step: bool = False,
    repeats: int = 3,
    peak_size: int = 2048,
    bandwidth_mib: int = 256,
    memory_limit: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Records:
    """Measures each configuration on each backend and precision; writes ``<out>/bench.json``.

    Args:
        configs: Configurations (see :func:`jaxnn.bench.grid.expand`).
        out: The folder for ``bench.json`` (created).
        backends: Backend names (default: every one present).
        precisions: Precision policies (default float32; see :data:`PRECISIONS`).
        dtypes: The older name of ``precisions``, added to them: ``float32`` and ``bfloat16``
            are the policies of those names, ``float16`` runs ``mixed_float16``.
        resume: Keep the records already in ``<out>/bench.json`` and skip those configurations.
        overwrite: Start again where ``<out>/bench.json`` exists: it is replaced (atomically)
            when the first new record is written.
        step: Also time the jitted step alone.
        repeats: Timed runs per configuration (default 3).
        peak_size: The side of the matmul that measures the peak FLOP/s in each compute dtype
            (default 2048).
        bandwidth_mib: The MiB of the streaming copy that measures each device's memory
            bandwidth (default 256; :func:`~jaxnn.bench.cost.measured_bandwidth`).
        memory_limit: Bytes a configuration may need (default: the device's limit, none on CPU).
        progress: Called with each record once it is written.
        clock: Seconds as a float.

    Returns:
        Every record, the resumed ones first.

    Raises:
        ValueError: For an unknown backend or precision, or one whose compute dtype a backend
            lacks; an existing ``bench.json`` without ``resume`` or ``overwrite``; or both.
    """
    if resume and overwrite:
        raise ValueError(
            "bench: resume=True continues a sweep, overwrite=True starts again; pick one."
        )
    names = [resolve_precision(p).name for p in (*precisions, *(dtypes or ()))]
    names = list(dict.fromkeys(names))
    devices = resolve_backends(backends)
    for device in devices:
        for precision in names:
            check_precision(precision, device)
    path = Path(out) / "bench.json"
    if path.exists() and not (resume or overwrite):
        raise ValueError(
            f"bench: {str(path)!r} exists; pass resume=True (--resume) to continue it, or "
            "overwrite=True (--overwrite) to start again."
        )
    records = load_records(path) if resume and path.exists() else Records()
    done = {record_key(r) for r in records}
    for device in devices:
        peaks: dict[str, float] = {}  # one matmul peak per compute dtype
        bandwidth: float | None = None  # one streaming copy per device
        for precision in names:
            todo = [c for c in configs if _key(c, device, precision) not in done]
            if not todo:  # all resumed: no peak to measure
                continue
            dtype = resolve_precision(precision).compute_dtype
            if dtype not in peaks:
                peaks[dtype] = measured_peak_flops(device, dtype, size=peak_size, clock=clock)
            if bandwidth is None:
                bandwidth = measured_bandwidth(device, mib=bandwidth_mib, clock=clock)
            limit = memory_limit or _memory_limit(device)
            for config in todo:
                record = _run_one(config, device, precision, limit, peaks[dtype], step, repeats,
                                  clock)  # fmt: skip
                if record.get("status") == "ok":
                    _add_roofs(record, peaks[dtype], bandwidth)
                records.append(record)
                add_speedups(records)
                save_records(path, records)
                if progress is not None:
                    progress(record)
    return records


def _run_one(
    config: Mapping[str, Any],
    device: Any,
    precision: str,
    limit: int | None,
    peak: float,
    step: bool,
    repeats: int,
    clock: Callable[[], float],
) -> dict[str, Any]:
    """One configuration's record: measured, or skipped when it would not fit in memory."""
    needed = estimate_memory(config, precision)
    if limit and needed > limit:
        reason = f"needs about {needed / 2**20:.0f} MiB; the limit is {limit / 2**20:.0f} MiB"
        return _skipped(config, device, precision, reason)
    record = measure(config, device, precision, repeats=repeats, step=step, clock=clock)
    record["estimated_bytes"] = needed
    record["peak_flop_per_s_measured"] = peak
    rate = record.get("flop_per_s")
    record["utilisation"] = rate / peak if rate else None
    return record


def _add_roofs(record: dict[str, Any], peak: float, bandwidth: float) -> None:
    """The bandwidth roof, the ridge point, and whether the run sits left of it (memory-bound).

    The roofline is ``min(peak, bandwidth * intensity)``: below the ridge intensity
    ``peak / bandwidth`` FLOP/byte a step cannot run faster than memory delivers its bytes.
    """
    record["peak_bytes_per_s_measured"] = bandwidth
    record["ridge_intensity"] = peak / bandwidth if bandwidth > 0 else None
    intensity = record.get("intensity")
    if intensity and record["ridge_intensity"]:
        record["memory_bound"] = intensity < record["ridge_intensity"]
        roof = min(peak, bandwidth * intensity)
        rate = record.get("flop_per_s")
        record["utilisation_roofline"] = rate / roof if rate else None
