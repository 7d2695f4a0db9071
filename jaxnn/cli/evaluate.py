"""``jaxnn evaluate``: a trained model's loss and metrics on data (:func:`jaxnn.evaluate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

from jaxnn.checkpoint import json_text
from jaxnn.cli.common import UserError, debug_option, load_saved, scores, unsafe_option
from jaxnn.cli.datasets import Dataset, Preprocessing, load_run_data
from jaxnn.cli.models import adapt_targets, trained_loss
from jaxnn.cli.rundir import open_run
from jaxnn.train import evaluate as evaluate_model

__all__ = ["check_input_shape", "evaluate"]


def check_input_shape(shape: tuple[int, ...], expected: tuple[int, ...], what: str) -> None:
    """Checks samples of ``shape`` (batch axis first) against the model's input shape.

    Raises:
        UserError: Naming both shapes.

    Example:
        >>> check_input_shape((5, 3), (-1, 64), "x.csv")
        Traceback (most recent call last):
        ...
        jaxnn.cli.common.UserError: x.csv has 3 features per sample, but the model takes 64.
    """
    got, want = tuple(shape[1:]), tuple(expected[1:])
    if got == want:
        return
    if len(got) == len(want) == 1:
        raise UserError(f"{what} has {got[0]} features per sample, but the model takes {want[0]}.")
    raise UserError(f"{what} has samples of shape {got}, but the model takes {want}.")


def _split(dataset: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    if split == "train":
        return dataset.x_train, dataset.y_train
    if dataset.x_test is None or dataset.y_test is None:
        raise UserError("the data has no test split (--test-split 0): use --split train or all.")
    if split == "test":
        return dataset.x_test, dataset.y_test
    x = np.concatenate([dataset.x_train, dataset.x_test])
    return x, np.concatenate([dataset.y_train, dataset.y_test])


def _grain_values(dataset: Dataset, split: str, saved: Any, options: dict) -> dict[str, Any]:
    """The metrics of the ``test`` dataset that a ``grain:`` function returned."""
    if split != "test":
        raise UserError(
            f"--split {split}: for --data {dataset.name!r} evaluate reads the 'test' dataset "
            f"its function returns (--split test); the training data may have no end."
        )
    values = dataset.grain.test_values(saved.model, saved.train_state, **options)
    if values is None:
        raise UserError(
            f"--data {dataset.name!r}: its function returns no 'test' dataset; return a dict "
            f"with 'train' and 'test' to evaluate on one."
        )
    return dict(values)


@click.command("evaluate")
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.option("--data", metavar="NAME|FILE", help="Data to evaluate on (default: the run's).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="As for jaxnn train.")
@click.option("--target", metavar="COLUMN", help="As for jaxnn train (default: the run's).")
@click.option(
    "--test-split",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    help="As for jaxnn train (default: the run's, so the same test rows).",
)
@click.option(
    "--split",
    type=click.Choice(["test", "train", "all"]),
    default="test",
    show_default=True,
    help="Which rows to evaluate on.",
)
@click.option("--batch-size", type=click.IntRange(1), default=256, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@debug_option
@unsafe_option
def evaluate(run: Path, split: str, batch_size: int, as_json: bool, **data: Any) -> None:
    """Evaluate a trained model: loss and metrics on its test split or other data.

    Example: jaxnn evaluate runs/demo --split all
    """
    found = open_run(run)
    saved = load_saved(found.model_path)
    dataset = load_run_data(found.config, Preprocessing.read(found.folder), **data)
    check_input_shape(dataset.x_train.shape, saved.input_shape, f"{dataset.name!r}")
    out_shape = tuple(saved.metadata["output_shape"])
    loss = trained_loss(found.config, saved.fit_kwargs, out_shape, dataset)
    metrics = ["accuracy"] if dataset.num_classes is not None else ["mae"]
    options = {"loss": loss, "metrics": metrics, "precision": saved.fit_kwargs.get("precision")}
    if dataset.grain is not None:
        values = _grain_values(dataset, split, saved, options)
    else:
        x, y = _split(dataset, split)
        result = evaluate_model(
            saved.model,
            saved.train_state,
            (x, adapt_targets(y, loss)),
            batch_size=batch_size,
            **options,
        )
        values = scores(result, len(x))
    if as_json:
        click.echo(json_text(values))
        return
    click.echo(f"{dataset.name}, {split} split ({values['samples']:,} samples):")
    for name, value in values.items():
        if name != "samples":
            click.echo(f"  {name} {value:.4f}")
