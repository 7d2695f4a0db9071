"""The Playground's controls: one frozen record, read from a URL query or a page message.

Every control has a range or a list of choices, as on the TensorFlow Playground. Reading is
forgiving where a student can slip (a number out of range is clamped, an unknown name falls back
to the default) and says so in a message the page shows; text that is not a number where a
number belongs, or an unknown control, is refused with :class:`SettingsError` (a 4xx for the
HTTP API, an error message on the page).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "FEATURES",
    "LEARNING_RATES",
    "MAX_LAYERS",
    "MAX_NEURONS",
    "REGULARIZATION_RATES",
    "Settings",
    "SettingsError",
    "parse_settings",
]

# The page's name -> the jaxnn.data generator, per problem type.
DATASETS: dict[str, dict[str, str]] = {
    "classification": {
        "circle": "circle",
        "xor": "xor",
        "gaussian": "gaussian",
        "spiral": "spiral",
    },
    "regression": {"plane": "regression_plane", "multigauss": "regression_gaussian"},
}
# The page's activation names -> jaxnn.activations names (the TF Playground's four, then the
# lecture table's extras; ``step`` is the perceptron's Heaviside step, whose gradient is zero).
ACTIVATIONS: dict[str, str] = {
    "relu": "relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "linear": "linear",
    "leaky_relu": "leaky_relu",
    "elu": "elu",
    "softplus": "softplus",
    "step": "heaviside",
}
# Input features: the name on the page -> its formula in terms of x1 and x2 (numpy spelling).
FEATURES: dict[str, str] = {
    "x1": "x1",
    "x2": "x2",
    "x1^2": "x1**2",
    "x2^2": "x2**2",
    "x1x2": "x1 * x2",
    "sin_x1": "np.sin(x1)",
    "sin_x2": "np.sin(x2)",
}
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REGULARIZATION_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REGULARIZATIONS = ("none", "l1", "l2")
MAX_LAYERS = 6
MAX_NEURONS = 8
MAX_POINTS = 2000


class SettingsError(ValueError):
    """A control's value that cannot be read (not a number, an unknown control)."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """The state of every control on the page.

    Attributes:
        problem: ``"classification"`` or ``"regression"``.
        dataset: A name in ``DATASETS[problem]``.
        noise: The noise slider, 0 to 50 (percent; ``jaxnn.data`` gets noise / 100).
        train_percent: The share of points used for training, 10 to 90 (percent).
        batch_size: 1 to 30 points per optimizer step.
        points: How many points the data set has, 50 to 2000 (default 500).
        seed: The seed of the data and of the initial weights (``regenerate`` draws a new one).
        features: The input features, a tuple of names in ``FEATURES`` (at least one).
        hidden: The hidden layers' widths, 0 to 6 layers of 1 to 8 neurons.
        activation: A name in ``ACTIVATIONS``.
        learning_rate: One of ``LEARNING_RATES`` (plain SGD, as on the TF Playground).
        regularization: ``"none"``, ``"l1"`` or ``"l2"``.
        regularization_rate: One of ``REGULARIZATION_RATES``.

    Example:
        >>> s = Settings(hidden=(4, 2))
        >>> s.layer_sizes()
        [2, 4, 2, 1]
    """

    problem: str = "classification"
    dataset: str = "circle"
    noise: int = 0
    train_percent: int = 50
    batch_size: int = 10
    points: int = 500
    seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    activation: str = "tanh"
    learning_rate: float = 0.03
    regularization: str = "none"
    regularization_rate: float = 0.0

    def layer_sizes(self) -> list[int]:
        """The widths from the inputs to the one output: ``[len(features), *hidden, 1]``."""
        return [len(self.features), *self.hidden, 1]

    def test_fraction(self) -> float:
        """The share of points held out for testing, e.g. 0.3 for ``train_percent=70``."""
        return round(1 - self.train_percent / 100, 2)

    def to_query(self) -> dict[str, str]:
        """The settings as URL query values (the inverse of :func:`parse_settings`).

        Example:
            >>> Settings(hidden=(3,), features=("x1", "x1x2")).to_query()["hidden"]
            '3'
        """
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, tuple):
                out[field.name] = ",".join(str(v) for v in value)
            elif isinstance(value, float):
                out[field.name] = f"{value:g}"
            else:
                out[field.name] = str(value)
        return out


def _number(name: str, text: Any, kind: type) -> Any:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number; got {text!r}.") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number; got {text!r}.")
    return int(round(value)) if kind is int else value


def _clamp(name: str, value: Any, low: Any, high: Any, notes: list[str]) -> Any:
    if low <= value <= high:
        return value
    clamped = min(max(value, low), high)
    notes.append(f"{name} must be in [{low}, {high}]; got {value}, using {clamped}.")
    return clamped


def _nearest(name: str, value: float, choices: tuple, notes: list[str]) -> float:
    best = min(choices, key=lambda c: abs(math.log10(c + 1e-6) - math.log10(max(value, 0) + 1e-6)))
    if not math.isclose(best, value, rel_tol=1e-9, abs_tol=1e-12):
        notes.append(f"{name} must be one of {list(choices)}; got {value:g}, using {best:g}.")
    return best


def _choice(name: str, value: Any, choices: Any, default: str, notes: list[str]) -> str:
    value = str(value).strip().lower()
    if value in choices:
        return value
    notes.append(f"unknown {name} {value!r}; using {default!r}. Known: {', '.join(choices)}.")
    return default


def _text_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _hidden(value: Any, notes: list[str]) -> tuple[int, ...]:
    sizes = [_number("hidden", v, int) for v in _text_list(value)]
    if len(sizes) > MAX_LAYERS:
        notes.append(f"at most {MAX_LAYERS} hidden layers; got {len(sizes)}, keeping the first.")
        sizes = sizes[:MAX_LAYERS]
    return tuple(_clamp("neurons per layer", s, 1, MAX_NEURONS, notes) for s in sizes)


def _features(value: Any, notes: list[str]) -> tuple[str, ...]:
    names = _text_list(value)
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        notes.append(f"unknown features {unknown} ignored. Known: {', '.join(FEATURES)}.")
    chosen = tuple(n for n in FEATURES if n in names)  # the page's order, no repeats
    if not chosen:
        notes.append("at least one input feature is needed; using x1 and x2.")
        chosen = ("x1", "x2")
    return chosen


def parse_settings(
    values: Mapping[str, Any], base: Settings | None = None
) -> tuple[Settings, list[str]]:
    """Reads controls from a URL query or a page message, on top of ``base``.

    Args:
        values: Control names to values (strings from a URL, or JSON values); a control left out
            keeps its value in ``base``. ``autoplay`` is the page's and is ignored here.
        base: The settings to change (default: :class:`Settings`'s defaults).

    Returns:
        ``(settings, notes)``: ``notes`` says what was clamped or replaced, one sentence each.

    Raises:
        SettingsError: For an unknown control or text that is not a number where one belongs.

    Example:
        >>> s, notes = parse_settings({"hidden": "4,9", "learning_rate": "-1", "activation": "x"})
        >>> s.hidden, s.learning_rate, s.activation
        ((4, 8), 1e-05, 'tanh')
        >>> print(notes[0])
        neurons per layer must be in [1, 8]; got 9, using 8.
    """
    base = base or Settings()
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - known - {"autoplay"})
    if unknown:
        raise SettingsError(f"unknown controls {unknown}; the controls are {sorted(known)}.")
    notes: list[str] = []
    new: dict[str, Any] = {}
    get = values.get
    if "problem" in values:
        new["problem"] = _choice("problem", get("problem"), DATASETS, base.problem, notes)
    problem = new.get("problem", base.problem)
    default_set = next(iter(DATASETS[problem]))
    dataset = get("dataset", base.dataset if base.dataset in DATASETS[problem] else default_set)
    new["dataset"] = _choice("dataset", dataset, DATASETS[problem], default_set, notes)
    for name, low, high in (
        ("noise", 0, 50),
        ("train_percent", 10, 90),
        ("batch_size", 1, 30),
        ("points", 50, MAX_POINTS),
        ("seed", 0, 2**31 - 1),
    ):
        if name in values:
            new[name] = _clamp(name, _number(name, get(name), int), low, high, notes)
    if "features" in values:
        new["features"] = _features(get("features"), notes)
    if "hidden" in values:
        new["hidden"] = _hidden(get("hidden"), notes)
    if "activation" in values:
        new["activation"] = _choice("activation", get("activation"), ACTIVATIONS, "tanh", notes)
    if "learning_rate" in values:
        rate = _number("learning_rate", get("learning_rate"), float)
        new["learning_rate"] = _nearest("learning_rate", rate, LEARNING_RATES, notes)
    if "regularization" in values:
        new["regularization"] = _choice(
            "regularization", get("regularization"), REGULARIZATIONS, "none", notes
        )
    if "regularization_rate" in values:
        rate = _number("regularization_rate", get("regularization_rate"), float)
        new["regularization_rate"] = _nearest(
            "regularization_rate", rate, REGULARIZATION_RATES, notes
        )
    return dataclasses.replace(base, **new), list(dict.fromkeys(notes))
