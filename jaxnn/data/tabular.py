"""A CSV loader for tabular exercises (the Titanic kind), preprocessing fitted on training rows.

Columns are numeric when every present value parses as a number, categorical otherwise (or when
named in ``categorical``). Missing values (empty, ``NA``, ``NaN``, ``?``) are filled with the
training median (numeric) or the training mode (categorical); categorical columns are one-hot
encoded with the categories seen in training (an unseen category encodes as all zeros). Every
statistic comes from the training split only, so nothing leaks from the test rows.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxnn.data.split import train_test_split

__all__ = ["Tabular", "load_csv"]

_MISSING = {"", "na", "nan", "null", "none", "?"}


class Tabular(NamedTuple):
    """What :func:`load_csv` returns.

    Attributes:
        x_train, y_train, x_test, y_test: float32 features; targets as int32 class ids (when the
            target is categorical or integral) or float32.
        feature_names: One name per feature column, e.g. ``"Age"``, ``"Sex=male"``.
        classes: The target's classes in id order (``None`` for a numeric target).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    classes: list[str] | None


def _is_missing(value: str) -> bool:
    return value.strip().lower() in _MISSING


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _encode_column(name: str, train: list[str], test: list[str], categorical: bool):
    """Features of one column for both splits, with statistics from ``train`` only."""
    if not categorical:
        present = [float(v) for v in train if not _is_missing(v)]
        fill = float(np.median(present)) if present else 0.0

        def numeric(values: list[str]) -> np.ndarray:
            return np.array([[fill if _is_missing(v) else float(v)] for v in values])

        return [name], numeric(train), numeric(test)
    seen = Counter(v.strip() for v in train if not _is_missing(v))
    mode = seen.most_common(1)[0][0] if seen else ""
    categories = sorted(seen)

    def one_hot(values: list[str]) -> np.ndarray:
        cleaned = [mode if _is_missing(v) else v.strip() for v in values]
        return np.array(
            [[c == cat for cat in categories] for c in cleaned], dtype=np.float64
        ).reshape(len(values), len(categories))

    return [f"{name}={c}" for c in categories], one_hot(train), one_hot(test)


def load_csv(
    path: str | os.PathLike,
    *,
    target: str,
    categorical: Sequence[str] = (),
    drop: Sequence[str] = (),
    test_fraction: float = 0.2,
    stratify: bool = False,
    seed: int = 0,
) -> Tabular:
    r"""Loads a CSV with a header row into train and test feature matrices.

    Args:
        path: The CSV file.
        target: The name of the target column.
        categorical: Columns to treat as categorical even if numeric (e.g. ``"Pclass"``).
        drop: Columns to leave out (identifiers, free text).
        test_fraction: Fraction of rows for the test split (default 0.2).
        stratify: Stratify the split by the target.
        seed: Seed of the split (default 0).

    Returns:
        A :class:`Tabular`.

    Raises:
        ValueError: For a missing target or dropped column (the columns are listed), rows with
            the wrong number of fields, or missing target values.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> rows = ["Age,Sex,Survived", "22,male,0", ",female,1", "30,female,1", "40,male,0"]
        >>> _ = Path(path).write_text("\n".join(rows + ["5,female,1"]) + "\n")
        >>> data = load_csv(path, target="Survived", test_fraction=0.4)
        >>> data.feature_names, data.x_train.shape
        (['Age', 'Sex=female', 'Sex=male'], (3, 3))
    """
    where = "load_csv"
    with open(Path(path), newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{where}: {str(path)!r} is empty.")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    for name in [target, *drop, *categorical]:
        if name not in header:
            raise ValueError(
                f"{where}: no column {name!r} in {str(path)!r}; the columns are {header}."
            )
    bad = [i + 2 for i, r in enumerate(body) if len(r) != len(header)]
    if bad:
        raise ValueError(
            f"{where}: rows {bad[:5]} of {str(path)!r} do not have {len(header)} fields like the "
            f"header."
        )
    columns = {name: [r[i] for r in body] for i, name in enumerate(header)}
    y_raw = columns.pop(target)
    if any(_is_missing(v) for v in y_raw):
        first = next(i for i, v in enumerate(y_raw) if _is_missing(v)) + 2
        raise ValueError(
            f"{where}: the target {target!r} is missing in some rows; the first is line {first}."
        )
    for name in drop:
        columns.pop(name)
    numeric_target = all(_is_number(v) for v in y_raw)
    if numeric_target and all(float(v).is_integer() for v in y_raw):
        y, classes = np.array([int(float(v)) for v in y_raw], np.int32), None
    elif numeric_target:
        y, classes = np.array([float(v) for v in y_raw], np.float32), None
    else:
        classes = sorted(set(v.strip() for v in y_raw))
        y = np.array([classes.index(v.strip()) for v in y_raw], np.int32)
    rows_index = np.arange(len(body))
    (train_rows, y_train), (test_rows, y_test) = train_test_split(
        rows_index, y, test_fraction=test_fraction, stratify=stratify, seed=seed
    )
    names, train_parts, test_parts = [], [], []
    for name, values in columns.items():
        is_categorical = name in categorical or not all(
            _is_number(v) for v in values if not _is_missing(v)
        )
        col_names, tr, te = _encode_column(
            name, [values[i] for i in train_rows], [values[i] for i in test_rows], is_categorical
        )
        names += col_names
        train_parts.append(tr)
        test_parts.append(te)
    x_train = np.concatenate(train_parts, axis=1).astype(np.float32)
    x_test = np.concatenate(test_parts, axis=1).astype(np.float32)
    return Tabular(x_train, y_train, x_test, y_test, names, classes)
