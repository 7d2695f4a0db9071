"""Records: the JSON file a sweep writes, and its CSV and markdown forms.

A record is one configuration on one backend and precision policy (schema version 2):

| key | meaning |
| --- | --- |
| ``schema``, ``status``, ``reason`` | schema version; ``"ok"`` or ``"skipped"`` and why |
| ``family``, ``config`` | model family and its fields (``layers``, ``width``, ``batch`` ...) |
| ``backend``, ``device_kind``, ``versions`` | where it ran, with what |
| ``precision`` | the policy: ``float32``, ``bfloat16``, ``mixed_bfloat16``, ``mixed_float16`` |
| ``dtype``, ``param_dtype`` | the policy's compute dtype (of the peaks) and parameter dtype |
| ``compile_s`` | seconds to compile the train step (``lower().compile()``) |
| ``fit_step_s``, ``_min``, ``_max``, ``_spread`` | median seconds per step of ``fit`` epochs |
| ``step_s``, ``_min``, ``_max`` | the jitted step alone (``--step`` only) |
| ``examples_per_s`` | ``batch / fit_step_s`` |
| ``tokens_per_s`` | ``batch * seq_len / fit_step_s`` (``transformer`` only) |
| ``flops``, ``bytes_accessed`` | XLA's cost analysis of one compiled step |
| ``argument_bytes``, ``output_bytes``, ``temp_bytes``, ``peak_bytes`` | XLA's memory analysis |
| ``estimated_bytes`` | the estimate from the shapes, made before compiling |
| ``flop_per_s``, ``intensity`` | ``flops / fit_step_s``; ``flops / bytes_accessed`` |
| ``peak_flop_per_s_measured``, ``utilisation`` | a large matmul's FLOP/s; the ratio to it |
| ``peak_bytes_per_s_measured`` | the device's memory bandwidth, from a streaming copy |
| ``ridge_intensity``, ``memory_bound`` | ``peak / bandwidth`` FLOP/byte; ``intensity`` below it |
| ``utilisation_roofline`` | ``flop_per_s`` over the roof at its intensity, ``min(peak, bw * I)`` |
| ``peak_flop_per_s_vendor``, ``utilisation_vendor`` | the data-sheet peak; the ratio to it |
| ``speedup_vs_cpu`` | the CPU's ``fit_step_s`` over this one's, same config and precision |

Schema 1 records (before precision policies) have no ``precision``: their ``dtype`` names it
(float32 and bfloat16 are the policies of those names; float16 was float16 throughout, without
loss scaling). :func:`precision_of` reads both.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jaxnn.checkpoint import json_text, write_atomic

__all__ = [
    "Records",
    "load_records",
    "precision_of",
    "record_key",
    "save_records",
    "to_csv",
    "to_markdown",
]

_TABLE = (
    ("family", "family"),
    ("config", "config"),
    ("backend", "backend"),
    ("precision", "precision"),
    ("compile_s", "compile s"),
    ("fit_step_s", "step ms"),
    ("examples_per_s", "examples/s"),
    ("flop_per_s", "GFLOP/s"),
    ("utilisation", "util"),
    ("intensity", "FLOP/B"),
    ("peak_bytes", "MiB"),
    ("speedup_vs_cpu", "speedup"),
)


def precision_of(record: Mapping[str, Any]) -> str:
    """A record's precision policy: ``precision``, or ``dtype`` for a schema 1 record.

    Example:
        >>> precision_of({"precision": "mixed_bfloat16", "dtype": "bfloat16"})
        'mixed_bfloat16'
        >>> precision_of({"dtype": "float32"})  # schema 1
        'float32'
    """
    return str(record.get("precision") or record["dtype"])


def record_key(record: Mapping[str, Any], *, backend: bool = True) -> str:
    """A string naming a record's configuration, precision and (optionally) backend.

    Example:
        >>> record_key({"family": "fc", "config": {"width": 8, "batch": 2},
        ...             "precision": "mixed_bfloat16", "backend": "cpu"})
        'fc batch=2 width=8 mixed_bfloat16 cpu'
    """
    fields = " ".join(f"{k}={v}" for k, v in sorted(record["config"].items()))
    key = f"{record['family']} {fields} {precision_of(record)}"
    return f"{key} {record['backend']}" if backend else key


def save_records(path: str | Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Writes ``{"records": [...]}`` as JSON, atomically."""
    text = json_text({"records": list(records)}, indent=1)
    write_atomic(path, (text + "\n").encode())


