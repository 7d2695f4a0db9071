"""The data of ``--data grain:MODULE:FUNCTION``: Grain datasets that a function of the user's makes.

``jaxnn train --data grain:pipeline:make`` imports the module ``pipeline`` as Python imports
it (from the current folder or ``PYTHONPATH``; ``grain:path/to/pipeline.py:make`` names a file
instead) and calls ``make()`` with no arguments. That runs the user's own code, as
``--model FILE.py`` does: the user named it on their command line. ``make()`` returns either

- a Grain dataset of batches, the training data: a ``grain.MapDataset``, ``grain.IterDataset``
  or ``grain.DataLoader`` whose elements are ``(x, y)``, ``(x, y, sample_weight)`` or dicts
  with keys ``x`` and ``y`` (batch axis first, e.g. ``ds.batch(32)``); or
- a dict with ``"train"`` (such a dataset) and optionally ``"validation"`` and ``"test"``
  (datasets of batches too, each read whole once per use) and ``"num_classes"`` (an int).

The first training batch fixes the input shape, the batch size and the kind of targets:
integer class ids ``(B,)`` (or ``(B, T)``, one per position) or float targets ``(B, D)``. The
number of classes is ``num_classes`` when given, else one more than the largest label in the
first batch of each dataset: give ``num_classes`` when a first batch may miss the last class.

Training streams the batches through :func:`jaxnn.fit` (one pass per epoch, or
``--steps-per-epoch`` batches, which an endless dataset needs). A run's ``config.toml`` records
the ``--data`` text and its checkpoint the input position, so ``jaxnn train --resume`` calls the
function again and continues at the batch where the run stopped: for an exact resume, the
function must give the same batches each time (seed its shuffles).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxnn.cli import user_code
from jaxnn.cli.common import UserError, scores
from jaxnn.train import evaluate
from jaxnn.train.grain_input import grain_module
from jaxnn.train.streams import BatchStream

__all__ = [
    "GRAIN_PREFIX",
    "GrainData",
    "grain_file",
    "is_grain_data",
    "load_grain",
    "parse",
    "short_name",
]

GRAIN_PREFIX = "grain:"
_KEYS = ("train", "validation", "test", "num_classes")
# A MapDataset this long is endless: ``repeat()`` without a count has sys.maxsize elements,
# a later ``batch(B)`` sys.maxsize // B; no data set that ends has 2**48 batches.
_ENDLESS = 2**48


def is_grain_data(name: Any) -> bool:
    """Whether ``--data`` names a function that returns Grain datasets.

    Example:
        >>> is_grain_data("grain:pipeline:make"), is_grain_data("digits")
        (True, False)
    """
    return isinstance(name, str) and name.startswith(GRAIN_PREFIX)


def parse(name: str) -> tuple[str, str]:
    """The module (a dotted name or a ``.py`` path) and the function of ``grain:MODULE:FUNCTION``.

    Example:
        >>> parse("grain:data/pipe.py:make"), parse("grain:pkg.pipe:make")
        (('data/pipe.py', 'make'), ('pkg.pipe', 'make'))

    Raises:
        UserError: For text that is not ``grain:MODULE:FUNCTION``.
    """
    module, _, function = name[len(GRAIN_PREFIX) :].rpartition(":")
    if not module or not function.isidentifier():
        raise UserError(
            f"--data {name!r} must be grain:MODULE:FUNCTION, e.g. grain:pipeline:make or "
            f"grain:path/to/pipeline.py:make (a function that returns Grain datasets)."
        )
    return module, function


def short_name(name: str) -> str:
    """The run folder's name for ``grain:MODULE:FUNCTION``: the module's last part, the function.

    Example:
        >>> short_name("grain:data/pipe.py:make"), short_name("grain:pkg.pipe:make")
        ('pipe_make', 'pipe_make')
    """
    module, function = parse(name)
    stem = Path(module).stem if module.lower().endswith(".py") else module.rpartition(".")[2]
    return f"{stem}_{function}"


def grain_file(name: Any) -> str | None:
    """The ``.py`` file that ``grain:FILE.py:FUNCTION`` names, or ``None`` (a module, other data).

    Example:
        >>> grain_file("grain:data/pipe.py:make"), grain_file("grain:pipe:make")
        ('data/pipe.py', None)
    """
    if not is_grain_data(name):
        return None
    module = name[len(GRAIN_PREFIX) :].rpartition(":")[0]
    return module if module.lower().endswith(".py") else None


class GrainData(NamedTuple):
    """The Grain datasets of a run, and what the first training batch told.

    Attributes:
        name: The ``--data`` text.
        train: The training dataset of batches.
        validation: The validation dataset, or ``None``.
        test: The test dataset, or ``None``.
        batch: The rows of the first training batch (the batch size).
        steps: Batches per pass of ``train`` when it has a length, else ``None``.
        x: The inputs of the first training batch.
        y: Its targets.
        num_classes: The number of classes, or ``None`` for float targets.
    """

    name: str
    train: Any
    validation: Any
    test: Any
    batch: int
    steps: int | None
    x: np.ndarray
    y: np.ndarray
    num_classes: int | None

    def describe(self) -> str:
        """One line: the datasets, the batches and their samples, the classes or targets."""
        kind = (
            f"{self.num_classes} classes"
            if self.num_classes is not None
            else f"regression, {self.y.shape[-1]} target(s)"
        )
        steps = "" if self.steps is None else f"{self.steps:,} "
        if self.steps is not None and self.steps >= _ENDLESS:
            steps = "endless "
        more = [f"{k}: {_kind(v)}" for k, v in self._others()]
        article = "an" if _kind(self.train)[0] in "AEIOU" else "a"
        return (
            f"{self.name}: {article} {_kind(self.train)} of {steps}batches of {self.batch} "
            f"samples of shape {tuple(self.x.shape[1:])}, {kind}"
            + (f" ({', '.join(more)})" if more else "")
        )

    def _others(self) -> list[tuple[str, Any]]:
        pairs = (("validation", self.validation), ("test", self.test))
        return [(k, v) for k, v in pairs if v is not None]

    def defaults(self, base: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
        """``base`` (the defaults of the data) with what Grain data changes, options checked.

        The batch size is the first batch's; 10 epochs; ``--validation-split`` 0 with a
        ``validation`` dataset, else 0.1 of each epoch's batches when an epoch has 5 or more.

        Raises:
            UserError: For ``--batch-size`` unlike the batches, ``--validation-split`` with a
                ``validation`` dataset or batches that cannot be counted, or an endless
                ``MapDataset`` without ``--steps-per-epoch``.
        """
        name, given = self.name, options.get("batch_size")
        if given is not None and given != self.batch:
            raise UserError(
                f"--batch-size {given}: the batches of --data {name!r} hold {self.batch} "
                f"samples; batch the dataset in its function (ds.batch({given})) instead."
            )
        steps = options.get("steps_per_epoch") or self.steps
        if options.get("steps_per_epoch") is None and self.steps is not None:
            if self.steps >= _ENDLESS:
                raise UserError(
                    f"--data {name!r}: the training dataset is endless (repeat() without a "
                    f"count); give --steps-per-epoch, the batches of one epoch."
                )
        split = options.get("validation_split")
        if split and self.validation is not None:
            raise UserError(
                f"--validation-split {split}: the function of --data {name!r} returns a "
                f"'validation' dataset already; give one or the other."
            )
        if split and steps is None:
            raise UserError(
                f"--validation-split {split} holds out the last batches of each epoch, and the "
                f"training dataset of --data {name!r} has no length: give --steps-per-epoch."
            )
        held = 0.1 if self.validation is None and steps is not None and steps >= 5 else 0.0
        return {**base, "batch_size": self.batch, "epochs": 10, "validation_split": held}

    def fit_arguments(self, options: dict[str, Any], position: Any) -> dict[str, Any]:
        """The data arguments of :func:`jaxnn.fit`: the streams, the steps, where to start."""
        return {
            "data": self.train,
            "validation_split": options["validation_split"] or None,
            "validation_data": self.validation,
            "steps_per_epoch": options.get("steps_per_epoch"),
            "input_position": position,
        }

    def test_values(self, model: Any, train_state: Any, **kwargs: Any) -> dict[str, Any] | None:
        """The metrics of the ``test`` dataset (one pass) and its ``samples``, or ``None``."""
        if self.test is None:
            return None
        values = evaluate(model, train_state, self.test, **kwargs)
        stream = BatchStream(self.test, where=f"--data {self.name!r} (test dataset)")
        return scores(values, int(sum(float(b[3].sum()) for b in stream.epoch(0))))


def _kind(dataset: Any) -> str:
    """``MapDataset``, ``IterDataset`` or ``DataLoader`` (Grain's own classes have other names)."""
    grain = grain_module("jaxnn train")
    for kind in (grain.MapDataset, grain.IterDataset, grain.DataLoader):
        if isinstance(dataset, kind):
            return kind.__name__
    return type(dataset).__name__


def _datasets(value: Any, name: str) -> dict[str, Any]:
    """The function's result as a dict of ``_KEYS``, each dataset checked to be Grain's."""
    grain = grain_module(f"--data {name!r}")
    kinds = (grain.MapDataset, grain.IterDataset, grain.DataLoader)
    expected = (
        f"{parse(name)[1]}() must return a Grain dataset of batches (grain.MapDataset, "
        f"grain.IterDataset or grain.DataLoader), or a dict with 'train' and optionally "
        f"'validation', 'test' and 'num_classes'"
    )
    if isinstance(value, kinds):
        return {"train": value}
    if not isinstance(value, Mapping):
        raise UserError(f"--data {name!r}: {expected}; got a {type(value).__name__}.")
    unknown = sorted(map(str, set(value) - set(_KEYS)))
    if unknown or "train" not in value:
        problem = f"unknown keys {unknown}" if unknown else "no 'train'"
        raise UserError(f"--data {name!r}: {expected}; got a dict with {problem}.")
    for key in ("train", "validation", "test"):
        got = value.get(key)
        if (key == "train" or got is not None) and not isinstance(got, kinds):
            raise UserError(f"--data {name!r}: {expected}; its {key!r} is a {type(got).__name__}.")
    classes = value.get("num_classes")
    if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int)):
        raise UserError(f"--data {name!r}: num_classes must be an int; got {classes!r}.")
    return dict(value)


