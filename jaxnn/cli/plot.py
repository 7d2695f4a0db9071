"""``jaxnn plot``: (re)draw a run's plots with :mod:`jaxnn.viz`; also used by ``jaxnn train``."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from jaxnn.cli.common import UserError, debug_option, list_files, load_saved, note, unsafe_option
from jaxnn.cli.datasets import Dataset, Preprocessing, load_run_data
from jaxnn.cli.models import LOGIT_LOSSES, loss_name, predicted_classes, trained_loss
from jaxnn.cli.rundir import PLOT_FILES, open_run
from jaxnn.core import Layer
from jaxnn.train import predict

__all__ = ["draw_plots", "plot", "viz_module"]

_SAMPLES = 32


def viz_module() -> ModuleType:
    """:mod:`jaxnn.viz`, when it and matplotlib are installed.

    Raises:
        ImportError: Saying what to install.
    """
    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError("matplotlib is not installed (pip install 'jaxnn[plot]')")
    import jaxnn.viz

    return jaxnn.viz


def _makers(
    viz: ModuleType, history: Path, model: Layer, train_state: Any, dataset: Dataset, loss: Any
) -> list[tuple[str, Callable[[], Any]]]:
    """The plots that fit the data, each as a file name and a function that draws it."""
    makers: list[tuple[str, Callable[[], Any]]] = []
    if history.is_file():
        makers.append(("history.png", lambda: viz.plot_history(history)))
    if dataset.num_classes is None or dataset.sequences:  # a confusion matrix of characters: no
        return makers
    if dataset.grain is not None:  # the other plots need the samples in memory
        return makers
    if dataset.x_test is not None and dataset.y_test is not None:
        x, y = dataset.x_test, dataset.y_test
    else:
        x, y = dataset.x_train, dataset.y_train
    classes = predicted_classes(predict(model, train_state, x), loss)
    names = dataset.class_names
    if x.shape[1:] == (2,):
        threshold = 0.0 if loss_name(loss) in LOGIT_LOSSES else None
        makers.append(
            (
                "decision_boundary.png",
                lambda: viz.plot_decision_boundary(model, train_state, x, y, threshold=threshold),
            )
        )
    makers.append(
        ("confusion_matrix.png", lambda: viz.plot_confusion_matrix(y, classes, labels=names))
    )
    if dataset.images:
        makers.append(
            (
                "samples.png",
                lambda: viz.plot_samples(
                    x[:_SAMPLES], y[:_SAMPLES], classes[:_SAMPLES], class_names=names
                ),
            )
        )
    return makers


def draw_plots(
    folder: Path,
    model: Layer,
    train_state: Any,
    dataset: Dataset,
    *,
    loss: Any,
    history: Path | None = None,
    quiet: bool = False,
) -> list[Path]:
    """Draws the plots that fit a run into ``folder``; returns the files written.

    ``history.png`` from ``history.csv``; for classifiers ``confusion_matrix.png`` on the test
    split (the training split without one), ``decision_boundary.png`` for 2-D inputs and
    ``samples.png`` for images. A plot the data does not allow is skipped with a note.

    Raises:
        ImportError: If matplotlib or :mod:`jaxnn.viz` is missing.
    """
    viz = viz_module()
    history = history or folder / "history.csv"
    written = []
    for name, make in _makers(viz, history, model, train_state, dataset, loss):
        try:
            written.append(viz.save_figure(make(), folder / name))
        except (ValueError, TypeError) as error:
            note(f"{name} skipped: {error}", quiet=quiet)
    return written


@click.command("plot")
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the plots to (default: the run directory).",
)
@click.option("--overwrite", is_flag=True, help="Replace plots that already exist.")
@debug_option
@unsafe_option
def plot(run: Path, out: Path | None, overwrite: bool) -> None:
    """Redraw a run's plots: history, decision boundary, confusion matrix, samples.

    Example: jaxnn plot runs/demo --out runs/demo/plots
    """
    found = open_run(run)
    folder = out or found.folder
    existing = [name for name in PLOT_FILES if (folder / name).exists()]
    if existing and not overwrite:
        raise UserError(
            f"{str(folder)!r} already has {', '.join(existing)}: pass --overwrite to redraw "
            f"them, or --out DIR to write elsewhere."
        )
    viz_module()
    saved = load_saved(found.model_path)
    dataset = load_run_data(found.config, Preprocessing.read(found.folder))
    out_shape = tuple(saved.metadata["output_shape"])
    loss = trained_loss(found.config, saved.fit_kwargs, out_shape, dataset)
    folder.mkdir(parents=True, exist_ok=True)
    history = found.folder / "history.csv"
    written = draw_plots(
        folder, saved.model, saved.train_state, dataset, loss=loss, history=history
    )
    click.echo(list_files(written))
