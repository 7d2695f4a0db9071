"""Run directories: what ``jaxnn train`` writes, and reading it back.

A run directory holds ``config.toml`` (the resolved options of ``jaxnn train``, enough to rerun
it with ``--config``; data and model files, and the file of ``grain:FILE.py:FUNCTION``, as
absolute paths), ``history.csv``, ``model.jaxnn``, ``test.json``, for a CSV
``preprocessing.json`` (how its columns became features), TensorBoard events under ``tb/`` and
the plots; until the run has finished, ``checkpoint/`` (see :mod:`jaxnn.cli.resume`). Only
these files belong to the run: ``--overwrite`` replaces them and leaves anything
else in the folder alone.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import sys
from pathlib import Path
from typing import Any, NamedTuple

import tomli_w

from jaxnn._version import __version__
from jaxnn.checkpoint import json_text, write_atomic
from jaxnn.cli.common import UserError, did_you_mean
from jaxnn.cli.datasets import short_name
from jaxnn.cli.grain_data import GRAIN_PREFIX, grain_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "CONFIG_KEYS",
    "PLOT_FILES",
    "RUN_FILES",
    "Run",
    "default_out",
    "open_run",
    "prepare",
    "read_config",
    "read_history",
    "read_test",
    "run_files",
    "write_config",
    "write_json",
]

PLOT_FILES = ("history.png", "decision_boundary.png", "confusion_matrix.png", "samples.png")
RUN_FILES = (
    "config.toml",
    "history.csv",
    "model.jaxnn",
    "preprocessing.json",
    "test.json",
    *PLOT_FILES,
)
# The options of `jaxnn train` that config.toml records, in the order it writes them.
CONFIG_KEYS = (
    "data",
    "data_dir",
    "target",
    "drop",
    "categorical",
    "test_split",
    "model",
    "loss",
    "optimizer",
    "learning_rate",
    "epochs",
    "batch_size",
    "steps_per_epoch",
    "validation_split",
    "early_stopping",
    "seed",
    "precision",
)
_PATH_KEYS = ("data", "data_dir", "model")


def default_out(data: str, now: datetime.datetime | None = None) -> Path:
    """``runs/<data>-<timestamp>``, the default ``--out`` of ``jaxnn train``.

    Example:
        >>> str(default_out("digits", datetime.datetime(2025, 1, 2, 3, 4, 5)))
        'runs/digits-20250102-030405'
    """
    now = now or datetime.datetime.now()
    return Path("runs") / f"{short_name(data)}-{now:%Y%m%d-%H%M%S}"


def run_files(folder: Path) -> list[Path]:
    """The files of a run in ``folder``, TensorBoard events and a checkpoint included."""
    found = [folder / name for name in RUN_FILES if (folder / name).is_file()]
    found += sorted((folder / "tb").glob("*/events.out.tfevents.*"))
    return found + sorted((folder / "checkpoint").glob("*.msgpack"))


def prepare(folder: Path, *, overwrite: bool) -> list[Path]:
    """Makes ``folder`` ready for a new run; returns the old run's files it removed.

    Raises:
        UserError: If ``folder`` is a file, or holds a run and ``overwrite`` is false.
    """
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {str(folder)!r} is a file, not a folder.")
    old = run_files(folder)
    if old and not overwrite:
        names = ", ".join(str(p.relative_to(folder)) for p in old[:6])
        raise UserError(
            f"{str(folder)!r} already holds a run ({names}{', ...' if len(old) > 6 else ''}). "
            f"Pass --overwrite to replace the run's files (other files stay), or choose "
            f"another --out."
        )
    for path in old:
        path.unlink()
    for sub in [*sorted((folder / "tb").glob("*")), folder / "tb", folder / "checkpoint"]:
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    folder.mkdir(parents=True, exist_ok=True)
    return old


def write_config(path: Path, options: dict[str, Any]) -> Path:
    """Writes the resolved options as TOML (``None`` values left out), atomically."""
    values = {k: _absolute(k, options[k]) for k in CONFIG_KEYS if options.get(k) is not None}
    header = (
        f"# The options of `jaxnn train` (jaxnn {__version__}), resolved. Rerun with\n"
        f"#   jaxnn train --config {path}\n"
        f"# (options given on the command line override these).\n"
    )
    write_atomic(path, (header + tomli_w.dumps(values)).encode())
    return path


def _is_path(key: str, value: Any) -> bool:
    """Whether an option's value names a file or folder (data files, model files, data_dir)."""
    if not isinstance(value, str):
        return False
    if key == "data":
        return Path(value).suffix.lower() in (".csv", ".npz")
    return key == "data_dir" or (key == "model" and value.strip().lower().endswith(".py"))


