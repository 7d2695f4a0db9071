"""Model families for the sweep (ParaDnn style), built from jaxnn's own layers.

Each configuration is a family name plus its hyperparameters; :func:`build` turns it into a
model and the shapes of one batch. The data is synthetic, drawn from a fixed seed, so every
backend trains the same numbers. Every model trains with softmax cross-entropy.

Families: ``fc`` (layers x width x batch), ``cnn`` and ``resnet`` (depth x filters x image x
batch, plain or residual), ``rnn``, ``lstm``, ``gru`` (layers x hidden x seq_len x batch),
``attention`` (one transformer block over float features, pooled to one class per sequence:
heads x width x seq_len x batch) and ``transformer`` (the whole causal language model of
:func:`jaxnn.lm.char_transformer` over :data:`VOCAB` token ids, a next-token label at every
position: layers x width x heads x seq_len x batch).

The precision (float32, bfloat16, mixed_bfloat16, mixed_float16) is not part of the model: the
train step applies the policy (:func:`jaxnn.precision.apply_policy`), as ``fit`` does for users.
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
from jaxnn.lm import char_transformer
from jaxnn.precision import POLICIES, Policy, apply_policy
from jaxnn.precision import get as get_policy

__all__ = [
    "FAMILIES",
    "LEGACY_DTYPES",
    "PRECISIONS",
    "Built",
    "activations_per_example",
    "build",
    "check_config",
    "resolve_precision",
]

NUM_CLASSES = 10
FEATURES = 32  # input features of fc, rnn and attention models
CHANNELS = 3  # input channels of the image models
VOCAB = 96  # token ids of the transformer family (printable ASCII and a few more, as a char LM)

# Hyperparameters of each family (every one required), in the order records print them.
FAMILIES: dict[str, tuple[str, ...]] = {
    "fc": ("layers", "width", "batch"),
    "cnn": ("depth", "filters", "image", "batch"),
    "resnet": ("depth", "filters", "image", "batch"),
    "rnn": ("layers", "hidden", "seq_len", "batch"),
    "lstm": ("layers", "hidden", "seq_len", "batch"),
    "gru": ("layers", "hidden", "seq_len", "batch"),
    "attention": ("heads", "width", "seq_len", "batch"),
    "transformer": ("layers", "width", "heads", "seq_len", "batch"),
}


PRECISIONS = tuple(POLICIES)  # float32, bfloat16, mixed_bfloat16, mixed_float16
# The dtypes of `jaxnn bench --dtype` before precision policies, and the policy each now runs.
# float16 had no float32 master weights and no loss scaling; it now means mixed_float16.
LEGACY_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "mixed_float16"}


def resolve_precision(precision: str) -> Policy:
    """The precision policy the benchmark runs for a policy name or an older dtype name.

    Raises:
        ValueError: For another name, listing the policies and the dtype names.

    Example:
        >>> resolve_precision("mixed_bfloat16").compute_dtype, resolve_precision("float16").name
        ('bfloat16', 'mixed_float16')
        >>> resolve_precision("fp8")
        Traceback (most recent call last):
        ...
        ValueError: bench: unknown precision 'fp8'; known: float32, bfloat16, mixed_bfloat16, mixed_float16 (and the dtype float16, run as mixed_float16).
    """  # noqa: E501
    if precision in POLICIES:
        return get_policy(precision, where="bench")
    if precision in LEGACY_DTYPES:
        return get_policy(LEGACY_DTYPES[precision], where="bench")
    raise ValueError(
        f"bench: unknown precision {precision!r}; known: {', '.join(PRECISIONS)} (and the dtype "
        f"float16, run as mixed_float16)."
    )


class Built(NamedTuple):
    """A family's model on one batch.

    Attributes:
        model: The model: logits ``(N, num_classes)``, or ``(N, T, num_classes)`` for tokens.
        x_shape: The input shape of one batch, batch axis first.
        num_classes: The number of classes of the integer labels.
        tokens: Whether the inputs are int32 token ids in ``[0, num_classes)`` with a label at
            every position, ``(N, T)`` (the ``transformer`` family), rather than float32
            features with one label per example, ``(N,)``.
    """

    model: Layer
    x_shape: tuple[int, ...]
    num_classes: int
    tokens: bool = False

    @property
    def y_shape(self) -> tuple[int, ...]:
        """The shape of one batch of integer labels."""
        return self.x_shape if self.tokens else self.x_shape[:1]


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
        ValueError: bench: unknown model family 'mlp'; known: attention, cnn, fc, gru, lstm, resnet, rnn, transformer.
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
    if family in ("attention", "transformer") and config["width"] % config["heads"]:
        raise ValueError(
            f"bench: {family} width {config['width']} must be a multiple of heads "
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


def _transformer(c: Mapping[str, int]) -> Layer:
    return char_transformer(
        VOCAB,
        max_length=c["seq_len"],
        width=c["width"],
        num_heads=c["heads"],
        layers=c["layers"],
    )


def build(config: Mapping[str, Any], precision: str | None = None) -> Built:
    """The model, batch input shape and class count of a configuration.

    Args:
        config: ``{"family": ..., <the family's fields>}`` (see :data:`FAMILIES`).
        precision: ``None`` (default): the float32 model, which the benchmark trains under a
            policy with ``make_train_step(..., precision=...)`` and ``fit(..., precision=...)``.
            A policy name (``"bfloat16"``, ``"mixed_bfloat16"`` ...): the model wrapped in
            :func:`jaxnn.precision.apply_policy`, computing in the policy's dtype with float32
            outputs, to inspect what the benchmark runs.

    Returns:
        A :class:`Built`; the model ends in ``Dense(NUM_CLASSES)`` logits, or the language
        model's ``Dense(VOCAB)`` logits at every position for ``transformer``.

    Raises:
        ValueError: See :func:`check_config`; an unknown precision.

    Example:
        >>> b = build({"family": "fc", "layers": 2, "width": 16, "batch": 8})
        >>> b.x_shape, b.num_classes, b.y_shape
        ((8, 32), 10, (8,))
        >>> import jax
        >>> t = build({"family": "transformer", "layers": 2, "width": 32, "heads": 4,
        ...            "seq_len": 16, "batch": 8})
        >>> t.x_shape, t.num_classes, t.tokens, t.model.init(jax.random.key(0), t.x_shape)[0]
        ((8, 16), 96, True, (8, 16, 96))
    """
    check_config(config)
    family = config["family"]
    if family == "transformer":
        built = Built(_transformer(config), (config["batch"], config["seq_len"]), VOCAB, True)
    else:
        if family == "fc":
            body, x_shape = _fc(config)
        elif family in ("cnn", "resnet"):
            body, x_shape = _cnn(config, skip=family == "resnet")
        elif family == "attention":
            body, x_shape = _attention(config)
        else:
            body, x_shape = _rnn(config, {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}[family])
        built = Built(serial(*body, Dense(NUM_CLASSES)), x_shape, NUM_CLASSES)
    if precision is None:
        return built
    return built._replace(model=apply_policy(built.model, precision))


def activations_per_example(config: Mapping[str, Any]) -> int:
    """A rough count of the activations one example keeps for the backward pass.

    Used only to estimate memory before compiling (see :func:`jaxnn.bench.cost.estimate_memory`).

    Example:
        >>> activations_per_example({"family": "fc", "layers": 3, "width": 100, "batch": 1})
        342
        >>> activations_per_example({"family": "transformer", "layers": 1, "width": 8,
        ...                          "heads": 2, "seq_len": 4, "batch": 1})  # 4*(8+96+192) + 64
        1248
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
    if family == "transformer":  # per block as one attention block; the logits and their softmax
        return t * (w + c["layers"] * 12 * w + 2 * VOCAB) + c["layers"] * 2 * c["heads"] * t * t
    return t * (FEATURES + 12 * w) + 2 * c["heads"] * t * t