def _first(dataset: Any, name: str, role: str) -> Any:
    """A stream of ``dataset`` that has read its first batch, checked as :func:`jaxnn.fit` does.

    Raises:
        UserError: For an empty dataset or a first batch that is not ``(x, y[, w])`` of numbers.
    """
    try:
        return BatchStream(dataset, where=f"--data {name!r} ({role} dataset)")
    except (ValueError, TypeError) as error:
        raise UserError(str(error)) from error


def _classes(found: dict[str, Any], y: np.ndarray, name: str) -> int | None:
    """The number of classes: ``num_classes``, else from the first batches' labels."""
    if y.dtype.kind == "f":
        if y.ndim == 1:
            raise UserError(
                f"--data {name!r}: the first batch has float targets y of shape {y.shape}; "
                f"regression targets are (B, D), e.g. y[:, None], and class ids are integers."
            )
        return None
    others = [k for k in ("validation", "test") if found.get(k) is not None]
    labels = [y] + [_first(found[k], name, k).first.y for k in others]
    low, high = min(int(a.min()) for a in labels), max(int(a.max()) for a in labels)
    if low < 0:
        raise UserError(f"--data {name!r}: class labels must be 0, 1, 2 ...; found {low}.")
    given = found.get("num_classes")
    if given is not None and given <= high:
        raise UserError(
            f"--data {name!r}: num_classes is {given}, but the labels go up to {high}; it must "
            f"be at least {high + 1}."
        )
    return high + 1 if given is None else given


