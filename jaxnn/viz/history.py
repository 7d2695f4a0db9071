"""Training curves: :func:`plot_history` from a History, a dict or a CSVLogger file."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxnn.viz.figure import grid, target

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_history"]

_WHERE = "plot_history"


def plot_history(
    history: Any, *, metrics: str | Sequence[str] | None = None, ax: Axes | None = None
) -> Figure:
    """Training and validation curves per epoch: one panel per metric, loss first.

    Training values are solid lines, validation values (the ``val_`` logs) dashed lines of the
    same colour. The x axis is the epoch number as recorded: ``History.epoch`` and the CSV's
    ``epoch`` column count from 0, a plain dict's lists are numbered 0, 1, ... Logs that are not
    one number per epoch (a confusion matrix) are left out (asking for one is an error).

    Args:
        history: A :class:`jaxnn.callbacks.History` (as ``fit`` returns), a dict of per-epoch
            lists (``{"loss": [...], "val_loss": [...]}``), or the path of a CSV file written by
            :class:`jaxnn.callbacks.CSVLogger` (separator ``,``, ``;``, tab or ``|``).
        metrics: The metric or metrics to draw, by name without ``val_`` (``"loss"``,
            ``["accuracy"]``); default ``None``, every one.
        ax: An Axes to draw all the selected metrics into; default ``None``, a new figure with
            one Axes per metric side by side (4.5 x 3.5 inches each).

    Returns:
        The figure. On each Axes the lines come in pairs, a metric's training line then its
        validation line (when the history has one).

    Raises:
        TypeError: If ``history`` is none of the above, or ``ax`` is not an Axes.
        ValueError: If the history is empty, or a metric is unknown (the message lists the known
            ones) or is not one number per epoch.
        FileNotFoundError: If the CSV file does not exist.
        ImportError: Without matplotlib (``pip install "jaxnn[plot]"``).

    Example:
        >>> fig = plot_history({"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.6],
        ...                     "accuracy": [0.5, 0.8, 0.9]})
        >>> [ax.get_title() for ax in fig.axes]
        ['loss per epoch', 'accuracy per epoch']
        >>> [line.get_label() for line in fig.axes[0].get_lines()]
        ['training', 'validation']
        >>> fig.axes[0].get_lines()[1].get_ydata().tolist()
        [1.0, 0.7, 0.6]
    """
    logs, epochs = _logs(history)
    names = _select(logs, metrics)
    if ax is not None:
        fig, axes = target(_WHERE, ax, (4.5, 3.5))
        _draw(axes, logs, epochs, names)
        return fig
    fig, panels = grid(_WHERE, len(names), ncols=len(names), panel=(4.5, 3.5))
    for name, panel in zip(names, panels, strict=True):
        _draw(panel, logs, epochs, [name])
    return fig


def _draw(ax: Axes, logs: dict[str, np.ndarray], epochs: np.ndarray, names: list[str]) -> None:
    from matplotlib.ticker import MaxNLocator

    for i, name in enumerate(names):
        color = f"C{i % 10}"
        suffix = f" {name}" if len(names) > 1 else ""
        for key, style, kind in ((name, "-", "training"), (f"val_{name}", "--", "validation")):
            if key in logs:
                values = logs[key]
                x = epochs if len(values) == len(epochs) else np.arange(len(values))
                ax.plot(x, values, style, color=color, marker=".", label=f"{kind}{suffix}")
    ax.set_title(f"{names[0]} per epoch" if len(names) == 1 else "metrics per epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel(names[0] if len(names) == 1 else "value")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend()


def _select(logs: dict[str, np.ndarray], metrics: str | Sequence[str] | None) -> list[str]:
    base = list(dict.fromkeys(k.removeprefix("val_") for k in logs))
    known = sorted(base)
    if metrics is None:
        plottable = [b for b in base if all(_is_curve(logs.get(k)) for k in (b, f"val_{b}"))]
        if not plottable:
            raise ValueError(f"{_WHERE}: history has no per-epoch numbers; its logs are {known}.")
        return sorted(plottable, key=lambda b: b != "loss")
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{_WHERE}: metrics must be names from {known}; got {metrics!r}.")
    for name in names:
        if name not in base:
            raise ValueError(f"{_WHERE}: unknown metric {name!r}; the history has {known}.")
        for key in (name, f"val_{name}"):
            if not _is_curve(logs.get(key)):
                raise ValueError(
                    f"{_WHERE}: {key!r} is not one number per epoch; got values of shape "
                    f"{np.shape(logs[key])}."
                )
    return names


def _is_curve(values: np.ndarray | None) -> bool:
    return values is None or (values.ndim == 1 and values.dtype.kind == "f")


def _logs(history: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The logs as arrays and the epoch numbers, from any accepted kind of history."""
    epochs: Any = None
    raw: Mapping[Any, Any]
    if isinstance(history, str | os.PathLike):
        raw, epochs = _read_csv(Path(history))
    elif isinstance(getattr(history, "history", None), Mapping):
        raw, epochs = history.history, getattr(history, "epoch", None) or None
    elif isinstance(history, Mapping):
        raw = history
    else:
        raise TypeError(
            f"{_WHERE}: history must be a jaxnn.callbacks.History, a dict of per-epoch lists or "
            f"the path of a CSVLogger file; got {type(history).__name__}."
        )
    logs = {str(k): _as_array(v) for k, v in raw.items()}
    n = max((len(v) for v in logs.values() if v.ndim >= 1), default=0)
    if n == 0:
        raise ValueError(f"{_WHERE}: history is empty; it has no epochs to plot.")
    epochs = np.arange(n) if epochs is None else np.asarray(epochs, dtype=float)
    return logs, epochs


def _as_array(values: Any) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):  # ragged or not numbers
        return np.asarray(values, dtype=object)


def _read_csv(path: Path) -> tuple[dict[str, list[Any]], list[float] | None]:
    if not path.is_file():
        raise FileNotFoundError(f"{_WHERE}: no CSV history file at {str(path)!r}.")
    text = path.read_text()
    header = text.split("\n", 1)[0]
    separator = max(",;\t|", key=header.count)
    reader = csv.DictReader(text.splitlines(), delimiter=separator)
    columns: dict[str, list[Any]] = {name: [] for name in reader.fieldnames or []}
    for row in reader:
        for name in columns:
            columns[name].append(_number(row.get(name)))
    epochs = columns.pop("epoch", None)
    return columns, epochs


def _number(cell: str | None) -> Any:
    """A CSV cell as a float (``nan`` when empty, as for a log that began later), else as is."""
    if cell is None or cell == "":
        return math.nan
    try:
        return float(cell)
    except ValueError:
        return cell
