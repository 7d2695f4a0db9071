"""The search space: a model template and a grid of values, expanded into configurations.

A model is given three ways:

- a :class:`~jaxnn.Layer`: one architecture, the grid holds ``fit`` arguments only;
- a model spec (the language of ``jaxnn train --model``, :mod:`jaxnn.models.spec`) with *value
  sets* and *placeholders*: ``"dense({32,64,128},relu) dense(10)"`` tries three widths (the set
  is named after the argument it fills, here ``units``), ``"dense({width},relu) dense(10)"``
  takes ``width`` from the grid, and ``[ ... ]*N`` repeats the layers between the brackets, so
  ``"[dense({width},relu)]*{depth} dense(10)"`` is a width x depth grid;
- a function of hyperparameters returning a Layer: grid keys that are its parameters go to it.

Every other grid key is a ``fit`` argument (``learning_rate``, ``batch_size``, ``optimizer``,
``epochs`` ...) or a regularisation rate of the kernels (``l1``, ``l2``, as
:func:`jaxnn.regularizers.l1_l2`).
"""

from __future__ import annotations

import difflib
import inspect
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxnn.core import Layer
from jaxnn.models.spec import LAYERS, build

__all__ = [
    "FIT_GRID_KEYS",
    "RATE_KEYS",
    "VECTOR_KEYS",
    "Template",
    "check_grid",
    "configurations",
    "seed_list",
    "suggest",
    "template",
]

# Regularisation rates of every kernel (``l1_l2(l1, l2)``), a search's own grid keys.
RATE_KEYS = ("l1", "l2")
# Continuous hyperparameters: configurations differing only in these (and in the seed) train
# together in one compiled call. Dropout rates do too, whatever the grid calls them: they are
# read from the model's config (jaxnn.search.dropout), not from these keys.
VECTOR_KEYS = ("learning_rate", *RATE_KEYS)
# fit arguments a grid may vary (each distinct value of the others is its own compiled group).
FIT_GRID_KEYS = (
    "learning_rate",
    "optimizer",
    "batch_size",
    "epochs",
    "clip_norm",
    "loss",
    "shuffle",
    "validation_split",
    "class_weight",
    "regularizer",
    *RATE_KEYS,
)

_SET = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REPEAT = re.compile(r"\[([^\[\]]*)\]\s*\*\s*(\d+)")


class Template(NamedTuple):
    """How to build the model of a configuration.

    Attributes:
        names: The model's hyperparameters (value sets and placeholders of a spec, parameters
            of a function), in order.
        sets: The values of each value set written in a spec.
        build: ``build(values) -> Layer`` for a dict holding a value for each name.
        describe: ``describe(values) -> str``: the spec with the values filled in, or the
            model's name.
        required: The names the grid must give values for (a spec's placeholders, a
            function's parameters without a default).
    """

    names: tuple[str, ...]
    sets: dict[str, list[Any]]
    build: Callable[[dict[str, Any]], Layer]
    describe: Callable[[dict[str, Any]], str]
    required: tuple[str, ...] = ()


def suggest(name: str, known: Sequence[str]) -> str:
    """`` Did you mean 'x'?`` with the closest of ``known``, or ``""``."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _literal(text: str) -> Any:
    """A value of a spec's value set: an int, a float, True/False/None or the text."""
    lowered = text.lower()
    if lowered in ("true", "false", "none"):
        return {"true": True, "false": False, "none": None}[lowered]
    try:
        number = float(text)
    except ValueError:
        return text.strip("'\"")
    return int(number) if re.fullmatch(r"[-+]?\d+", text) else number


def _text(value: Any) -> str:
    """A grid value written into a spec."""
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_text(v) for v in value) + ")"
    if isinstance(value, (bool, np.bool_)) or value is None:
        return str(value).lower()
    if isinstance(value, (int, float, np.integer, np.floating)):
        return repr(value.item() if isinstance(value, np.generic) else value)
    return str(value)