def load_grain(
    name: str, *, allowed: bool = True, file_options: dict[str, Any] | None = None
) -> GrainData:
    """The datasets of ``--data grain:MODULE:FUNCTION`` (see the module's docstring).

    Args:
        name: The ``--data`` text.
        allowed: Whether the command streams the data (``False``: it needs arrays).
        file_options: The CSV and IDX options of the command line (``--target``: value), which
            must not be given.

    Raises:
        UserError: For a command that needs arrays, CSV or IDX options, a missing Grain package
            (the extra named), module, file or function, one that is not callable or fails, a
            result that is not Grain datasets of batches, or labels unlike classes or targets.
    """
    if not allowed:
        raise UserError(
            f"--data {name!r}: this command takes data in memory; Grain datasets train with "
            f"jaxnn train (and its runs evaluate with jaxnn evaluate)."
        )
    given = [k for k, v in (file_options or {}).items() if v is not None]
    if given:
        raise UserError(
            f"{', '.join(given)} cannot be given with --data {name!r}: they are options of "
            f"CSV and IDX files; the function makes the Grain datasets itself."
        )
    try:
        grain_module(f"--data {name!r}")
    except ImportError as error:
        raise UserError(str(error)) from None
    module, function = parse(name)
    where = f"--data {name!r}"
    instead = f"name its file instead: grain:path/to/{module.rpartition('.')[2]}.py:{function}"
    with user_code.importable_here():
        code = user_code.import_module(module, where=where, instead=instead)
        role = "returns Grain datasets"
        make = user_code.get_function(code, function, where=where, label=module, role=role)
        found = _datasets(user_code.call(make, where=where, name=function), name)
        stream = _first(found["train"], name, "train")
        x, y = stream.first.x, stream.first.y
        classes = _classes(found, y, name)
    return GrainData(name, found["train"], found.get("validation"), found.get("test"),
                     stream.spec.batch, stream.length, x, y, classes)  # fmt: skip
