"""What a search returns: one row per configuration, every run, the best model; tables and plots."""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxnn.checkpoint import write_atomic
from jaxnn.core import Layer

__all__ = ["Best", "Run", "SearchResult", "better", "mode_of", "summarise"]

_MAX_WORDS = ("acc", "auc", "precision", "recall", "f1")


def mode_of(monitor: str) -> str:
    """``"max"`` for accuracy-like names (as EarlyStopping's ``mode="auto"``), else ``"min"``.

    Example:
        >>> mode_of("val_accuracy"), mode_of("val_loss")
        ('max', 'min')
    """
    return "max" if any(word in monitor for word in _MAX_WORDS) else "min"


def better(a: float, b: float, mode: str) -> bool:
    """Whether ``a`` beats ``b`` (NaN never does)."""
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a > b if mode == "max" else a < b


class Run(NamedTuple):
    """One trained model: a configuration and a seed.

    Attributes:
        config: The configuration's values.
        seed: The seed.
        history: Per-epoch values, as ``fit``'s ``History.history``.
        train_state: The final TrainState (the best epoch's under early stopping that
            restores the best weights); ``None`` for a run read back from an Optuna study.
        logs: The values of that epoch.
    """

    config: dict[str, Any]
    seed: int
    history: dict[str, list[float]]
    train_state: Any
    logs: dict[str, float]


class Best(NamedTuple):
    """The best configuration and its best seed's model.

    Attributes:
        config: The configuration with the best mean of the monitored value.
        seed: Its seed with the best value.
        model: The Layer of that configuration.
        train_state: That seed's TrainState (``None`` when the best trial came from an earlier,
            resumed Optuna session).
        history: That seed's per-epoch values.
        row: The configuration's row of :attr:`SearchResult.rows`.
    """

    config: dict[str, Any]
    seed: int | None
    model: Layer | None
    train_state: Any
    history: dict[str, list[float]]
    row: dict[str, Any]


def summarise(
    config: dict[str, Any], logs: Sequence[dict[str, float]], epochs: Sequence[int], seconds: float
) -> dict[str, Any]:
    """A row: the values, each metric's mean and (population) standard deviation over seeds.

    Example:
        >>> row = summarise({"lr": 0.1}, [{"loss": 1.0}, {"loss": 3.0}], [5, 5], 0.5)
        >>> row["loss_mean"], row["loss_std"], row["seeds"]
        (2.0, 1.0, 2)
    """
    row: dict[str, Any] = dict(config)
    row["seeds"] = len(logs)
    for name in logs[0] if logs else []:
        values = np.asarray([entry.get(name, math.nan) for entry in logs], np.float64)
        row[f"{name}_mean"] = float(np.mean(values))
        row[f"{name}_std"] = float(np.std(values))
    row["epochs"] = float(np.mean(epochs)) if len(epochs) else 0.0
    row["seconds"] = float(seconds)
    return row


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (tuple, list)):
        return "-".join(str(v) for v in value)
    return str(value)