class Records(list):
    """A list of records that shows as a table in a notebook (``_repr_html_``).

    :func:`load_records` and :func:`~jaxnn.bench.run_sweep` return one; it is a plain ``list``
    of dicts in every other way.

    Example:
        >>> r = Records([{"family": "fc", "config": {"width": 8}, "backend": "cpu",
        ...               "precision": "float32", "status": "ok", "fit_step_s": 0.002}])
        >>> ">width=8</td>" in r._repr_html_(), r == [r[0]]
        (True, True)
    """

    def _repr_html_(self) -> str:
        """The columns of :func:`to_markdown`, one row per record."""
        from jaxnn import _html

        rows = [[_cell(k, r) for k, _ in _TABLE] for r in self]
        title = f"{len(self)} bench record{'s' if len(self) != 1 else ''}"
        return _html.table([h for _, h in _TABLE], rows, title=title)


def load_records(path: str | Path) -> Records:
    """Reads the records of a file :func:`save_records` wrote.

    Raises:
        ValueError: If the file is not JSON or holds no ``records`` list.
        OSError: If it cannot be read.
    """
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"bench: {str(path)!r} is not JSON: {e}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise ValueError(f"bench: {str(path)!r} holds no 'records' list; is it a bench.json?")
    return Records(data["records"])


def _flat(record: Mapping[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in record.items() if k not in ("config", "versions")}
    flat.update({f"config.{k}": v for k, v in record.get("config", {}).items()})
    flat.update({f"versions.{k}": v for k, v in record.get("versions", {}).items()})
    return flat


def to_csv(records: Sequence[Mapping[str, Any]]) -> str:
    """The records as CSV: one row each, ``config.*`` and ``versions.*`` columns flattened.

    Example:
        >>> print(to_csv([{"family": "fc", "config": {"width": 8}, "fit_step_s": 0.5}]), end="")
        config.width,family,fit_step_s
        8,fc,0.5
    """
    rows = [_flat(r) for r in records]
    columns = sorted({k for row in rows for k in row})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _cell(key: str, record: Mapping[str, Any]) -> str:
    if key == "precision":
        return precision_of(record) if "precision" in record or "dtype" in record else ""
    value = record.get(key)
    if key == "config":
        return " ".join(f"{k}={v}" for k, v in (value or {}).items())
    if value is None:
        return "" if record.get("status") == "ok" or key != "fit_step_s" else "skipped"
    scale = {"fit_step_s": 1e3, "flop_per_s": 1e-9, "peak_bytes": 2**-20}.get(key)
    if scale is not None:
        return f"{value * scale:.3g}"
    if key == "utilisation":
        return f"{value:.1%}"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def to_markdown(records: Sequence[Mapping[str, Any]]) -> str:
    """The records as a markdown table (step in ms, GFLOP/s, utilisation in %, memory in MiB).

    Example:
        >>> r = {"family": "fc", "config": {"width": 8}, "backend": "cpu", "precision": "float32",
        ...      "status": "ok", "fit_step_s": 0.002, "utilisation": 0.25}
        >>> print(to_markdown([r]).splitlines()[2])
        | fc | width=8 | cpu | float32 |  | 2 |  |  | 25.0% |  |  |  |
    """
    lines = [
        "| " + " | ".join(h for _, h in _TABLE) + " |",
        "|" + "---|" * len(_TABLE),
    ]
    for r in records:
        lines.append("| " + " | ".join(_cell(k, r) for k, _ in _TABLE) + " |")
    return "\n".join(lines)