def _absolute(key: str, value: Any) -> Any:
    """Paths as absolute paths, so a config works from any folder."""
    file = grain_file(value) if key == "data" else None
    if file is not None:  # grain:FILE.py:FUNCTION (a grain:MODULE stays as it is)
        return _grain_with_file(value, Path(file).expanduser().resolve())
    return str(Path(value).resolve()) if _is_path(key, value) else value


def _grain_with_file(value: str, file: Path) -> str:
    """``grain:FILE.py:FUNCTION`` with another path of the file."""
    return f"{GRAIN_PREFIX}{file}:{value.rpartition(':')[2]}"


def read_config(path: Path) -> dict[str, Any]:
    """Reads a ``config.toml``; relative paths in it are relative to its folder.

    Raises:
        UserError: For a missing or malformed file (with the line) or unknown keys.
    """
    try:
        config = tomllib.loads(Path(path).read_text())
    except OSError as error:
        raise UserError(f"cannot read {str(path)!r}: {error.strerror or error}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{str(path)!r} is not valid TOML: {error}.") from None
    for key in config:
        if key not in CONFIG_KEYS:
            raise UserError(
                f"{str(path)!r}: unknown option {key!r}.{did_you_mean(key, CONFIG_KEYS)} The "
                f"options are: {', '.join(CONFIG_KEYS)}."
            )
    for key in _PATH_KEYS:
        if _is_path(key, config.get(key)):
            config[key] = str(Path(path).parent / Path(config[key]).expanduser())
    file = grain_file(config.get("data"))
    if file is not None:
        config["data"] = _grain_with_file(
            config["data"], Path(path).parent / Path(file).expanduser()
        )
    return config


def write_json(path: Path, values: dict[str, Any]) -> Path:
    """Writes ``values`` as indented JSON, atomically."""
    write_atomic(path, (json_text(values) + "\n").encode())
    return path


class Run(NamedTuple):
    """A trained model and where it came from.

    Attributes:
        folder: The run directory (the model file's folder when given a file).
        model_path: The ``model.jaxnn`` file.
        config: ``config.toml``'s options, or ``{}`` when there is none.
    """

    folder: Path
    model_path: Path
    config: dict[str, Any]


def open_run(path: str | Path) -> Run:
    """A run directory, or a model file (with the ``config.toml`` beside it, if any).

    Raises:
        UserError: If ``path`` is neither a run directory nor a file.
    """
    path = Path(path)
    model_path = path / "model.jaxnn" if path.is_dir() else path
    if not model_path.is_file():
        what = "holds no model.jaxnn" if path.is_dir() else "does not exist"
        raise UserError(
            f"{str(path)!r} {what}: give a run directory of `jaxnn train` or a model file."
        )
    config_path = model_path.parent / "config.toml"
    config = read_config(config_path) if config_path.is_file() else {}
    return Run(model_path.parent, model_path, config)


def read_history(folder: Path) -> dict[str, list[float]]:
    """``history.csv`` as lists per column (empty when missing; unreadable cells are NaN)."""
    path = folder / "history.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    columns: dict[str, list[float]] = {}
    for row in rows:
        for name, cell in row.items():
            columns.setdefault(str(name), []).append(_float(cell))
    return columns


def _float(cell: Any) -> float:
    try:
        return float(cell)
    except (TypeError, ValueError):
        return math.nan


def read_test(folder: Path) -> dict[str, Any]:
    """``test.json``, or ``{}`` when it is missing or unreadable."""
    try:
        values = json.loads((folder / "test.json").read_text())
    except (OSError, ValueError):
        return {}
    return values if isinstance(values, dict) else {}
