"""The data of ``--data``: a built-in set, MNIST from IDX files, a CSV, ``.npz`` or ``.npy`` folder.

Every source becomes a :class:`Dataset`: float32 features, int32 class ids (classification) or
float32 targets ``(N, D)`` (regression), split into training and test rows with the run's seed.
A text corpus (``python_docs``) becomes next-character windows: int32 character ids ``(N, T)``
in, the ids one position on ``(N, T)`` out, with the test windows cut from the end of the text.
"""

from __future__ import annotations

import csv
import json
import os
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxnn import data
from jaxnn.cli import grain_data
from jaxnn.cli.common import UserError, did_you_mean, unknown_name

__all__ = [
    "PREPROCESSING_FILE",
    "TEXT_WINDOW",
    "Dataset",
    "Preprocessing",
    "dataset_names",
    "defaults",
    "load_dataset",
    "load_run_data",
    "short_name",
    "text_vocab",
]

_IDX_SETS = ("mnist", "fashion_mnist")
_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


PREPROCESSING_FILE = "preprocessing.json"

# The characters in each window of a text corpus (the model's sequence length T).
TEXT_WINDOW = 64


class Preprocessing(NamedTuple):
    """How a CSV's columns became the model's inputs: the encoding, then the scaling.

    ``jaxnn train`` writes it to a run's ``preprocessing.json``; ``jaxnn predict`` and
    ``jaxnn evaluate`` read it, so new rows are encoded and scaled exactly as the training
    rows were (the training medians, modes, categories, means and deviations).

    Attributes:
        encoder: The columns' encoding (:class:`jaxnn.data.TabularEncoder`).
        scaled: The names of the standardised (numeric) features.
        scaler: Their means and deviations over the training rows, or ``None`` for none.
    """

    encoder: data.TabularEncoder
    scaled: tuple[str, ...]
    scaler: data.Standardize | None

    def scale(self, x: np.ndarray) -> np.ndarray:
        """Standardises the numeric features of encoded rows ``x`` (a copy)."""
        x = np.array(x, np.float32)
        if self.scaler is not None:
            names = self.encoder.feature_names
            index = [names.index(n) for n in self.scaled]
            x[:, index] = self.scaler.transform(x[:, index])
        return x

    def transform(self, path: Path) -> np.ndarray:
        """The model's inputs for the rows of the CSV file at ``path`` (its target ignored)."""
        where = repr(str(path))
        try:
            table = data.read_columns(path, where=where)
            return self.scale(self.encoder.encode(table, where=where))
        except UnicodeDecodeError as error:
            raise UserError(f"{where} is not a text CSV file ({error.reason}).") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; :meth:`from_dict` reads it back."""
        scaler = None
        if self.scaler is not None:
            scaler = {"mean": self.scaler.mean.tolist(), "std": self.scaler.std.tolist()}
        return {"encoder": self.encoder.to_dict(), "scaled": list(self.scaled), "scaler": scaler}

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> Preprocessing:
        """The preprocessing :meth:`to_dict` described."""
        scaler = config.get("scaler")
        return cls(
            data.TabularEncoder.from_dict(config["encoder"]),
            tuple(config["scaled"]),
            None
            if scaler is None
            else data.Standardize(np.asarray(scaler["mean"]), np.asarray(scaler["std"])),
        )

    @classmethod
    def read(cls, folder: Path) -> Preprocessing | None:
        """A run's ``preprocessing.json``, or ``None`` when the run has none.

        Raises:
            UserError: If the file is not a preprocessing description.
        """
        path = folder / PREPROCESSING_FILE
        if not path.is_file():
            return None
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as error:
            raise UserError(f"{str(path)!r} is not a jaxnn preprocessing file ({error}).") from None


class Dataset(NamedTuple):
    """Training and test arrays with what the commands need to know about them.

    Attributes:
        name: The ``--data`` value (a set's name or a file path).
        x_train, y_train: Training features and targets.
        x_test, y_test: Test features and targets, or ``None`` without a test split.
        num_classes: The number of classes, or ``None`` for regression targets.
        class_names: The classes' names when the file named them (a CSV target), else ``None``.
        feature_names: One name per feature column of a CSV, else ``None``.
        images: Whether the samples are images (for ``samples.png``).
        preprocessing: For a CSV: how its columns became features, else ``None``.
        grain: For ``grain:MODULE:FUNCTION``: the Grain datasets
            (:class:`jaxnn.cli.grain_data.GrainData`), else ``None``; ``x_train`` and
            ``y_train`` then hold the first training batch only (the shapes and classes).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    num_classes: int | None
    class_names: list[str] | None
    feature_names: list[str] | None
    images: bool
    preprocessing: Preprocessing | None = None
    grain: Any = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of a batch of inputs, batch axis ``-1``."""
        return (-1, *self.x_train.shape[1:])

    @property
    def sequences(self) -> bool:
        """Whether the labels are one class id per position, ``(N, T)`` (a text corpus)."""
        return self.num_classes is not None and self.y_train.ndim == 2

    def describe(self) -> str:
        """One line: sizes, sample shape and classes or target width."""
        if self.grain is not None:
            return str(self.grain.describe())
        test = 0 if self.x_test is None else len(self.x_test)
        if self.sequences:
            return (
                f"{self.name}: {len(self.x_train):,} training and {test:,} test windows of "
                f"{self.x_train.shape[1]} characters, next-character targets over "
                f"{self.num_classes} characters"
            )
        kind = (
            f"{self.num_classes} classes"
            if self.num_classes is not None
            else f"regression, {self.y_train.shape[-1]} target(s)"
        )
        return (
            f"{self.name}: {len(self.x_train):,} training and {test:,} test samples of shape "
            f"{tuple(self.x_train.shape[1:])}, {kind}"
        )


def dataset_names() -> list[str]:
    """The built-in data set names ``--data`` takes (hyphens or underscores both work).

    The synthetic and real sets of :func:`jaxnn.data.names` and the text corpora of
    :func:`jaxnn.data.corpus_names`, sorted.

    Example:
        >>> dataset_names()[:3], "python_docs" in dataset_names()
        (['blobs', 'circle', 'digits'], True)
    """
    return sorted(data.names() + data.corpus_names())


def short_name(name: str) -> str:
    """The data's name for a run folder: the set's name, the file's stem, or the Grain function's.

    Example:
        >>> short_name("data/titanic.csv"), short_name("fashion-mnist")
        ('titanic', 'fashion_mnist')
        >>> short_name("grain:data/pipe.py:make"), short_name("grain:pkg.pipe:make")
        ('pipe_make', 'pipe_make')
    """
    if grain_data.is_grain_data(name):
        return grain_data.short_name(name)
    if _is_file_name(name):
        return Path(name).stem
    return name.lower().replace("-", "_")


def _is_file_name(name: str) -> bool:
    return Path(name).suffix.lower() in (".csv", ".npz") or os.sep in name or "/" in name


def load_dataset(
    name: str,
    *,
    data_dir: str | None = None,
    target: str | None = None,
    test_split: float = 0.2,
    seed: int = 0,
    drop: str | None = None,
    categorical: str | None = None,
    preprocessing: Preprocessing | None = None,
    allow_grain: bool = False,
) -> Dataset:
    """Loads ``--data``: a built-in set, MNIST-like IDX files, a CSV or an ``.npz`` file.

    Args:
        name: A name from :func:`dataset_names`, the path of a ``.csv`` or ``.npz`` file or
            of a folder of ``.npy`` files, or ``grain:MODULE:FUNCTION``
            (:mod:`jaxnn.cli.grain_data`).
        data_dir: For ``mnist``/``fashion_mnist``: the folder of the four IDX files.
        target: For a CSV: the target column.
        test_split: The fraction of samples held out for testing, 0 for none (MNIST keeps its
            own test set).
        seed: The seed of the split and of synthetic data.
        drop: For a CSV: columns to leave out, comma-separated (identifiers, free text).
        categorical: For a CSV: numeric columns to one-hot encode, comma-separated.
        preprocessing: For a CSV: encode and scale as a trained model's run did, instead of
            fitting on this file.
        allow_grain: Whether the command takes ``grain:`` data (it streams the batches).

    Returns:
        The :class:`Dataset`.

    Raises:
        UserError: For an unknown name, a missing file or column, ``grain:`` data where the
            command does not take it or with CSV or IDX options; the library's ValueError for
            a malformed file (naming the file and line).
    """
    if grain_data.is_grain_data(name):
        given = {"--data-dir": data_dir, "--target": target, "--drop": drop}
        given["--categorical"] = categorical
        found = grain_data.load_grain(name, allowed=allow_grain, file_options=given)
        x, images = found.x, found.x.ndim >= 3
        return Dataset(
            name, x, found.y, None, None, found.num_classes, None, None, images, None, found
        )
    key = name.lower().replace("-", "_")
    if key in _IDX_SETS:
        return _idx_set(name, key, data_dir)
    if Path(name).is_dir():
        return _npy_folder(Path(name), name, test_split)
    if _is_file_name(name) or Path(name).is_file():
        csv_options = {"drop": drop, "categorical": categorical, "preprocessing": preprocessing}
        return _file(name, target=target, test_split=test_split, seed=seed, **csv_options)
    if key not in dataset_names():
        message = unknown_name("data set", name, dataset_names())
        raise UserError(f"{message} Or give a .csv file (with --target) or an .npz file.")
    if key in data.corpus_names():
        return _text(name, key, test_split)
    x, y = data.digits() if key == "digits" else data.load(key, seed=seed)
    return _split(name, x, y, test_split, seed, images=key == "digits")


def load_run_data(
    config: dict[str, Any], preprocessing: Preprocessing | None = None, **given: Any
) -> Dataset:
    """The data of a run: ``config.toml``'s data options, with those ``given`` (not None) on top.

    A CSV is encoded with the run's ``preprocessing`` when it has one; ``grain:`` data comes
    as its datasets (:mod:`jaxnn.cli.grain_data`).

    Raises:
        UserError: When neither names the data.
    """
    keys = ("data", "data_dir", "target", "test_split", "seed", "drop", "categorical")
    options = {k: config.get(k) for k in keys}
    options.update({k: v for k, v in given.items() if v is not None})
    if options["data"] is None:
        raise UserError("this run has no config.toml naming its data: give --data.")
    return load_dataset(
        options["data"],
        data_dir=options["data_dir"],
        target=options["target"],
        test_split=0.2 if options["test_split"] is None else options["test_split"],
        seed=options["seed"] or 0,
        drop=options["drop"],
        categorical=options["categorical"],
        preprocessing=preprocessing,
        allow_grain=True,
    )


def _split(name: str, x: Any, y: Any, test_split: float, seed: int, *, images: bool) -> Dataset:
    """A Dataset of ``(x, y)``, with ``test_split`` of the rows held out (stratified classes)."""
    x, y = np.asarray(x), _targets(np.asarray(y), name)
    classes = _num_classes(y)
    test: tuple[Any, Any] = (None, None)
    if test_split > 0:
        stratify = classes is not None and np.bincount(y).min() >= 2
        (x, y), test = data.train_test_split(
            x, y, test_fraction=test_split, stratify=stratify, seed=seed
        )
    return _dataset(name, (x, y), test, classes, images=images)


def _dataset(
    name: str, train: tuple, test: tuple, classes: int | None, *, images: bool, **info: Any
) -> Dataset:
    x_test = None if test[0] is None else _features(test[0])
    return Dataset(
        name,
        _features(train[0]),
        train[1],
        x_test,
        test[1],
        classes,
        info.get("class_names"),
        info.get("feature_names"),
        images,
        info.get("preprocessing"),
    )


def _text(name: str, key: str, test_split: float) -> Dataset:
    """Next-character windows of :data:`TEXT_WINDOW` ids; the test windows from the text's end.

    The vocabulary is every character of the whole corpus, so the test text has no unknown one;
    :func:`text_vocab` rebuilds it.
    """
    vocab = text_vocab(key)
    ids = vocab.encode(data.text_corpus(key))
    if test_split > 0:
        train, test = data.train_test_windows(ids, TEXT_WINDOW, test_fraction=test_split)
    else:
        train, test = data.char_windows(ids, TEXT_WINDOW), (None, None)
    return _dataset(name, train, test, vocab.size, images=False)


def text_vocab(name: str) -> data.CharVocab:
    """The character vocabulary of a text corpus ``--data`` names: the ids its model speaks.

    Example:
        >>> vocab = text_vocab("python-docs")
        >>> vocab.decode(vocab.encode("def f(x):"))
        'def f(x):'
    """
    return data.CharVocab.from_text(data.text_corpus(short_name(name)))


def _features(x: Any) -> np.ndarray:
    """Integer features (token ids) as int32, anything else as float32."""
    x = np.asarray(x)
    return x.astype(np.int32) if x.dtype.kind in "iu" else x.astype(np.float32)


def _targets(y: np.ndarray, name: str) -> np.ndarray:
    """Integer class ids as int32 ``(N,)``; anything else as float32 ``(N, D)``."""
    if y.dtype.kind in "iub":
        y = y.reshape(len(y), -1)[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim == 1:
            if len(y) and y.min() < 0:
                raise UserError(
                    f"{name}: class labels must be 0, 1, 2 ...; found {int(y.min())} in row "
                    f"{int(np.argmin(y))}."
                )
            return y.astype(np.int32)
    y = y.astype(np.float32)
    return y[:, None] if y.ndim == 1 else y


def _num_classes(y: np.ndarray) -> int | None:
    return int(y.max()) + 1 if y.dtype == np.int32 and len(y) else None


def _idx_set(name: str, key: str, data_dir: str | None) -> Dataset:
    """MNIST or Fashion-MNIST: the cache (downloading), or the IDX files in ``data_dir``."""
    loader = data.mnist if key == "mnist" else data.fashion_mnist
    if data_dir is None:
        arrays = loader()
    else:
        folder = Path(data_dir)
        if not folder.is_dir():
            raise UserError(f"--data-dir {str(folder)!r} is not a folder.")
        if (folder / key).is_dir():
            arrays = loader(cache_dir=folder, download=False)
        else:
            arrays = _idx_files(folder)
    (x_train, y_train), (x_test, y_test) = arrays

    def images(x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, np.float32) / 255.0)[..., None]

    return _dataset(
        name,
        (images(x_train), np.asarray(y_train, np.int32)),
        (images(x_test), np.asarray(y_test, np.int32)),
        10,
        images=True,
    )


def _idx_files(folder: Path) -> Any:
    """The four IDX files, plain or gzipped, straight in ``folder``."""
    arrays = {}
    for role, stem in _IDX_FILES.items():
        found = sorted(folder.glob(stem + "*"))
        if not found:
            names = ", ".join(_IDX_FILES.values())
            raise UserError(
                f"--data-dir {str(folder)!r} has no {stem} file; it needs the four IDX files "
                f"{names} (plain or .gz)."
            )
        arrays[role] = data.load_idx(found[0])
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _file(name: str, *, target: str | None, test_split: float, seed: int, **csv: Any) -> Dataset:
    path = Path(name)
    if not path.is_file():
        raise UserError(f"no file {name!r} (--data takes a data set name or a file).")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _npz(path, name, test_split, seed)
    if suffix != ".csv":
        raise UserError(f"{name!r}: --data reads .csv and .npz files; got a {suffix!r} file.")
    return _csv(path, name, target, test_split, seed, **csv)


def _npz(path: Path, name: str, test_split: float, seed: int) -> Dataset:
    """An ``.npz`` file with arrays ``x`` and ``y`` (and optionally ``x_test``, ``y_test``)."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = {k: arrays[k] for k in arrays.files}
    except (OSError, ValueError) as error:
        raise UserError(f"{name!r} is not a readable .npz file: {error}") from None
    if "x" not in found or "y" not in found:
        raise UserError(f"{name!r} must hold arrays 'x' and 'y'; it holds {sorted(found)}.")
    images = found["x"].ndim >= 3
    if "x_test" in found and "y_test" in found:
        y = _targets(found["y"], name)
        y_test = _targets(found["y_test"], name)
        classes = _num_classes(np.concatenate([y, y_test]))
        train, test = (found["x"], y), (found["x_test"], y_test)
        return _dataset(name, train, test, classes, images=images)
    return _split(name, found["x"], found["y"], test_split, seed, images=images)


def _npy_folder(path: Path, name: str, test_split: float) -> Dataset:
    """A folder of ``x.npy`` and ``y.npy`` (and optionally ``x_test.npy``, ``y_test.npy``).

    ``x`` is memory-mapped (``np.load(mmap_mode="r")``) and streams from the file, so it may be
    larger than memory; it is read as it is when float32 (or int32 token ids), else converted
    (a copy). Without test files the *last* ``test_split`` of the rows are the test rows, a
    slice of the file, nothing copied.
    """
    files = {k: path / f"{k}.npy" for k in ("x", "y", "x_test", "y_test")}
    if not (files["x"].is_file() and files["y"].is_file()):
        found = sorted(p.name for p in path.glob("*.npy"))
        raise UserError(f"{name!r}: a --data folder holds x.npy and y.npy; it has {found}.")
    try:
        arrays = {k: np.load(f, mmap_mode="r") for k, f in files.items() if f.is_file()}
    except (OSError, ValueError) as error:
        raise UserError(f"{name!r}: cannot read its .npy files: {error}") from None
    x = arrays["x"] if arrays["x"].dtype in (np.float32, np.int32) else _features(arrays["x"])
    y = _targets(np.asarray(arrays["y"]), name)
    if len(x) != len(y):
        raise UserError(f"{name!r}: x.npy has {len(x)} rows and y.npy {len(y)}.")
    test: tuple[Any, Any]
    if "x_test" in arrays and "y_test" in arrays:
        test = (arrays["x_test"], _targets(np.asarray(arrays["y_test"]), name))
    elif test_split > 0:
        cut = len(x) - int(round(len(x) * test_split))
        x, y, test = x[:cut], y[:cut], (x[cut:], y[cut:])
    else:
        test = (None, None)
    classes = _num_classes(np.concatenate([y, test[1]]) if test[1] is not None else y)
    images = x.ndim >= 3
    x_test = test[0]
    if x_test is not None and x_test.dtype not in (np.float32, np.int32):
        x_test = _features(x_test)
    return Dataset(name, x, y, x_test, test[1], classes, None, None, images)


def csv_columns(path: Path) -> list[str]:
    """The header row of a CSV file."""
    try:
        with path.open(newline="") as f:
            return [c.strip() for c in next(csv.reader(f), [])]
    except UnicodeDecodeError as error:
        raise UserError(f"{str(path)!r} is not a text CSV file ({error.reason}).") from None


def _names(option: str, value: str | None, columns: list[str]) -> list[str]:
    """The comma-separated column names of ``--drop`` or ``--categorical``, each checked."""
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    for name in names:
        if name not in columns:
            raise UserError(
                f"{option}: no column {name!r}.{did_you_mean(name, columns)} The columns are: "
                f"{', '.join(columns)}."
            )
    return names


def _csv(
    path: Path,
    name: str,
    target: str | None,
    test_split: float,
    seed: int,
    *,
    drop: str | None = None,
    categorical: str | None = None,
    preprocessing: Preprocessing | None = None,
) -> Dataset:
    """A CSV with a header: categorical columns one-hot, numeric ones standardised."""
    columns = csv_columns(path)
    if target is None and preprocessing is not None:
        target = preprocessing.encoder.target
    if target is None or target not in columns:
        problem = (
            "needs --target COLUMN, the column to predict."
            if target is None
            else f"has no column {target!r}.{did_you_mean(target, columns)}"
        )
        raise UserError(f"{name!r} {problem} Its columns are: {', '.join(columns)}.")
    if not test_split > 0:
        raise UserError(f"a CSV file needs --test-split in (0, 1); got {test_split}.")
    dropped = _names("--drop", drop, columns)
    if target in dropped:
        raise UserError(f"--drop: {target!r} is the --target column.")
    table = data.load_csv(
        path,
        target=target,
        categorical=_names("--categorical", categorical, columns),
        drop=dropped,
        test_fraction=test_split,
        seed=seed,
        encoder=None if preprocessing is None else preprocessing.encoder,
    )
    assert table.encoder is not None
    if preprocessing is None:
        numeric = [n for n in table.feature_names if "=" not in n]
        index = [table.feature_names.index(n) for n in numeric]
        scaler = data.Standardize.fit(table.x_train[:, index]) if numeric else None
        preprocessing = Preprocessing(table.encoder, tuple(numeric), scaler)
        _warn_identifiers(table.encoder, len(table.x_train), name)
    y_train, y_test = _targets(table.y_train, name), _targets(table.y_test, name)
    classes = _num_classes(np.concatenate([y_train, y_test]))
    if table.classes is not None:
        classes = len(table.classes)
    return _dataset(
        name,
        (preprocessing.scale(table.x_train), y_train),
        (preprocessing.scale(table.x_test), y_test),
        classes,
        images=False,
        class_names=table.classes,
        feature_names=table.feature_names,
        preprocessing=preprocessing,
    )


def _warn_identifiers(encoder: data.TabularEncoder, rows: int, name: str) -> None:
    """Warns of text columns with a category for nearly every row: names, tickets, ids."""
    for column in encoder.columns:
        if column.categories is not None and rows >= 20 and len(column.categories) > rows / 2:
            warnings.warn(
                f"{name!r}: column {column.name!r} has {len(column.categories)} different values "
                f"in {rows} training rows, one feature each; if it is an identifier or free "
                f"text, leave it out with --drop {column.name}.",
                stacklevel=2,
            )


_TWO_D = {"model": "dense(16) tanh dense(16) tanh dense({k})", "epochs": 100, "learning_rate": 0.01}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {
        "model": "dense(128) relu dropout(0.1) dense(64) relu dense(10)",
        "epochs": 40,
        "learning_rate": 0.001,
    },
    "mnist": {
        "model": "flatten dense(128) relu dropout(0.2) dense(10)",
        "epochs": 5,
        "batch_size": 128,
    },
    "circle": _TWO_D,
    "xor": _TWO_D,
    "gaussian": _TWO_D,
    "moons": _TWO_D,
    "spiral": {
        "model": "dense(64) tanh dense(64) tanh dense(2)",
        "epochs": 300,
        "learning_rate": 0.01,
    },
    "blobs": {"model": "dense(16) relu dense({k})", "epochs": 50, "learning_rate": 0.01},
    "regression_plane": {
        "model": "dense(32) tanh dense({k})",
        "epochs": 100,
        "learning_rate": 0.01,
    },
}
_DEFAULTS["python_docs"] = {  # about a minute on a 2-core CPU
    "model": f"char_transformer({{k}}, max_length={TEXT_WINDOW})",
    "epochs": 5,
    "batch_size": 64,
    "learning_rate": 0.003,
}
_DEFAULTS["fashion_mnist"] = _DEFAULTS["mnist"]
_DEFAULTS["regression_gaussian"] = _DEFAULTS["regression_plane"]
_FILE_DEFAULT = {"model": "dense(32) relu dropout(0.1) dense({k})", "epochs": 50}
_COMMON = {"optimizer": "adam", "batch_size": 32, "validation_split": 0.1}


def defaults(dataset: Dataset) -> dict[str, Any]:
    """The training options for a data set when the user gives none: model, epochs, rates.

    The digits default is ``python -m jaxnn.demo``'s MLP (64-128-64-10, ReLU, dropout 0.1) with
    Adam at 0.001 for 40 epochs. A model's last layer has one unit per class (or per target).

    Example:
        >>> ds = load_dataset("xor", test_split=0.2)
        >>> defaults(ds)["model"]
        'dense(16) tanh dense(16) tanh dense(2)'
    """
    key = short_name(dataset.name) if not _is_file_name(dataset.name) else ""
    chosen = dict(_DEFAULTS.get(key, _FILE_DEFAULT))
    k = dataset.num_classes if dataset.num_classes is not None else dataset.y_train.shape[-1]
    chosen["model"] = chosen["model"].format(k=k)
    if key not in _DEFAULTS and dataset.x_train.ndim > 2:
        chosen["model"] = "flatten " + chosen["model"]
    return {**_COMMON, **chosen}
