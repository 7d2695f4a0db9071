"""Model families for the sweep (ParaDnn style), built from jaxnn's own layers.

Each configuration is a family name plus its hyperparameters; :func:`build` turns it into a
model, the input and target shapes of one batch, and the loss. The data is synthetic, drawn
from a fixed key, so every backend trains the same numbers.

Families: ``fc`` (layers x width x batch), ``cnn`` and ``resnet`` (depth x filters x image x
batch, plain or residual), ``rnn``, ``lstm``, ``gru`` (layers x hidden x seq_len x batch) and
``attention`` (one transformer block: heads x width x seq_len x batch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax.numpy as jnp

from jaxnn.combinators import residual, serial
from jaxnn.core import Layer
from jaxnn.layers import (
    GRU,
    LSTM,
    Conv2D,
    Dense,
    GlobalAvgPool,
    LayerNorm,
    MultiHeadAttention,
    SimpleRNN,
)

__all__ = ["FAMILIES", "Built", "build", "check_config", "activations_per_example"]

NUM_CLASSES = 10
FEATURES = 32  # input features of fc, rnn and attention models
CHANNELS = 3  # input channels of the image models

# Hyperparameters of each family (every one required), in the order records print them.
FAMILIES: dict[str, tuple[str, ...]] = {
    "fc": ("layers", "width", "batch"),
    "cnn": ("depth", "filters", "image", "batch"),
    "resnet": ("depth", "filters", "image", "batch"),
    "rnn": ("layers", "hidden", "seq_len", "batch"),
    "lstm": ("layers", "hidden", "seq_len", "batch"),
    "gru": ("layers", "hidden", "seq_len", "batch"),
    "attention": ("heads", "width", "seq_len", "batch"),
}


class Built(NamedTuple):
    """A family's model on one batch.

    Attributes:
        model: The model (logits over ``NUM_CLASSES`` classes).
        x_shape: The input shape of one batch, batch axis first.
        num_classes: The number of classes of the integer labels ``(N,)``.
    """

    model: Layer
    x_shape: tuple[int, ...]
    num_classes: int


def check_config(config: Mapping[str, Any]) -> None:
    """Checks a configuration: a known ``family`` and a positive int for each of its fields.

    Raises:
        ValueError: For an unknown family (listing the known ones), a missing or unknown field,
            or a value that is not a positive integer.

    Example:
        >>> check_config({"family": "fc", "layers": 2, "width": 8, "batch": 4})
        >>> check_config({"family": "mlp"})
        Traceback (most recent call last):
        ...
        ValueError: bench: unknown model family 'mlp'; known: attention, cnn, fc, gru, lstm, resnet, rnn.
    """  # noqa: E501
    family = config.get("family")
    if family not in FAMILIES:
        raise ValueError(
            f"bench: unknown model family {family!r}; known: {', '.join(sorted(FAMILIES))}."
        )
    fields = FAMILIES[family]
    given = set(config) - {"family"}
    if given != set(fields):
        raise ValueError(
            f"bench: family {family!r} takes the fields {list(fields)}; got {sorted(given)}."
        )
    for name in fields:
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"bench: {family} field {name!r} must be a positive integer; got {value!r}."
            )
    if family == "attention" and config["width"] % config["heads"]:
        raise ValueError(
            f"bench: attention width {config['width']} must be a multiple of heads "
            f"{config['heads']}."
        )


def _fc(c: Mapping[str, int]) -> tuple[list[Any], tuple[int, ...]]:
    hidden = [Dense(c["width"], activation="relu") for _ in range(c["layers"])]
    return hidden, (c["batch"], FEATURES)


def _cnn(c: Mapping[str, int], skip: bool) -> tuple[list[Any], tuple[int, ...]]:
    def conv() -> Layer:
        return Conv2D(c["filters"], (3, 3), padding="same", activation="relu")

    body: list[Any] = [conv()]  # the stem maps the input channels to `filters`
    for _ in range(c["depth"] - 1):
        body.append(residual(conv()) if skip else conv())
    return [*body, GlobalAvgPool()], (c["batch"], c["image"], c["image"], CHANNELS)


def _rnn(c: Mapping[str, int], cell: Callable[..., Layer]) -> tuple[list[Any], tuple[int, ...]]:
    n = c["layers"]
    body = [cell(c["hidden"], return_sequences=i < n - 1) for i in range(n)]
    return body, (c["batch"], c["seq_len"], FEATURES)


def _attention(c: Mapping[str, int]) -> tuple[list[Any], tuple[int, ...]]:
    width, heads = c["width"], c["heads"]
    block = [
        Dense(width),
        residual(LayerNorm(), MultiHeadAttention(heads, width // heads)),
        residual(LayerNorm(), Dense(4 * width, activation="gelu"), Dense(width)),
        lambda x: jnp.mean(x, axis=1),
    ]
    return block, (c["batch"], c["seq_len"], FEATURES)


def build(config: Mapping[str, Any], dtype: str = "float32") -> Built:
    """The model, batch input shape and class count of a configuration.

    Args:
        config: ``{"family": ..., <the family's fields>}`` (see :data:`FAMILIES`).
        dtype: The compute dtype (default ``"float32"``). For another dtype the model's first
            layer casts its float32 input to it (``fit`` takes float32 data only).

    Returns:
        A :class:`Built`; the model ends in ``Dense(NUM_CLASSES)`` logits.

    Raises:
        ValueError: See :func:`check_config`.

    Example:
        >>> b = build({"family": "fc", "layers": 2, "width": 16, "batch": 8})
        >>> b.x_shape, b.num_classes
        ((8, 32), 10)
    """
    check_config(config)
    family = config["family"]
    if family == "fc":
        body, x_shape = _fc(config)
    elif family in ("cnn", "resnet"):
        body, x_shape = _cnn(config, skip=family == "resnet")
    elif family == "attention":
        body, x_shape = _attention(config)
    else:
        body, x_shape = _rnn(config, {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}[family])
    if dtype != "float32":
        compute = jnp.dtype(dtype)

        def cast(x: Any) -> Any:
            return x.astype(compute)

        body = [cast, *body]
    return Built(serial(*body, Dense(NUM_CLASSES)), x_shape, NUM_CLASSES)


def activations_per_example(config: Mapping[str, Any]) -> int:
    """A rough count of the activations one example keeps for the backward pass.

    Used only to estimate memory before compiling (see :func:`jaxnn.bench.cost.estimate_memory`).

    Example:
        >>> activations_per_example({"family": "fc", "layers": 3, "width": 100, "batch": 1})
        342
    """
    c, family = config, config["family"]
    if family == "fc":
        return FEATURES + c["layers"] * c["width"] + NUM_CLASSES
    if family in ("cnn", "resnet"):
        return c["image"] ** 2 * (CHANNELS + 2 * c["depth"] * c["filters"])
    if family in ("rnn", "lstm", "gru"):
        gates = {"rnn": 1, "lstm": 4, "gru": 3}[family]
        return c["seq_len"] * (FEATURES + c["layers"] * (gates + 1) * c["hidden"])
    t, w = c["seq_len"], c["width"]
    return t * (FEATURES + 12 * w) + 2 * c["heads"] * t * t
