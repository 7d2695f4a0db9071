"""``jaxnn predict``: a trained model's predictions for a CSV or ``.npy`` file of inputs."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from jaxnn.checkpoint import write_atomic
from jaxnn.cli.common import UserError, debug_option, list_files, load_saved, unsafe_option
from jaxnn.cli.datasets import Preprocessing
from jaxnn.cli.evaluate import check_input_shape
from jaxnn.cli.models import CLASSIFICATION_LOSSES, loss_name, predicted_classes, probabilities
from jaxnn.cli.rundir import open_run
from jaxnn.train import predict as predict_model

__all__ = ["predict", "read_inputs"]

_SUFFIXES = (".csv", ".npy")


def _number(cell: str, path: Path, line: int, column: int) -> float:
    try:
        return float(cell)
    except ValueError:
        raise UserError(
            f"{str(path)!r}, line {line}, column {column}: {cell!r} is not a number (the input "
            f"must be numeric features, one sample per row)."
        ) from None


def _read_csv(path: Path) -> np.ndarray:
    """The numbers of a CSV file; a first row that is not numeric is a header."""
    try:
        with path.open(newline="") as f:
            rows = [r for r in csv.reader(f) if r]
    except UnicodeDecodeError as error:
        raise UserError(f"{str(path)!r} is not a text CSV file ({error.reason}).") from None
    if rows and not all(_is_number(c) for c in rows[0]):
        start, rows = 2, rows[1:]
    else:
        start = 1
    if not rows:
        raise UserError(f"{str(path)!r} holds no rows of numbers.")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise UserError(
                f"{str(path)!r}, line {start + i}: {len(row)} fields, but the first row has "
                f"{width}."
            )
    values = [
        [_number(c, path, start + i, j + 1) for j, c in enumerate(row)]
        for i, row in enumerate(rows)
    ]
    return np.asarray(values, np.float32)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_inputs(path: Path) -> np.ndarray:
    """Reads inputs from a ``.csv`` (numbers, optional header) or ``.npy`` file.

    Raises:
        UserError: For another file type or a malformed file (naming the file and line).
    """
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise UserError(f"{str(path)!r}: inputs must be a .csv or .npy file; got {suffix!r}.")
    if suffix == ".csv":
        return _read_csv(path)
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"{str(path)!r} is not a readable .npy file: {error}") from None
    return x.astype(np.float32) if x.dtype.kind not in "iu" else x


def _fit_shape(x: np.ndarray, expected: tuple[int, ...], path: Path) -> np.ndarray:
    """``x`` as the model's samples: rows of features reshaped when the sizes agree."""
    if x.ndim == 1:
        x = x[:, None]
    size = int(np.prod(expected[1:]))
    if tuple(x.shape[1:]) != tuple(expected[1:]) and int(np.prod(x.shape[1:])) == size:
        x = x.reshape((len(x), *expected[1:]))
    check_input_shape(x.shape, expected, repr(str(path)))
    return x


def _table(outputs: np.ndarray, loss: Any, raw: bool) -> tuple[list[str], np.ndarray]:
    """Column names and values: class and probabilities for a classifier, else the outputs."""
    flat = outputs.reshape(len(outputs), -1)
    if raw or loss_name(loss) not in CLASSIFICATION_LOSSES:
        return [f"output_{i}" for i in range(flat.shape[1])], flat
    classes = predicted_classes(flat, loss)[:, None]
    p = probabilities(flat, loss)
    if p is None:
        return ["class"], classes
    return ["class"] + [f"p_{i}" for i in range(p.shape[1])], np.concatenate([classes, p], 1)


def _csv_text(columns: list[str], values: np.ndarray, labels: list[str] | None = None) -> str:
    """The table as CSV; with ``labels`` (a CSV target's class names) a ``label`` column."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    named = labels is not None and columns[0] == "class"
    writer.writerow(["label", *columns] if named else columns)
    for row in values:
        cells = [_format(columns[j], v) for j, v in enumerate(row)]
        writer.writerow([labels[int(row[0])], *cells] if named and labels else cells)
    return out.getvalue()


def _format(column: str, value: Any) -> str:
    return str(int(value)) if column == "class" else f"{float(value):.6g}"


def _write(path: Path, columns: list[str], values: np.ndarray, labels: list[str] | None) -> None:
    if path.suffix.lower() == ".csv":
        write_atomic(path, _csv_text(columns, values, labels).encode())
        return
    buffer = io.BytesIO()
    np.save(buffer, values[:, 0].astype(np.int64) if columns[0] == "class" else values)
    write_atomic(path, buffer.getvalue())


@click.command("predict")
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.argument(
    "inputs", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A .csv or .npy file to write (default: CSV on stdout). A .npy file gets the "
    "class ids of a classifier, or the outputs.",
)
@click.option(
    "--outputs",
    "raw",
    is_flag=True,
    help="Write the model's raw outputs instead of classes and probabilities.",
)
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--batch-size", type=click.IntRange(1), default=256, show_default=True)
@debug_option
@unsafe_option
def predict(
    run: Path, inputs: Path, out: Path | None, raw: bool, overwrite: bool, batch_size: int
) -> None:
    """Predict with a trained model: classes and probabilities per input row.

    A run trained on a CSV file takes rows with the same columns (the target may be missing):
    they are encoded and scaled as the training rows were, and the predicted class's name is
    written beside its id. Otherwise INPUT holds the model's numeric features.

    Example: jaxnn predict runs/demo samples.csv --out predictions.csv
    """
    if out is not None:
        if out.suffix.lower() not in _SUFFIXES:
            raise UserError(f"--out {str(out)!r} must end in .csv or .npy.")
        if out.exists() and not overwrite:
            raise UserError(f"{str(out)!r} exists: pass --overwrite to replace it.")
    found = open_run(run)
    saved = load_saved(found.model_path)
    preprocessing = Preprocessing.read(found.folder)
    if preprocessing is not None and inputs.suffix.lower() == ".csv":
        x = _fit_shape(preprocessing.transform(inputs), saved.input_shape, inputs)
        labels = preprocessing.encoder.classes
    else:
        x, labels = _fit_shape(read_inputs(inputs), saved.input_shape, inputs), None
    policy = saved.fit_kwargs.get("precision")  # the one the model trained with
    outputs = np.asarray(
        predict_model(saved.model, saved.train_state, x, batch_size=batch_size, precision=policy)
    )
    loss = found.config.get("loss") or saved.fit_kwargs.get("loss")
    columns, values = _table(outputs, loss, raw)
    if out is None:
        sys.stdout.write(_csv_text(columns, values, labels))
        return
    _write(out, columns, values, labels)
    click.echo(list_files([out]))