def _argument_name(spec: str, start: int) -> str:
    """The name of the argument a value set at ``start`` fills: ``units``, ``activation`` ..."""
    if re.search(r"\]\s*\*\s*$", spec[:start]):
        return "depth"
    depth, commas, i = 0, 0, start - 1
    while i >= 0:
        char = spec[i]
        if char == ")":
            depth += 1
        elif char == "(" and depth:
            depth -= 1
        elif char == "(":
            break
        elif char == "," and not depth:
            commas += 1
        i -= 1
    if i < 0:
        return "value"
    keyword = re.search(r"([A-Za-z_]\w*)\s*=\s*$", spec[:start])
    if keyword and spec[i:start].count(",") == spec[i : keyword.start()].count(","):
        return keyword.group(1)
    layer = re.search(r"([A-Za-z_]\w*)\s*$", spec[:i])
    kind = LAYERS.get(layer.group(1).lower()) if layer else None
    if kind is not None and commas < len(kind.positional):
        return kind.positional[commas].lstrip("*")
    return "value"


def _spec_template(spec: str, where: str) -> Template:
    """A spec with value sets ``{a,b}`` and placeholders ``{name}``, and ``[...]*N`` repeats."""
    names: list[str] = []
    sets: dict[str, list[Any]] = {}
    pieces: list[str | tuple[str]] = []  # text, or (name,) where a value goes
    last = 0
    for match in _SET.finditer(spec):
        content = match.group(1).strip()
        pieces.append(spec[last : match.start()])
        last = match.end()
        if _NAME.fullmatch(content) and content.lower() not in ("true", "false", "none"):
            name = content  # a placeholder: its values come from the grid
        else:
            values = [v.strip() for v in content.split(",")]
            if not content or any(not v for v in values):
                raise ValueError(
                    f"{where}: the model spec has an empty value set or an empty value in "
                    f"{match.group(0)!r} (column {match.start() + 1}); write values between "
                    f"commas, e.g. {{32,64}}."
                )
            base = _argument_name(spec, match.start())
            name, i = base, 1
            while name in sets or name in names:
                name, i = f"{base}_{i}", i + 1
            sets[name] = [_literal(v) for v in values]
        if name not in names:
            names.append(name)
        pieces.append((name,))
    pieces.append(spec[last:])

    def fill(values: dict[str, Any]) -> str:
        text = "".join(p if isinstance(p, str) else _text(values[p[0]]) for p in pieces)
        while _REPEAT.search(text):
            text = _REPEAT.sub(lambda m: " ".join([m.group(1).strip()] * int(m.group(2))), text)
        return " ".join(text.split())

    required = tuple(n for n in names if n not in sets)
    return Template(tuple(names), sets, lambda values: build(fill(values)), fill, required)


def _function_template(function: Callable[..., Layer], where: str) -> Template:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature: no hyperparameters
        parameters = {}  # type: ignore[assignment]
    names = tuple(
        p.name for p in parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )
    required = tuple(
        p.name for p in parameters.values() if p.name in names and p.default is p.empty
    )
    label = getattr(function, "__name__", type(function).__name__)

    def build(values: dict[str, Any]) -> Layer:
        missing = [n for n in required if n not in values]
        if missing:
            raise ValueError(
                f"{where}: the model function {label!r} needs {missing}; give them in the grid, "
                f"e.g. grid={{{missing[0]!r}: [...]}}."
            )
        model = function(**{k: v for k, v in values.items() if k in names})
        if not isinstance(model, Layer):
            raise TypeError(
                f"{where}: the model function {label!r} must return a jaxnn Layer; got "
                f"{type(model).__name__}."
            )
        return model

    def describe(values: dict[str, Any]) -> str:
        args = ", ".join(f"{k}={values[k]!r}" for k in names if k in values)
        return f"{label}({args})"

    return Template(names, {}, build, describe, required)


def template(model: Any, *, where: str = "search") -> Template:
    """The :class:`Template` of a Layer, a model spec or a function of hyperparameters.

    Raises:
        ValueError: For an empty value set in a spec.
        TypeError: For a model that is none of the three.

    Example:
        >>> t = template("[dense({width},relu)]*{depth} dense({3,4})")
        >>> t.names, t.sets
        (('width', 'depth', 'units'), {'units': [3, 4]})
        >>> t.describe({"width": 8, "depth": 2, "units": 3})
        'dense(8,relu) dense(8,relu) dense(3)'
    """
    if isinstance(model, Layer):
        return Template((), {}, lambda values: model, lambda values: model.name)
    if isinstance(model, str):
        return _spec_template(model, where)
    if callable(model):
        return _function_template(model, where)
    raise TypeError(
        f"{where}: model must be a jaxnn Layer, a model spec such as "
        f"'dense({{32,64}},relu) dense(10)', or a function of hyperparameters returning a "
        f"Layer; got {type(model).__name__}."
    )


