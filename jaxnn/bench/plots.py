"""Plots of a sweep's records: the roofline, speedup heat maps and examples/s (matplotlib).

matplotlib is imported only when a plot is drawn (the ``plot`` extra), as in :mod:`jaxnn.viz`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxnn.bench.records import precision_of
from jaxnn.viz.figure import grid, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["WIDTH", "plot_roofline", "plot_speedup", "plot_throughput", "speedup_grids"]

#: The setting each family sweeps as its width: the rows of :func:`plot_speedup`.
WIDTH = {
    "fc": "width",
    "cnn": "filters",
    "resnet": "filters",
    "rnn": "hidden",
    "lstm": "hidden",
    "gru": "hidden",
    "attention": "width",
    "transformer": "width",
}


def _measured(records: Sequence[Mapping[str, Any]], where: str) -> list[Mapping[str, Any]]:
    done = [r for r in records if r.get("status") == "ok"]
    if not done:
        raise ValueError(f"{where}: records must hold at least one measured run; got none.")
    return done


def plot_roofline(records: Sequence[Mapping[str, Any]]) -> Figure:
    """Achieved FLOP/s against arithmetic intensity, one point per run, one colour per backend.

    Each backend's roof is ``min(peak, bandwidth x intensity)``: the compute peak measured with a
    large matmul (``peak_flop_per_s_measured``, dashed) and the memory bandwidth measured with a
    streaming copy (``peak_bytes_per_s_measured``, dotted, slope 1 on the log-log axes), which
    meet at the ridge point; runs left of it are memory-bound. Runs without FLOPs or bytes are
    left out.

    Args:
        records: Sweep records (:func:`jaxnn.bench.load_records`).

    Returns:
        The figure; its Axes holds one scatter per ``(backend, precision, family)`` and one roof
        line per backend and compute dtype.

    Raises:
        ValueError: If no record is a measured run with FLOPs and bytes.
    """
    where = "plot_roofline"
    points = [
        r
        for r in _measured(records, where)
        if r.get("intensity") and r.get("flop_per_s") and r["flop_per_s"] > 0
    ]
    if not points:
        raise ValueError(f"{where}: no record has both FLOPs and bytes (intensity) measured.")
    fig = new_figure(where, (8.0, 4.5))
    ax = fig.add_subplot()
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in points:
        groups[(r["backend"], precision_of(r), r["family"])].append(r)
    for (backend, precision, family), rows in sorted(groups.items()):
        x = np.array([r["intensity"] for r in rows], float)
        y = np.array([r["flop_per_s"] for r in rows], float) / 1e9
        ax.scatter(x, y, label=f"{family} ({backend} {precision})", s=18)
    roofs: dict[tuple[str, str], float] = defaultdict(float)
    bandwidths: dict[str, float] = defaultdict(float)
    for r in points:
        key = (r["backend"], r.get("dtype") or precision_of(r))  # the compute dtype's matmul
        roofs[key] = max(roofs[key], (r.get("peak_flop_per_s_measured") or 0.0) / 1e9)
        bandwidths[r["backend"]] = max(
            bandwidths[r["backend"]], (r.get("peak_bytes_per_s_measured") or 0.0) / 1e9
        )
    xs = np.array([r["intensity"] for r in points], float)
    left, right = xs.min() / 4, xs.max() * 4
    for (backend, dtype), peak in sorted(roofs.items()):
        if peak <= 0:
            continue
        bw = bandwidths.get(backend, 0.0)
        ridge = peak / bw if bw > 0 else left
        ax.plot([max(ridge, left), max(right, ridge * 2)], [peak, peak], color="grey",
                linestyle="--", linewidth=1)  # fmt: skip
        ax.annotate(f"{backend} {dtype} matmul peak", (max(ridge, left), peak), va="bottom",
                    fontsize="x-small", color="grey")  # fmt: skip
        if bw > 0:
            start = min(left, ridge / 100)
            ax.plot([start, ridge], [bw * start, peak], color="grey", linestyle=":",
                    linewidth=1, label=f"{backend} memory {bw:,.1f} GB/s")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP / byte)")
    ax.set_ylabel("achieved GFLOP/s")
    ax.set_title("Roofline (dashed: measured matmul peak; dotted: measured memory bandwidth)")
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def plot_throughput(records: Sequence[Mapping[str, Any]]) -> Figure:
    """Examples per second against batch size, one line per configuration without its batch.

    Args:
        records: Sweep records; those without a ``batch`` in their config are left out.

    Returns:
        The figure, with log-log axes and one line per (family, other settings, backend,
        precision).

    Raises:
        ValueError: If no measured record has a batch size.
    """
    where = "plot_throughput"
    lines: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in _measured(records, where):
        config = dict(r["config"])
        batch = config.pop("batch", None)
        if batch is None or not r.get("examples_per_s"):
            continue
        rest = " ".join(f"{k}={v}" for k, v in sorted(config.items()))
        lines[f"{r['family']} {rest} ({r['backend']} {precision_of(r)})"].append(
            (int(batch), float(r["examples_per_s"]))
        )
    if not lines:
        raise ValueError(f"{where}: no measured record has a batch size.")
    fig = new_figure(where, (11.0, 5.0))
    ax = fig.add_subplot()
    for label, pairs in sorted(lines.items()):
        pairs.sort()
        ax.plot([b for b, _ in pairs], [e for _, e in pairs], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("examples / s")
    ax.set_title("Throughput against batch size")
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def speedup_grids(
    records: Sequence[Mapping[str, Any]],
    family: str,
    *,
    field: str = "speedup_vs_cpu",
    baseline: str | None = "cpu",
) -> dict[str, tuple[list[int], list[int], np.ndarray]]:
    """``field`` over width x batch for one family: one grid per settings, backend, precision.

    Args:
        records: Sweep records, or the rows of :func:`jaxnn.bench.compare` (no ``status``).
        family: The model family; its width is :data:`WIDTH` ``[family]``.
        field: The figure in each cell (default the speedup over the CPU).
        baseline: Records on this backend are left out (the CPU's own speedup is 1).

    Returns:
        ``{title: (widths, batches, values)}`` with ``values[i, j]`` for ``widths[i]`` and
        ``batches[j]``, NaN where nothing was measured.

    Example:
        >>> rs = [{"status": "ok", "family": "fc", "config": {"layers": 2, "width": w, "batch": b},
        ...        "backend": "gpu", "dtype": "float32", "speedup_vs_cpu": w * b}
        ...       for w in (8, 16) for b in (1, 2)]
        >>> widths, batches, values = speedup_grids(rs, "fc")["layers=2 (gpu float32)"]
        >>> widths, batches, values.tolist()
        ([8, 16], [1, 2], [[8.0, 16.0], [16.0, 32.0]])
    """
    if family not in WIDTH:
        raise ValueError(f"speedup_grids: family must be one of {sorted(WIDTH)}; got {family!r}.")
    cells: dict[str, dict[tuple[int, int], float]] = defaultdict(dict)
    for r in records:
        value = r.get(field)
        if r.get("status", "ok") != "ok" or r["family"] != family or value is None:
            continue
        if r["backend"] == baseline:
            continue
        config = dict(r["config"])
        width, batch = config.pop(WIDTH[family], None), config.pop("batch", None)
        if width is None or batch is None:
            continue
        rest = " ".join(f"{k}={v}" for k, v in sorted(config.items()))
        title = f"{rest} ({r['backend']} {precision_of(r)})".strip()
        cells[title][(int(width), int(batch))] = value
    grids = {}
    for title, values in sorted(cells.items()):
        widths = sorted({w for w, _ in values})
        batches = sorted({b for _, b in values})
        matrix = np.full((len(widths), len(batches)), np.nan)
        for (w, b), v in values.items():
            matrix[widths.index(w), batches.index(b)] = v
        grids[title] = (widths, batches, matrix)
    return grids


def plot_speedup(
    records: Sequence[Mapping[str, Any]],
    family: str,
    *,
    field: str = "speedup_vs_cpu",
    baseline: str | None = "cpu",
    label: str = "speedup over the CPU",
) -> Figure:
    """Heat maps of the speedup over width x batch, one panel per other settings and backend.

    Colours are on a log scale centred on 1 (white): blue where the backend is faster, red
    where it is slower; each cell is labelled with its value.

    Args:
        records: Sweep records (with ``speedup_vs_cpu``: the same configurations measured on the
            CPU and on another backend), or any records carrying ``field``.
        family: The model family, e.g. ``"fc"``.
        field: The figure drawn (default ``speedup_vs_cpu``).
        baseline: Records on this backend are left out.
        label: The colour bar's label.

    Raises:
        ValueError: If no record of ``family`` carries ``field``.
    """
    where = "plot_speedup"
    grids = speedup_grids(records, family, field=field, baseline=baseline)
    if not grids:
        raise ValueError(
            f"{where}: no measured {family} record has {field}; a speedup needs the same "
            "configurations measured on the CPU and on another backend (or two runs compared)."
        )
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    values = np.concatenate([m[np.isfinite(m)] for _, _, m in grids.values()])
    values = values[values > 0]
    span = float(np.max(np.abs(np.log(values)))) if values.size else 0.0
    span = max(span, np.log(1.1))
    norm = LogNorm(vmin=np.exp(-span), vmax=np.exp(span))
    fig, axes = grid(where, len(grids), ncols=3, panel=(3.6, 3.0))
    for ax, (title, (widths, batches, matrix)) in zip(axes, grids.items(), strict=True):
        image = ax.imshow(matrix, cmap="RdBu", norm=norm, origin="lower", aspect="auto")
        for (i, j), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                dark = value > 0 and abs(np.log(value)) > 0.6 * span  # white on the deep colours
                ax.text(j, i, f"{value:.2g}x", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")  # fmt: skip
        ax.set_xticks(range(len(batches)), [str(b) for b in batches])
        ax.set_yticks(range(len(widths)), [str(w) for w in widths])
        ax.set_xlabel("batch size")
        ax.set_ylabel(WIDTH[family])
        ax.set_title(f"{family} {title}", fontsize="small")
    bar = fig.colorbar(image, ax=axes, label=label, shrink=0.9)
    low, high = float(np.exp(-span)), float(np.exp(span))
    ticks = [t for t in _NICE if low <= t <= high]
    if len(ticks) < 3:  # a narrow range: its ends and 1x
        ticks = [low, 1.0, high]
    bar.ax.yaxis.set_major_locator(FixedLocator(ticks))
    bar.ax.yaxis.set_minor_locator(NullLocator())
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}x"))
    return fig


# Colour bar ticks: 1, 2, 5 and their reciprocals per decade.
_NICE = sorted({m * 10.0**e for e in range(-3, 4) for m in (1, 2, 5)})