class SearchResult:
    """The outcome of :func:`jaxnn.search`.

    Attributes:
        rows: One dict per configuration, in the search's order: the hyperparameters' values,
            ``seeds``, ``<metric>_mean`` and ``<metric>_std`` (over the seeds, population
            standard deviation) for ``loss``, each metric and their ``val_`` versions,
            ``epochs`` (the mean number trained) and ``seconds`` (the configuration's share of
            its compiled group's wall time, compilation included).
        runs: Every trained model, configuration by configuration, seed by seed.
        best: The :class:`Best` configuration by ``monitor``.
        keys: The hyperparameters' names (the columns before the metrics).
        monitor: The value that ranks configurations (``val_loss`` with validation data, else
            ``loss``, unless given).
        mode: ``"min"`` or ``"max"``.
        groups: How many compiled groups trained (one compilation each).
        sizes: Each group's members per compiled call (fewer than its members when the
            memory estimate split it).
    """

    def __init__(
        self,
        rows: list[dict[str, Any]],
        runs: list[Run],
        best: Best | None,
        keys: list[str],
        monitor: str,
        mode: str,
        groups: int = 0,
        sizes: list[int] | None = None,
    ) -> None:
        """Holds the results (built by :func:`jaxnn.search`)."""
        self.rows, self.runs, self.best, self.keys = rows, runs, best, keys
        self.monitor, self.mode, self.groups = monitor, mode, groups
        self.sizes = list(sizes or [])

    def __repr__(self) -> str:
        """A short summary: the number of configurations and the best one."""
        best = None if self.best is None else self.best.config
        return f"SearchResult({len(self.rows)} configurations, best {best}, by {self.monitor})"

    def columns(self) -> list[str]:
        """The columns of :meth:`to_csv`: hyperparameters, ``seeds``, metrics, epochs, seconds."""
        names: list[str] = list(self.keys) + ["seeds"]
        for row in self.rows:
            for name in row:
                if name not in names and name not in ("epochs", "seconds"):
                    names.append(name)
        return [*names, "epochs", "seconds"]

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """The rows as CSV text; written atomically to ``path`` when given.

        Example:
            >>> r = SearchResult([{"lr": 0.1, "seeds": 1, "loss_mean": 0.5, "loss_std": 0.0,
            ...                    "epochs": 2.0, "seconds": 0.1}], [], None, ["lr"], "loss", "min")
            >>> print(r.to_csv().splitlines()[0])
            lr,seeds,loss_mean,loss_std,epochs,seconds
        """
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=self.columns(), lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})
        text = out.getvalue()
        if path is not None:
            write_atomic(Path(path), text.encode())
        return text

    def to_markdown(self, path: str | os.PathLike | None = None) -> str:
        """A Markdown table: each metric as ``mean ± std``, the best row in bold.

        Example:
            >>> r = SearchResult([{"lr": 0.1, "seeds": 2, "loss_mean": 0.5, "loss_std": 0.25,
            ...                    "epochs": 2.0, "seconds": 0.1}], [], None, ["lr"], "loss", "min")
            >>> print(r.to_markdown())
            | lr | seeds | loss | epochs | seconds |
            | --- | --- | --- | --- | --- |
            | 0.1 | 2 | 0.5 ± 0.25 | 2 | 0.1 |
        """
        metrics = [c[: -len("_mean")] for c in self.columns() if c.endswith("_mean")]
        head = [*self.keys, "seeds", *metrics, "epochs", "seconds"]
        lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
        best = None if self.best is None else self.best.row
        for row in self.rows:
            cells = [_cell(row.get(k)) for k in self.keys] + [str(row["seeds"])]
            cells += [
                f"{row[f'{m}_mean']:.4g} ± {row[f'{m}_std']:.2g}" if f"{m}_mean" in row else "-"
                for m in metrics
            ]
            cells += [_cell(row["epochs"]), _cell(row["seconds"])]
            if row is best:
                cells = [f"**{c}**" for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
        text = "\n".join(lines)
        if path is not None:
            write_atomic(Path(path), (text + "\n").encode())
        return text

    def varying(self) -> list[str]:
        """The hyperparameters that take more than one value."""
        return [k for k in self.keys if len({_cell(r.get(k)) for r in self.rows}) > 1]

    def plot(self, metric: str | None = None, *, axes: Sequence[Any] | None = None) -> Any:
        """The metric against each hyperparameter that varies, one panel each.

        Each point is the mean over the seeds with the standard deviation as an error bar; the
        other hyperparameters' values are averaged over.

        Args:
            metric: A metric name such as ``"val_accuracy"`` (default: the monitor).
            axes: One matplotlib Axes per varying hyperparameter (default: a new figure).

        Returns:
            The matplotlib Figure.

        Raises:
            ValueError: For a metric the rows do not hold (the known ones listed).
            ImportError: Without matplotlib.
        """
        from jaxnn.viz.figure import grid

        metric = self._metric(metric)
        names = self.varying() or list(self.keys[:1]) or ["seeds"]
        if axes is None:
            fig, axes = grid("SearchResult.plot", len(names), ncols=3, panel=(4.0, 3.0))
        else:
            fig = axes[0].figure.figure
        for ax, name in zip(axes, names, strict=False):
            labels, means, stds = self._by(name, metric)
            positions = np.arange(len(labels))
            ax.errorbar(positions, means, yerr=stds, marker="o", capsize=3)
            ax.set_xticks(positions, labels, rotation=30 if len(labels) > 6 else 0)
            ax.set_xlabel(name)
            ax.set_ylabel(f"{metric} (mean ± std over seeds)")
            ax.grid(alpha=0.3)
        return fig

    def plot_heatmap(
        self, x: str = "width", y: str = "depth", metric: str | None = None, *, ax: Any = None
    ) -> Any:
        """A heat map of the metric's mean over two hyperparameters, e.g. width x depth.

        Raises:
            ValueError: For a hyperparameter or metric the rows do not hold.
            ImportError: Without matplotlib.
        """
        from jaxnn.viz.figure import target

        metric = self._metric(metric)
        for name in (x, y):
            if name not in self.keys:
                raise ValueError(
                    f"SearchResult.plot_heatmap: {name!r} is not a hyperparameter of this search; "
                    f"it has {self.keys}."
                )
        xs = sorted({r[x] for r in self.rows}, key=_order)
        ys = sorted({r[y] for r in self.rows}, key=_order)
        table = np.full((len(ys), len(xs)), np.nan)
        for i, yv in enumerate(ys):
            for j, xv in enumerate(xs):
                values = [r[f"{metric}_mean"] for r in self.rows if r[x] == xv and r[y] == yv]
                if values:
                    table[i, j] = float(np.mean(values))
        fig, ax = target("SearchResult.plot_heatmap", ax, (1.2 * len(xs) + 2.5, len(ys) + 1.5))
        image = ax.imshow(table, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(xs)), [_cell(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_cell(v) for v in ys])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        for (i, j), value in np.ndenumerate(table):
            if not math.isnan(value):
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="white")
        fig.colorbar(image, ax=ax, label=f"{metric} (mean over seeds)")
        return fig

    def _metric(self, metric: str | None) -> str:
        metric = metric or self.monitor
        known = [c[: -len("_mean")] for c in self.columns() if c.endswith("_mean")]
        if metric not in known:
            raise ValueError(f"SearchResult: unknown metric {metric!r}; the rows hold {known}.")
        return metric

    def _by(self, name: str, metric: str) -> tuple[list[str], list[float], list[float]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(self.rows, key=lambda r: _order(r.get(name))):
            groups.setdefault(_cell(row.get(name)), []).append(row)
        means = [float(np.mean([r[f"{metric}_mean"] for r in g])) for g in groups.values()]
        stds = [float(np.mean([r[f"{metric}_std"] for r in g])) for g in groups.values()]
        return list(groups), means, stds


def _order(value: Any) -> tuple:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    if isinstance(value, (tuple, list)):
        return (1, float(len(value)), str(value))
    return (2, 0.0, str(value))


def _csv_value(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return "-".join(str(v) for v in value)
    return value
