"""Two runs side by side: for each configuration in both, B's figures over A's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jaxnn.bench.records import precision_of, record_key

__all__ = ["COMPARED", "compare", "compare_markdown"]

_FIELDS = ("family", "config", "backend")

# Figures compared, and whether a larger value is better.
COMPARED = (
    ("fit_step_s", False),
    ("examples_per_s", True),
    ("compile_s", False),
    ("flop_per_s", True),
    ("peak_bytes", False),
)


def compare(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For each configuration measured in both ``a`` and ``b``: ``b / a`` of each figure.

    Records match by family, config, precision (``dtype`` in schema 1 records) and backend;
    skipped records and figures missing from either side are left out (ratio ``None``).

    Returns:
        One dict per matched configuration, in ``a``'s order: ``key``; ``family``, ``config``,
        ``precision`` and ``backend`` (so that :func:`jaxnn.bench.plots.plot_speedup` can draw a
        ratio with ``field="examples_per_s_ratio"``); and ``<figure>_ratio`` for each of
        :data:`COMPARED`.

    Example:
        >>> ra = [{"family": "fc", "config": {"w": 8}, "dtype": "float32", "backend": "cpu",
        ...        "status": "ok", "fit_step_s": 2.0, "examples_per_s": 10.0}]
        >>> rb = [dict(ra[0], fit_step_s=1.0, examples_per_s=20.0)]
        >>> row = compare(ra, rb)[0]
        >>> row["key"], row["fit_step_s_ratio"], row["examples_per_s_ratio"], row["compile_s_ratio"]
        ('fc w=8 float32 cpu', 0.5, 2.0, None)
    """
    ok_b = {record_key(r): r for r in b if r.get("status") == "ok"}
    rows = []
    for ra in a:
        key = record_key(ra)
        rb = ok_b.get(key)
        if ra.get("status") != "ok" or rb is None:
            continue
        row: dict[str, Any] = {"key": key, **{k: ra[k] for k in _FIELDS}}
        row["precision"] = precision_of(ra)
        for name, _ in COMPARED:
            va, vb = ra.get(name), rb.get(name)
            row[f"{name}_ratio"] = vb / va if va and vb is not None else None
        rows.append(row)
    return rows


def compare_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows of :func:`compare` as a markdown table of ratios (B over A).

    Example:
        >>> print(compare_markdown([{"key": "fc", "fit_step_s_ratio": 0.5}]).splitlines()[2])
        | fc | 0.5 |  |  |  |  |
    """
    names = [n for n, _ in COMPARED]
    lines = [
        "| configuration | " + " | ".join(f"{n} B/A" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for row in rows:
        cells = [row.get(f"{n}_ratio") for n in names]
        text = ["" if c is None else f"{c:.3g}" for c in cells]
        lines.append(f"| {row['key']} | " + " | ".join(text) + " |")
    return "\n".join(lines)
