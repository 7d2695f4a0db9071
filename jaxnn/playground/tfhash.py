"""Links from the TensorFlow Playground: its ``#hash`` read into this Playground's controls.

playground.tensorflow.org keeps its whole state in the address's fragment, ``key=value`` pairs
joined by ``&``: ``#activation=tanh&batchSize=10&dataset=circle&networkShape=4,2&x=true&...``.
Teachers share such links; :func:`parse_tf_hash` reads one into the controls of
:func:`jaxnn.playground.settings.parse_settings`, the options the page alone keeps (show the
test data, discretize the output), and the keys it could not apply, each with the reason.

The TensorFlow Playground starts from defaults and the fragment changes some of them; its
defaults are this Playground's, so the controls returned are complete: a key left out of the
fragment reads as the TensorFlow Playground's default. A name or a number that cannot be read
(``activation=gelu``, ``learningRate=fast``) is not applied and is reported, never guessed; a
number out of range is left to ``parse_settings``, which clamps it and says so. The text is
untrusted (anyone can write a link): it is split and matched against tables, nothing in it is
evaluated, and its size is bounded.
"""

from __future__ import annotations

import dataclasses
import math
import re
import zlib
from urllib.parse import unquote

from jaxnn.playground.settings import SettingsError

__all__ = ["MAX_HASH_LENGTH", "TFLink", "parse_tf_hash"]

MAX_HASH_LENGTH = 4096  # characters; a full TensorFlow Playground fragment has about 450
_MAX_SHOWN = 40  # characters of a value quoted back in a reason

# TensorFlow Playground name -> this Playground's name, per control.
_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "linear": "linear"}
_REGULARIZATIONS = {"none": "none", "L1": "l1", "L2": "l2"}
_PROBLEMS = {"classification": "classification", "regression": "regression"}
_DATASETS = {"circle": "circle", "xor": "xor", "gauss": "gaussian", "spiral": "spiral"}
_REG_DATASETS = {"reg-plane": "plane", "reg-gauss": "multigauss"}
_NAMES = {
    "activation": ("activation", _ACTIVATIONS),
    "regularization": ("regularization", _REGULARIZATIONS),
    "problem": ("problem", _PROBLEMS),
}
# Numbers: key -> (control, whole numbers only).
_NUMBERS = {
    "batchSize": ("batch_size", True),
    "noise": ("noise", True),
    "percTrainData": ("train_percent", True),
    "learningRate": ("learning_rate", False),
    "regularizationRate": ("regularization_rate", False),
}
# The input features, in the order of this Playground's page.
_FEATURES = {
    "x": "x1",
    "y": "x2",
    "xSquared": "x1^2",
    "ySquared": "x2^2",
    "xTimesY": "x1x2",
    "sinX": "sin_x1",
    "sinY": "sin_x2",
}
# Options this Playground keeps on the page, not in the session's settings.
_VIEW = {"showTestData": "show_test", "discretize": "discretize"}
# Flags with no counterpart: "false" is what this Playground does anyway; "true" is reported.
_UNSUPPORTED_FLAGS = {
    "cosX": "there is no cos(X1) input here (the TensorFlow Playground's page has none either)",
    "cosY": "there is no cos(X2) input here (the TensorFlow Playground's page has none either)",
    "initZero": "this Playground always starts from random initial weights, never from zeros",
    "collectStats": "this Playground collects no statistics",
    "hideText": "this Playground's page has no article text to hide",
}
# The TensorFlow Playground's defaults, as this Playground's controls (its own defaults too).
_DEFAULTS = {
    "problem": "classification",
    "dataset": "circle",
    "noise": "0",
    "train_percent": "50",
    "batch_size": "10",
    "points": "500",
    "features": "x1,x2",
    "hidden": "4,2",
    "activation": "tanh",
    "learning_rate": "0.03",
    "regularization": "none",
    "regularization_rate": "0",
}
# The TensorFlow Playground draws 500 points for classification and 1200 for regression.
_POINTS = {"classification": "500", "regression": "1200"}
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_WHOLE = re.compile(r"\d{1,9}")
_SEED_FRACTION = re.compile(r"0?\.(\d{1,9})")


@dataclasses.dataclass(frozen=True)
class TFLink:
    """What a TensorFlow Playground fragment says, in this Playground's terms.

    Attributes:
        controls: Control names to values, the input of
            :func:`jaxnn.playground.settings.parse_settings` (every control but ``seed``, which
            is there only when the fragment has one).
        view: The page's own options: ``show_test`` and ``discretize`` (booleans).
        unmapped: ``(key, value, reason)`` for each key that was not applied, in the
            fragment's order; ``value`` is shortened to 40 characters.
    """

    controls: dict[str, str]
    view: dict[str, bool]
    unmapped: list[tuple[str, str, str]]


@dataclasses.dataclass
class _Draft:
    """The link as it is read: controls so far, the page's options, data sets and features."""

    controls: dict[str, str] = dataclasses.field(default_factory=lambda: dict(_DEFAULTS))
    view: dict[str, bool] = dataclasses.field(
        default_factory=lambda: {"show_test": False, "discretize": False}
    )
    datasets: dict[str, str] = dataclasses.field(default_factory=dict)
    features: dict[str, bool] = dataclasses.field(default_factory=lambda: {"x": True, "y": True})


