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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxnn.data.split import train_test_split

__all__ = ["Column", "Tabular", "TabularEncoder", "load_csv", "read_columns"]

_MISSING = {"", "na", "nan", "null", "none", "?"}


class Column(NamedTuple):
    """How one CSV column becomes features: its name, categories (``None``: numeric) and fill.

    Attributes:
        name: The column's header.
        categories: The one-hot categories in feature order, or ``None`` for a numeric column.
        fill: What a missing value becomes: the training median (numeric) or mode (categorical).
    """

    name: str
    categories: tuple[str, ...] | None
    fill: float | str

    @property
    def feature_names(self) -> list[str]:
        """``[name]`` for a numeric column, ``["name=category", ...]`` for a categorical one."""
        if self.categories is None:
            return [self.name]
        return [f"{self.name}={c}" for c in self.categories]

    def encode(self, values: Sequence[str], *, where: str = "encode") -> np.ndarray:
        """The column's features for ``values`` (strings), float64 ``(len(values), width)``."""
        if self.categories is None:
            out = []
            for i, v in enumerate(values):
                if _is_missing(v):
                    out.append(float(self.fill))
                elif _is_number(v):
                    out.append(float(v))
                else:
                    raise ValueError(
                        f"{where}: column {self.name!r} is numeric, but row {i + 1} holds {v!r}."
                    )
            return np.array(out, np.float64).reshape(len(values), 1)
        cleaned = [str(self.fill) if _is_missing(v) else v.strip() for v in values]
        return np.array(
            [[c == cat for cat in self.categories] for c in cleaned], dtype=np.float64
        ).reshape(len(values), len(self.categories))


