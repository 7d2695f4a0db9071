"""``jaxnn bench``: the accelerator benchmark sweep, and ``jaxnn bench compare`` of two runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from jaxnn.bench import (
    FAMILIES,
    FULL,
    QUICK,
    compare,
    compare_markdown,
    expand,
    load_grid,
    load_records,
    run_sweep,
    to_csv,
    to_markdown,
)
from jaxnn.bench.families import LEGACY_DTYPES, PRECISIONS
from jaxnn.bench.sweep import check_precision, resolve_backends
from jaxnn.checkpoint import write_atomic
from jaxnn.cli.common import UserError, debug_option, list_files, note, unknown_name

__all__ = ["bench"]


def _configs(quick: bool, grid: str | None, families: tuple[str, ...]) -> list[dict[str, Any]]:
    for family in families:
        if family not in FAMILIES:
            raise UserError(unknown_name("model family", family, FAMILIES, plural="families"))
    if quick and grid:
        raise UserError("give --quick or --grid, not both.")
    source = load_grid(grid) if grid else (QUICK if quick else FULL)
    configs = expand(source, families or None)
    if not configs:
        raise UserError(f"no configuration to run: the grid has none of {list(families)}.")
    return configs


def _precisions(precisions: tuple[str, ...], dtypes: tuple[str, ...]) -> list[str]:
    """The policies of ``--precision`` (comma-separated, repeated) and the older ``--dtype``."""
    names = [n.strip() for value in precisions for n in value.split(",") if n.strip()]
    for name in names:
        if name not in PRECISIONS:
            raise UserError(unknown_name("precision", name, PRECISIONS, plural="precisions"))
    for dtype in dtypes:
        if dtype not in LEGACY_DTYPES:
            raise UserError(unknown_name("dtype", dtype, LEGACY_DTYPES))
        names.append(LEGACY_DTYPES[dtype])
    return list(dict.fromkeys(names)) or ["float32"]


@click.group("bench", invoke_without_command=True)
@click.option("--quick", is_flag=True, help="The small grid: every family, under 2 min on a CPU.")
@click.option("--grid", type=click.Path(dir_okay=False), help="A TOML grid file ([fc] layers=...).")
@click.option("--family", "families", multiple=True, help="Only this model family (repeatable).")
@click.option("--backend", "backends", multiple=True, help="Only this backend (default: all).")
@click.option(
    "--precision",
    "precisions",
    multiple=True,
    metavar="POLICY[,POLICY...]",
    help="Precision policies, comma-separated or repeated: float32 (default), bfloat16, "
    "mixed_bfloat16, mixed_float16 (GPU only).",
)
@click.option(
    "--dtype",
    "dtypes",
    multiple=True,
    help="The older spelling of --precision: float32, bfloat16, or float16 (runs mixed_float16).",
)
@click.option("--out", default="bench", show_default=True, help="Folder for the records.")
@click.option("--resume", is_flag=True, help="Continue the sweep recorded in --out.")
@click.option("--overwrite", is_flag=True, help="Start again, replacing the records in --out.")
@click.option("--step", is_flag=True, help="Also time the jitted step alone, one call per batch.")
@click.option("--repeats", default=3, show_default=True, help="Timed runs per configuration.")
@debug_option
@click.pass_context
def bench(
    ctx: click.Context,
    quick: bool,
    grid: str | None,
    families: tuple[str, ...],
    backends: tuple[str, ...],
    precisions: tuple[str, ...],
    dtypes: tuple[str, ...],
    out: str,
    resume: bool,
    overwrite: bool,
    step: bool,
    repeats: int,
) -> None:
    """Time training of model families on every backend: step time, FLOP/s, speedup.

    Example: jaxnn bench --quick --out bench-cpu

    Writes bench.json (one record per configuration, backend and precision), bench.csv and
    bench.md. `jaxnn bench compare A.json B.json` compares two runs.
    """
    if ctx.invoked_subcommand is not None:
        return
    configs = _configs(quick, grid, families)
    devices = resolve_backends(list(backends) or None)
    chosen = _precisions(precisions, dtypes)
    for precision in chosen:
        for device in devices:
            check_precision(precision, device)
    total = len(configs) * len(devices) * len(chosen)
    note(f"bench: {total} runs on {', '.join(d.platform for d in devices)}; records in {out}/")
    with click.progressbar(length=total, label="bench", file=sys.stderr) as bar:
        records = run_sweep(
            configs,
            out=out,
            backends=[d.platform for d in devices],
            precisions=chosen,
            resume=resume,
            overwrite=overwrite,
            step=step,
            repeats=repeats,
            progress=lambda record: bar.update(1),
        )
    folder = Path(out)
    write_atomic(folder / "bench.csv", to_csv(records).encode())
    table = to_markdown(records)
    write_atomic(folder / "bench.md", (table + "\n").encode())
    for r in records:
        if r.get("status") == "skipped":
            note(f"skipped {r['family']} {r['config']}: {r['reason']}")
    click.echo(table)
    written = [folder / n for n in ("bench.json", "bench.csv", "bench.md")]
    click.echo(list_files(written + _plots(records, folder)))


def _plots(records: list[dict], folder: Path) -> list[Path]:
    """The roofline, throughput and speedup plots as PNG, when matplotlib is installed."""
    if not _have_matplotlib("bench: no plots"):
        return []
    from jaxnn.bench.plots import plot_roofline, plot_throughput

    paths = []
    for name, draw in (("roofline.png", plot_roofline), ("throughput.png", plot_throughput)):
        try:
            paths.append(_save(draw(records), folder / name))
        except ValueError as error:  # e.g. nothing measured, or no batch sizes
            note(f"bench: no {name}: {error}")
    speedups = _speedup_plots(records, folder, "speedup_vs_cpu", "cpu", "speedup over the CPU")
    if not speedups and any(r.get("status") == "ok" for r in records):
        note("bench: no speedup heat map: only the CPU was measured.")
    return paths + speedups


def _have_matplotlib(missing: str) -> bool:
    """Whether matplotlib imports; if not, says ``missing`` and how to install it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        note(f'{missing} (they need matplotlib: pip install "jaxnn[plot]").')
        return False
    return True


