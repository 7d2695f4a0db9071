"""Grids of configurations: the built-in quick and full sweeps, and TOML grid files.

A grid maps each family to its fields, each a list of values; the sweep runs their product. A
TOML grid file has one table per family::

    [fc]
    layers = [2, 4]
    width = [128, 512]
    batch = [32, 256]
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jaxnn.bench.families import FAMILIES, check_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["FULL", "QUICK", "expand", "load_grid"]

Grid = Mapping[str, Mapping[str, Sequence[int]]]

# `jaxnn bench --quick`: every family, small shapes, well under 2 minutes on 2 CPU cores.
QUICK: dict[str, dict[str, list[int]]] = {
    "fc": {"layers": [2], "width": [64, 256], "batch": [32, 128]},
    "cnn": {"depth": [2], "filters": [8], "image": [16], "batch": [16]},
    "resnet": {"depth": [3], "filters": [8], "image": [16], "batch": [16]},
    "rnn": {"layers": [1], "hidden": [32], "seq_len": [16], "batch": [16]},
    "lstm": {"layers": [1], "hidden": [32], "seq_len": [16], "batch": [16]},
    "gru": {"layers": [1], "hidden": [32], "seq_len": [16], "batch": [16]},
    "attention": {"heads": [2], "width": [32], "seq_len": [16], "batch": [16]},
    "transformer": {"layers": [2], "width": [32], "heads": [2], "seq_len": [32], "batch": [16]},
}

# The default sweep: ParaDnn's axes at sizes a CPU finishes in minutes and a GPU fills.
FULL: dict[str, dict[str, list[int]]] = {
    "fc": {"layers": [2, 4], "width": [128, 512, 2048], "batch": [32, 128, 512]},
    "cnn": {"depth": [2, 4], "filters": [16, 32], "image": [32], "batch": [32, 128]},
    "resnet": {"depth": [4], "filters": [16, 32], "image": [32], "batch": [32, 128]},
    "rnn": {"layers": [1, 2], "hidden": [128], "seq_len": [32], "batch": [32, 128]},
    "lstm": {"layers": [1, 2], "hidden": [128], "seq_len": [32], "batch": [32, 128]},
    "gru": {"layers": [1, 2], "hidden": [128], "seq_len": [32], "batch": [32, 128]},
    "attention": {"heads": [4], "width": [128, 256], "seq_len": [64], "batch": [32, 128]},
    "transformer": {
        "layers": [2, 4],
        "width": [128, 256],
        "heads": [4],
        "seq_len": [128],
        "batch": [16, 64],
    },
}


def expand(grid: Grid, families: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every configuration of a grid, family by family, as ``{"family": ..., fields...}``.

    Args:
        grid: ``{family: {field: [values]}}``.
        families: Only these families (default: all in the grid).

    Raises:
        ValueError: For an unknown family or a bad field (see
            :func:`jaxnn.bench.families.check_config`).

    Example:
        >>> [c["batch"] for c in expand({"fc": {"layers": [1], "width": [8], "batch": [2, 4]}})]
        [2, 4]
    """
    configs = []
    for family, fields in grid.items():
        if families is not None and family not in families:
            continue
        if family not in FAMILIES:
            check_config({"family": family})  # raises, listing the known families
        names = FAMILIES[family]
        values = [fields.get(n, []) for n in names]
        for v in values:
            if not isinstance(v, (list, tuple)):
                raise ValueError(f"bench: each field of {family!r} must be a list; got {v!r}.")
        for combo in itertools.product(*values):
            config = {"family": family, **dict(zip(names, combo, strict=True))}
            check_config(config)
            configs.append(config)
        if not all(values) or set(fields) - set(names):
            check_config({"family": family, **{k: 1 for k in fields}})  # names the fields
    return configs


def load_grid(path: str | Path) -> dict[str, dict[str, list[int]]]:
    """Reads a TOML grid file.

    Raises:
        ValueError: If the file does not parse (naming the line), or for an unknown family or
            field.
        OSError: If the file cannot be read.
    """
    text = Path(path).read_text()
    try:
        grid = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"bench: grid file {str(path)!r} does not parse: {e}.") from None
    for family, fields in grid.items():
        if not isinstance(fields, dict):
            raise ValueError(
                f"bench: grid file {str(path)!r}: {family!r} must be a table like [fc]; "
                f"got {fields!r}."
            )
    expand(grid)  # checks every family and field
    return grid
