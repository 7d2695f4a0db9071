"""``jaxnn summary``: the layer table of :func:`jaxnn.summary` for a run, a model file or a spec."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from jaxnn.cli.common import UserError, debug_option, load_saved, unsafe_option
from jaxnn.cli.datasets import load_dataset
from jaxnn.cli.models import is_model_file, load_source
from jaxnn.cli.rundir import open_run
from jaxnn.models import summary as summarize
from jaxnn.precision import POLICIES

__all__ = ["parse_shape", "summary"]


def parse_shape(text: str) -> tuple[int, ...]:
    """An input shape from ``"64"``, ``"28,28,1"`` or ``"(-1, 28, 28, 1)"``; batch axis added.

    Raises:
        UserError: For anything but integers.

    Example:
        >>> parse_shape("28, 28, 1"), parse_shape("(-1, 64)")
        ((-1, 28, 28, 1), (-1, 64))
    """
    parts = [p for p in re.split(r"[\s,()x]+", text.strip()) if p]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise UserError(
            f"--input-shape {text!r}: give the sample shape as integers, e.g. 64 or 28,28,1."
        ) from None
    if not dims or any(d < 1 for d in dims[1:]):
        raise UserError(f"--input-shape {text!r}: sizes must be positive integers.")
    return dims if dims[0] == -1 else (-1, *dims)


def _first_type(config: Any) -> str:
    """The type of a model's first leaf layer, from its config."""
    while isinstance(config, dict) and config.get("layers"):
        config = config["layers"][0]
    return config.get("type", "") if isinstance(config, dict) else ""


def _is_run(target: str) -> bool:
    path = Path(target)
    return path.is_dir() or path.suffix.lower() == ".jaxnn"


def _from_run(target: str) -> tuple[Any, tuple[int, ...], dict[str, Any]]:
    """The saved model, its input shape, and its params, state and training precision."""
    saved = load_saved(open_run(target).model_path)
    params = {
        "params": saved.train_state.params,
        "state": saved.train_state.state,
        "precision": saved.fit_kwargs.get("precision"),
    }
    return saved.model, saved.input_shape, params


def _input_shape(input_shape: str | None, data: str | None) -> tuple[int, ...]:
    if input_shape is not None:
        return parse_shape(input_shape)
    if data is not None:
        return load_dataset(data, test_split=0).input_shape
    raise UserError(
        "give --input-shape (e.g. 64 or 28,28,1) or --data NAME for a model spec or file."
    )


@click.command("summary")
@click.argument("target", metavar="RUN|MODEL")
@click.option(
    "--input-shape",
    metavar="SHAPE",
    help="For a spec or model file: the shape of one sample, e.g. 64 or 28,28,1.",
)
@click.option(
    "--data",
    metavar="NAME|FILE",
    help="For a spec or model file: take the input shape from this data set.",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "int32"]),
    help="The input's dtype "
    "(default: int32 for a model that starts with an embedding, else float32).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Rows per batch for counting FLOPs.",
)
@click.option(
    "--precision",
    type=click.Choice(list(POLICIES)),
    help="The precision policy to show the dtypes under "
    "(default: the one a run or model file trained with, else float32).",
)
@debug_option
@unsafe_option
def summary(
    target: str,
    input_shape: str | None,
    data: str | None,
    dtype: str | None,
    batch_size: int,
    precision: str | None,
) -> None:
    """Show a model's layers, output shapes, parameters and FLOPs.

    Example: jaxnn summary "conv2d(8,3,relu) flatten dense(10)" --input-shape 8,8,1
    """
    arrays: dict[str, Any] = {}
    if _is_run(target):
        model, shape, arrays = _from_run(target)
    elif is_model_file(target) or "(" in target or not Path(target).exists():
        model, shape = load_source(target).model, _input_shape(input_shape, data)
    else:
        raise UserError(f"{target!r} is not a run directory, a model file or a model spec.")
    if dtype is None:
        dtype = "int32" if _first_type(model.config) == "Embedding" else "float32"
    if precision is not None:
        arrays["precision"] = precision
    summarize(model, shape, batch_size=batch_size, dtype=dtype, print_fn=click.echo, **arrays)
