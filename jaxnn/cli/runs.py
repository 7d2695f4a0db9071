"""``jaxnn runs``: a table of the runs in a folder with their best and test metrics."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from jaxnn.checkpoint import json_text
from jaxnn.cli.common import UserError, debug_option, format_table, note
from jaxnn.cli.resume import is_unfinished
from jaxnn.cli.rundir import read_config, read_history, read_test

__all__ = ["best", "find_runs", "run_row", "runs"]

_MARKERS = ("config.toml", "model.jaxnn", "checkpoint/last.msgpack")
_LOWER_IS_BETTER = ("loss", "mae", "mse", "error", "huber")


def find_runs(folder: Path) -> list[Path]:
    """Every folder at or below ``folder`` that holds a run's files, sorted by path."""
    found = {p.parents[name.count("/")] for name in _MARKERS for p in folder.rglob(name)}
    return sorted(found)


def best(name: str, values: list[float]) -> float | None:
    """The best value of a metric: the least for losses and errors, else the greatest.

    Example:
        >>> best("val_loss", [0.5, 0.2, 0.3]), best("accuracy", [0.5, 0.9, 0.8])
        (0.2, 0.9)
    """
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return None
    return min(finite) if any(k in name for k in _LOWER_IS_BETTER) else max(finite)


def run_row(folder: Path, root: Path) -> dict[str, Any]:
    """One run's name, data, epochs, best and test metrics, and whether it finished.

    Best metrics are the validation ones when there are any; ``status`` is ``finished`` or
    ``unfinished`` (see :func:`jaxnn.cli.resume.is_unfinished`).
    """
    config: dict[str, Any] = {}
    if (folder / "config.toml").is_file():
        try:
            config = read_config(folder / "config.toml")
        except UserError as error:  # one broken run does not hide the others
            note(f"{folder}: {error.message}")
    history = {k: v for k, v in read_history(folder).items() if k != "epoch"}
    shown = [k for k in history if k.startswith("val_")] or list(history)
    row: dict[str, Any] = {
        "run": str(folder.relative_to(root)) if folder != root else str(folder),
        "data": Path(str(config.get("data", "-"))).name,
        "epochs": len(next(iter(history.values()), [])) if history else None,
    }
    row.update({f"best {k}": best(k, history[k]) for k in sorted(shown)})
    test = read_test(folder)
    row.update({f"test {k}": v for k, v in sorted(test.items()) if k != "samples"})
    row["status"] = "unfinished" if is_unfinished(folder) else "finished"
    return row


@click.command("runs")
@click.argument(
    "folder", default="runs", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON rows.")
@debug_option
def runs(folder: Path, as_json: bool) -> None:
    """List the runs in a folder with their best validation and test metrics.

    Example: jaxnn runs runs/
    """
    rows = [run_row(run, folder) for run in find_runs(folder)]
    if as_json:
        click.echo(json_text(rows))
        return
    if not rows:
        note(f"no runs in {folder} (a run is a folder with config.toml or model.jaxnn).")
        return
    headers = list(dict.fromkeys(k for row in rows for k in row if k != "status")) + ["status"]
    click.echo(format_table(headers, [[row.get(h) for h in headers] for row in rows]))
    unfinished = [row["run"] for row in rows if row["status"] == "unfinished"]
    if unfinished:
        run = folder / unfinished[0] if unfinished[0] != str(folder) else folder
        note(
            f"{len(unfinished)} run(s) did not finish ({', '.join(unfinished)}); continue one "
            f"from its last finished epoch with: jaxnn train --resume {run}"
        )
