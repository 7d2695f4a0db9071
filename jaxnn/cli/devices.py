"""``jaxnn devices``: the devices JAX sees, with their memory where the backend reports it."""

from __future__ import annotations

import json
import os
from typing import Any

import click
import jax

from jaxnn.cli.common import debug_option, format_table

__all__ = ["device_rows", "devices", "format_bytes", "xla_flags"]


def format_bytes(count: int | None) -> str | None:
    """Bytes in binary units (GiB, MiB ...), or ``None`` for unknown.

    Example:
        >>> format_bytes(3 * 2**30), format_bytes(512), format_bytes(None)
        ('3.0 GiB', '512 B', None)
    """
    if count is None:
        return None
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def _memory(device: Any) -> dict[str, int | None]:
    """Bytes in use and the limit, from ``device.memory_stats()`` (``None`` on CPU)."""
    try:
        stats = device.memory_stats() or {}
    except Exception:  # backends without the query raise their own errors; memory is optional
        stats = {}
    return {"bytes_in_use": stats.get("bytes_in_use"), "bytes_limit": stats.get("bytes_limit")}


def device_rows() -> list[dict[str, Any]]:
    """One dict per device: id, platform, kind, process and memory.

    Example:
        >>> sorted(device_rows()[0])
        ['bytes_in_use', 'bytes_limit', 'id', 'kind', 'platform', 'process']
    """
    return [
        {
            "id": d.id,
            "platform": d.platform,
            "kind": d.device_kind,
            "process": d.process_index,
            **_memory(d),
        }
        for d in jax.devices()
    ]


def xla_flags() -> tuple[str, str | None]:
    """``XLA_FLAGS`` and who set it: ``"jaxnn"`` (the command), ``"environment"`` or ``None``."""
    flags = os.environ.get("XLA_FLAGS", "")
    if not flags:
        return "", None
    return flags, "jaxnn" if os.environ.get("JAXNN_SET_XLA_FLAGS") == "1" else "environment"


@click.command("devices")
@click.option("--json", "as_json", is_flag=True, help="Print the devices as JSON.")
@debug_option
def devices(as_json: bool) -> None:
    """List the devices JAX sees: platform, kind and memory where known.

    Example: jaxnn devices --json
    """
    rows = device_rows()
    flags, source = xla_flags()
    if as_json:
        out = {
            "jax": jax.__version__,
            "devices": rows,
            "xla_flags": flags,
            "xla_flags_set_by": source,
        }
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(
        f"jax {jax.__version__}, default backend {jax.default_backend()}, {len(rows)} device(s)"
    )
    headers = ["id", "platform", "kind", "process", "memory in use", "memory limit"]
    table = [
        [
            r["id"],
            r["platform"],
            r["kind"],
            r["process"],
            format_bytes(r["bytes_in_use"]),
            format_bytes(r["bytes_limit"]),
        ]
        for r in rows
    ]
    click.echo(format_table(headers, table))
    if source == "jaxnn":
        click.echo(
            f"XLA_FLAGS set by the jaxnn command: {flags} (YNNPACK's CPU convolutions off, the "
            "faster route for CNNs here); set XLA_FLAGS yourself to choose others."
        )
    elif flags:
        click.echo(f"XLA_FLAGS from your environment: {flags}")