class TabularEncoder(NamedTuple):
    """The feature encoding :func:`load_csv` fitted on the training rows, to encode new rows.

    Keep it with a model trained on a CSV (``to_dict`` is JSON) and :meth:`encode` the rows
    to predict on exactly as the training rows were: the same medians and modes for missing
    values, the same one-hot categories (an unseen category encodes as all zeros).

    Attributes:
        columns: One :class:`Column` per feature column, in feature order.
        target: The target column's name.
        classes: The target's classes in id order (``None`` for a numeric target).
    """

    columns: tuple[Column, ...]
    target: str
    classes: list[str] | None

    @property
    def feature_names(self) -> list[str]:
        """The names of the features :meth:`encode` returns, e.g. ``["Age", "Sex=male"]``."""
        return [name for column in self.columns for name in column.feature_names]

    def encode(self, table: Mapping[str, Sequence[str]], *, where: str = "encode") -> np.ndarray:
        """Features (float32) for rows given as ``{column: [values as strings]}``.

        Columns the encoder does not use (the target, dropped ones) are ignored.

        Raises:
            ValueError: If a column is missing (the missing and the expected ones are named),
                the columns differ in length, or a numeric column holds text.
        """
        missing = [c.name for c in self.columns if c.name not in table]
        if missing:
            raise ValueError(
                f"{where}: no column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))}; the model was trained on the columns "
                f"{[c.name for c in self.columns]}."
            )
        lengths = {len(table[c.name]) for c in self.columns}
        if len(lengths) > 1:
            raise ValueError(f"{where}: the columns differ in length: {sorted(lengths)}.")
        n = lengths.pop() if lengths else 0
        parts = [c.encode(table[c.name], where=where) for c in self.columns]
        return np.concatenate(parts, axis=1).astype(np.float32) if parts else np.zeros((n, 0))

    def to_dict(self) -> dict:
        """A JSON-ready description; :meth:`from_dict` reads it back."""
        return {
            "target": self.target,
            "classes": self.classes,
            "columns": [
                {
                    "name": c.name,
                    "categories": None if c.categories is None else list(c.categories),
                    "fill": c.fill,
                }
                for c in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, config: Mapping) -> TabularEncoder:
        """The encoder :meth:`to_dict` described."""
        columns = tuple(
            Column(
                c["name"],
                None if c["categories"] is None else tuple(c["categories"]),
                c["fill"],
            )
            for c in config["columns"]
        )
        return cls(columns, config["target"], config["classes"])


class Tabular(NamedTuple):
    """What :func:`load_csv` returns.

    Attributes:
        x_train, y_train, x_test, y_test: float32 features; targets as int32 class ids (when the
            target is categorical or integral) or float32.
        feature_names: One name per feature column, e.g. ``"Age"``, ``"Sex=male"``.
        classes: The target's classes in id order (``None`` for a numeric target).
        encoder: The fitted encoding, to encode new rows the same way.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    classes: list[str] | None
    encoder: TabularEncoder | None = None


def _is_missing(value: str) -> bool:
    return value.strip().lower() in _MISSING


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _fit_column(name: str, train: list[str], categorical: bool) -> Column:
    """A column's encoding, with its statistics from the training values only."""
    if not categorical:
        present = [float(v) for v in train if not _is_missing(v)]
        return Column(name, None, float(np.median(present)) if present else 0.0)
    seen = Counter(v.strip() for v in train if not _is_missing(v))
    mode = seen.most_common(1)[0][0] if seen else ""
    return Column(name, tuple(sorted(seen)), mode)


def read_columns(path: str | os.PathLike, *, where: str = "read_columns") -> dict[str, list[str]]:
    """A CSV file with a header row as ``{column: [values as strings]}``.

    Raises:
        ValueError: For an empty file, a repeated column name or a row with the wrong number of
            fields (the lines are named).
    """
    with open(Path(path), newline="") as f:
        reader = csv.reader(f)
        rows = [(reader.line_num, r) for r in reader if r]  # blank lines are skipped
    if not rows:
        raise ValueError(f"{where}: {str(path)!r} is empty.")
    header, body = [h.strip() for h in rows[0][1]], [r for _, r in rows[1:]]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise ValueError(f"{where}: {str(path)!r} repeats the columns {repeated}.")
    bad = [line for line, r in rows[1:] if len(r) != len(header)]
    if bad:
        raise ValueError(
            f"{where}: rows {bad[:5]} of {str(path)!r} do not have {len(header)} fields like the "
            f"header."
        )
    return {name: [r[i] for r in body] for i, name in enumerate(header)}


def load_csv(
    path: str | os.PathLike,
    *,
    target: str,
    categorical: Sequence[str] = (),
    drop: Sequence[str] = (),
    test_fraction: float = 0.2,
    stratify: bool = False,
    seed: int = 0,
    encoder: TabularEncoder | None = None,
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
        encoder: Encode with this fitted encoding (``Tabular.encoder`` of an earlier load)
            instead of fitting one: new data for a trained model. Its columns and classes
            decide; ``categorical`` and ``drop`` are then ignored.

    Returns:
        A :class:`Tabular`.

    Raises:
        ValueError: For a missing target or dropped column (the columns are listed), rows with
            the wrong number of fields, or missing target values; with ``encoder``, for a
            missing feature column or a class it does not know.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> rows = ["Age,Sex,Survived", "22,male,0", ",female,1", "30,female,1", "40,male,0"]
        >>> _ = Path(path).write_text("\n".join(rows + ["5,female,1"]) + "\n")
        >>> data = load_csv(path, target="Survived", test_fraction=0.4)
        >>> data.feature_names, data.x_train.shape
        (['Age', 'Sex=female', 'Sex=male'], (3, 3))
        >>> new = load_csv(path, target="Survived", test_fraction=0.4, encoder=data.encoder)
        >>> bool((new.x_train == data.x_train).all())  # the same rows, the same encoding
        True
    """
    where = "load_csv"
    if encoder is not None:
        categorical, drop = (), ()
    columns = read_columns(path, where=where)
    header = list(columns)
    for name in [target, *drop, *categorical]:
        if name not in header:
            raise ValueError(
                f"{where}: no column {name!r} in {str(path)!r}; the columns are {header}."
            )
    y_raw = columns.pop(target)
    if any(_is_missing(v) for v in y_raw):
        first = next(i for i, v in enumerate(y_raw) if _is_missing(v)) + 2
        raise ValueError(
            f"{where}: the target {target!r} is missing in some rows; the first is line {first}."
        )
    for name in drop:
        columns.pop(name)
    numeric_target = all(_is_number(v) for v in y_raw)
    if encoder is not None and encoder.classes is not None:
        classes = encoder.classes
        unknown = sorted({v.strip() for v in y_raw} - set(classes))
        if unknown:
            raise ValueError(
                f"{where}: the target {target!r} holds {unknown[:5]}, classes the encoder does "
                f"not know; it knows {classes}."
            )
        y = np.array([classes.index(v.strip()) for v in y_raw], np.int32)
    elif numeric_target and all(float(v).is_integer() for v in y_raw):
        y, classes = np.array([int(float(v)) for v in y_raw], np.int32), None
    elif numeric_target:
        y, classes = np.array([float(v) for v in y_raw], np.float32), None
    else:
        classes = sorted(set(v.strip() for v in y_raw))
        y = np.array([classes.index(v.strip()) for v in y_raw], np.int32)
    rows_index = np.arange(len(y_raw))
    (train_rows, y_train), (test_rows, y_test) = train_test_split(
        rows_index, y, test_fraction=test_fraction, stratify=stratify, seed=seed
    )
    encoder = encoder or TabularEncoder(
        tuple(
            _fit_column(
                name,
                [values[i] for i in train_rows],
                name in categorical or not all(_is_number(v) for v in values if not _is_missing(v)),
            )
            for name, values in columns.items()
        ),
        target,
        classes,
    )

    def rows_of(index: np.ndarray) -> dict[str, list[str]]:
        return {name: [values[i] for i in index] for name, values in columns.items()}

    x_train = encoder.encode(rows_of(train_rows), where=where)
    x_test = encoder.encode(rows_of(test_rows), where=where)
    return Tabular(
        x_train, y_train, x_test, y_test, encoder.feature_names, encoder.classes, encoder
    )