def _values(key: str, value: Any, where: str) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, range, np.ndarray)):
        if _is_distribution(value):
            return [value]
        value = [value]
    values = list(value.tolist() if isinstance(value, np.ndarray) else value)
    if not values:
        raise ValueError(f"{where}: grid[{key!r}] is empty; give at least one value.")
    return values


def _is_distribution(value: Any) -> bool:
    return type(value).__module__.startswith("optuna.distributions")


def check_grid(grid: Any, tpl: Template, *, where: str = "search") -> dict[str, list[Any]]:
    """The grid's values as lists, after checking every key; the spec's value sets first.

    Raises:
        TypeError: If ``grid`` is not a mapping.
        ValueError: For an empty list of values, a key that is neither a fit argument a grid
            may vary nor a hyperparameter of the model (a placeholder the spec does not use),
            ``seed`` (use ``seeds=``), a key the spec already gives a value set, or a placeholder
            of the spec without values.

    Example:
        >>> tpl = template("dense({width},relu) dense(2)")
        >>> check_grid({"width": [4, 8], "learning_rate": 0.1}, tpl)
        {'width': [4, 8], 'learning_rate': [0.1]}
        >>> check_grid({"widht": [4]}, tpl)
        Traceback (most recent call last):
        ...
        ValueError: search: grid key 'widht' is neither a placeholder of the model ...
    """
    if grid is None:
        grid = {}
    if not isinstance(grid, Mapping):
        raise TypeError(
            f"{where}: grid must be a dict of lists, e.g. {{'learning_rate': [1e-3, 1e-2]}}; "
            f"got {type(grid).__name__}."
        )
    result: dict[str, list[Any]] = dict(tpl.sets)
    for key, value in grid.items():
        if key == "seed":
            raise ValueError(f"{where}: give the seeds as seeds=N or seeds=[...], not in the grid.")
        if key in tpl.sets:
            raise ValueError(
                f"{where}: grid[{key!r}] is given twice: the model spec already holds a value set "
                f"for it ({tpl.sets[key]})."
            )
        if key not in tpl.names and key not in FIT_GRID_KEYS:
            model_names = [n for n in tpl.names if n not in tpl.sets]
            known = sorted({*model_names, *FIT_GRID_KEYS})
            raise ValueError(
                f"{where}: grid key {key!r} is neither a placeholder of the model "
                f"({', '.join(model_names) or 'it has none'}) nor a fit argument a grid may vary "
                f"({', '.join(FIT_GRID_KEYS)}).{suggest(key, known)}"
            )
        result[key] = _values(key, value, where)
    missing = [n for n in tpl.required if n not in result]
    if missing:
        raise ValueError(
            f"{where}: the model's hyperparameter {missing[0]!r} has no values; add "
            f"grid={{{missing[0]!r}: [...]}}."
        )
    return result


def configurations(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the first key varying slowest.

    Example:
        >>> configurations({"a": [1, 2], "b": ["x"]})
        [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
    """
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def seed_list(seeds: Any, *, where: str = "search") -> list[int]:
    """``seeds=N`` as ``[0, ..., N-1]``, or a sequence of ints as given.

    Raises:
        ValueError: For a count below 1, an empty sequence or repeated seeds.
        TypeError: For anything but an int or a sequence of ints.

    Example:
        >>> seed_list(3), seed_list([7, 9])
        ([0, 1, 2], [7, 9])
    """
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"{where}: seeds must be >= 1 (how many seeds); got {seeds}.")
        return list(range(int(seeds)))
    if not isinstance(seeds, (Sequence, range, np.ndarray)) or isinstance(seeds, str):
        raise TypeError(f"{where}: seeds must be an int or a sequence of ints; got {seeds!r}.")
    result = [int(s) for s in seeds]
    if not result or len(set(result)) != len(result):
        raise ValueError(f"{where}: seeds must be distinct ints, at least one; got {list(seeds)}.")
    return result