def parse_tf_hash(text: str) -> TFLink:
    """Reads a TensorFlow Playground link's fragment into this Playground's controls.

    Args:
        text: The fragment, with or without its leading ``#``
            (``"#activation=relu&networkShape=3"``); percent escapes are decoded. A key given
            twice counts once, the last time, as on the TensorFlow Playground.

    Returns:
        A :class:`TFLink`: the controls, the page's options and the keys not applied.

    Raises:
        SettingsError: If the text is longer than ``MAX_HASH_LENGTH`` (4096) characters.

    Example:
        >>> link = parse_tf_hash("#activation=relu&networkShape=3,3&dataset=xor&cosX=true")
        >>> link.controls["activation"], link.controls["hidden"], link.controls["dataset"]
        ('relu', '3,3', 'xor')
        >>> link.unmapped[0][:2]
        ('cosX', 'true')
    """
    if len(text) > MAX_HASH_LENGTH:
        raise SettingsError(
            f"parse_tf_hash: a TensorFlow Playground link's fragment has at most "
            f"{MAX_HASH_LENGTH} characters; got {len(text)}."
        )
    draft = _Draft()
    unmapped = []
    for key, value in _pairs(text.removeprefix("#")).items():
        reason = _read(key, value, draft)
        if reason is not None:
            unmapped.append((_shown(key), _shown(value), reason))
    controls = draft.controls
    problem = controls["problem"]
    # Each problem type remembers its own data set there; the one of the problem shown counts.
    active, default = ("regDataset", "plane") if problem == "regression" else ("dataset", "circle")
    controls["dataset"] = draft.datasets.get(active, default)
    controls["points"] = _POINTS[problem]
    controls["features"] = ",".join(
        name for key, name in _FEATURES.items() if draft.features.get(key, False)
    )
    return TFLink(controls=controls, view=draft.view, unmapped=unmapped)


def _pairs(text: str) -> dict[str, str]:
    """``key=value&...`` as a dict, percent escapes decoded; empty values are left out."""
    pairs: dict[str, str] = {}
    for part in text.split("&"):
        key, _, value = part.partition("=")
        key, value = unquote(key).strip(), unquote(value).strip()
        if not key:
            continue
        if value or key == "networkShape":  # "networkShape=" is a network without hidden layers
            pairs.pop(key, None)  # a repeated key counts where it last stands
            pairs[key] = value
    return pairs


def _read(key: str, value: str, draft: _Draft) -> str | None:
    """Applies one key to ``draft``; returns why it was not applied, or ``None``."""
    if key == "networkShape":
        return _network_shape(value, draft.controls)
    if key == "seed":
        return _seed(value, draft.controls)
    if key == "tutorial":
        return "this Playground has no tutorials"
    if key in ("dataset", "regDataset"):
        table = _DATASETS if key == "dataset" else _REG_DATASETS
        name, reason = _name(key, value, table)
        if name is not None:
            draft.datasets[key] = name
        return reason
    if key in _NAMES:
        control, table = _NAMES[key]
        name, reason = _name(key, value, table)
        if name is not None:
            draft.controls[control] = name
        return reason
    if key in _NUMBERS:
        return _number(key, value, draft.controls)
    if key in _FEATURES or key in _VIEW or key in _UNSUPPORTED_FLAGS or key.endswith("_hide"):
        return _flag(key, value, draft)
    return "not a TensorFlow Playground setting"


def _shown(value: str) -> str:
    return value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 3] + "..."


def _name(key: str, value: str, table: dict[str, str]) -> tuple[str | None, str | None]:
    if value in table:
        return table[value], None
    return None, f"unknown {key} {_shown(value)!r}; the known ones are {', '.join(table)}"


def _number(key: str, value: str, controls: dict[str, str]) -> str | None:
    control, whole = _NUMBERS[key]
    if len(value) > 24 or not _NUMBER.fullmatch(value) or not math.isfinite(float(value)):
        return f"{key} must be a finite number; got {_shown(value)!r}"
    number = float(value)
    if whole and number != int(number):
        return f"{key} must be a whole number; got {value!r}"
    controls[control] = str(int(number)) if whole else f"{number:g}"  # parse_settings clamps it
    return None


def _network_shape(value: str, controls: dict[str, str]) -> str | None:
    sizes = [s.strip() for s in value.split(",")] if value else []
    if not all(_WHOLE.fullmatch(s) for s in sizes):
        return (
            f"networkShape must be the hidden layers' widths, whole numbers separated by commas "
            f"(e.g. 4,2); got {_shown(value)!r}"
        )
    # parse_settings keeps the first MAX_LAYERS layers and clamps the widths to [1, 8], saying so.
    controls["hidden"] = ",".join(str(int(s)) for s in sizes)
    return None


def _seed(value: str, controls: dict[str, str]) -> str | None:
    """TF's seed is text (``Math.random().toFixed(5)``, e.g. ``0.21709``); ours a whole number.

    ``0.21709`` becomes 21709 and ``42`` stays 42; other text up to 64 characters becomes its
    CRC-32. The same link gives the same points here each time, not the TensorFlow Playground's
    points: the two draw them with different generators.
    """
    fraction = _SEED_FRACTION.fullmatch(value)
    if fraction:
        controls["seed"] = str(int(fraction.group(1)))
    elif _WHOLE.fullmatch(value):
        controls["seed"] = str(int(value))
    elif len(value) <= 64:
        controls["seed"] = str(zlib.crc32(value.encode()) & 0x7FFFFFFF)
    else:
        return f"seed must be at most 64 characters; got {len(value)}"
    return None


def _flag(key: str, value: str, draft: _Draft) -> str | None:
    if value.lower() not in ("true", "false"):
        return f"{key} must be true or false; got {_shown(value)!r}"
    on = value.lower() == "true"
    if key in _FEATURES:
        draft.features[key] = on
    elif key in _VIEW:
        draft.view[_VIEW[key]] = on
    elif on and key.endswith("_hide"):
        return "this Playground does not hide controls"
    elif on:
        return _UNSUPPORTED_FLAGS[key]
    return None