def _speedup_plots(
    records: list[dict],
    folder: Path,
    field: str,
    baseline: str | None,
    label: str,
    *,
    prefix: str = "speedup",
) -> list[Path]:
    """``<prefix>-<family>.png`` for each family with ``field`` on a width x batch grid."""
    from jaxnn.bench.plots import plot_speedup, speedup_grids

    paths = []
    for family in sorted({r["family"] for r in records}):
        if speedup_grids(records, family, field=field, baseline=baseline):
            fig = plot_speedup(records, family, field=field, baseline=baseline, label=label)
            paths.append(_save(fig, folder / f"{prefix}-{family}.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    from jaxnn.viz import save_figure

    return save_figure(fig, path)


@bench.command("compare")
@click.argument("a", type=click.Path(exists=True, dir_okay=False))
@click.argument("b", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", help="Also write compare.md and a heat map of B/A examples/s per family.")
@debug_option
def compare_command(a: str, b: str, out: str | None) -> None:
    """Compare two bench runs: B's figures over A's for each configuration in both.

    Example: jaxnn bench compare old/bench.json new/bench.json --out old-vs-new
    """
    rows = compare(load_records(a), load_records(b))
    if not rows:
        raise UserError(f"{a} and {b} share no measured configuration.")
    table = compare_markdown(rows)
    click.echo(table)
    if out is None:
        return
    folder = Path(out)
    write_atomic(folder / "compare.md", (table + "\n").encode())
    written = [folder / "compare.md"]
    if _have_matplotlib("bench compare: no heat maps"):
        written += _speedup_plots(
            rows, folder, "examples_per_s_ratio", None, "examples/s, B / A", prefix="compare"
        )
    click.echo(list_files(written))
