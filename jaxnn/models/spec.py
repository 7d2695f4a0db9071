"""The model spec language: a short text naming layers, ``dense(64,relu) ...``.

``jaxnn train --model`` takes it (:mod:`jaxnn.cli.spec` re-exports this module), and so does
:func:`jaxnn.search`, whose value sets and placeholders are filled in before the text is parsed.

Grammar (whitespace or commas between layers; names are case-insensitive, ``_`` optional)::

    spec  := layer ((" " | ",") layer)*
    layer := NAME | NAME "(" [arg ("," arg)*] ")"
    arg   := value | NAME "=" value
    value := NUMBER | NAME | 'text' | "text" | "(" [value ("," value)*] ")"

A bare activation name (``relu``, ``tanh`` ...) is an activation layer. Values ``true``,
``false`` and ``none`` are Python's ``True``, ``False`` and ``None``; other names are strings
(``relu``, ``same``); ``(3, 3)`` is a tuple. Positional arguments follow each layer's table entry
below (``dense(units, activation)``, ``conv2d(filters, kernel_size, activation)``,
``depthwise_conv2d(kernel_size, activation)``); keyword arguments are the layer constructor's
own (``conv2d(32, 3, padding=same, strides=2)``). ``char_transformer(vocab_size, ...)`` is the
whole decoder-only language model of :func:`jaxnn.lm.char_transformer` as one item
(``char_transformer(98, max_length=64, width=128, layers=4)``).

Every error is a :class:`SpecError` whose message points at the bad text with a caret line.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from jaxnn import activations, layers, lm
from jaxnn.combinators import serial
from jaxnn.core import Layer

__all__ = ["LAYERS", "LayerSpec", "SpecError", "build", "known_names", "parse", "unknown_name"]


def unknown_name(kind: str, name: str, known: Iterable[str], *, plural: str = "") -> str:
    """The message for an unknown name: the closest known names, then all of them, sorted.

    Example:
        >>> print(unknown_name("layer", "desne", ["dense", "dropout"]))
        unknown layer 'desne'. Did you mean 'dense'? Known layers: dense, dropout.
    """
    known = sorted(set(known))
    lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(lower[c]) for c in close)}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Known {plural or kind + 's'}: {', '.join(known)}."


class SpecError(ValueError):
    """A model spec that does not parse or names something unknown.

    Attributes:
        position: Where the bad text starts (0-based character index).
        length: How many characters it spans (at least 1).
    """

    def __init__(self, message: str, spec: str, position: int, length: int = 1) -> None:
        """Builds the message: the reason, then the spec with a caret line under the bad text."""
        shown = re.sub(r"\s", " ", spec)
        carets = " " * position + "^" * max(length, 1)
        super().__init__(
            f"model spec, column {position + 1}: {message}\n  {shown}\n  {carets}".rstrip()
        )
        self.position, self.length = position, max(length, 1)


class LayerSpec(NamedTuple):
    """One parsed layer: its name (lower case), arguments, and where each part stands.

    Attributes:
        name: The layer or activation name as written, in lower case.
        args: The positional values.
        kwargs: The keyword values.
        start: Where the item starts in the spec (0-based).
        end: Where it ends (exclusive).
        spans: ``(start, end)`` of each value, keyed by its position (``int``) or keyword
            (``str``), and of each keyword's name, keyed ``("key", name)``.
    """

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    start: int
    end: int
    spans: dict[Any, tuple[int, int]]


class _Kind(NamedTuple):
    constructor: Callable[..., Layer]
    positional: tuple[str, ...]  # "*name" takes every positional argument as one tuple


_CONV = ("filters", "kernel_size", "activation")
LAYERS: dict[str, _Kind] = {
    "dense": _Kind(layers.Dense, ("units", "activation")),
    "dropout": _Kind(layers.Dropout, ("drop_rate",)),
    "conv1d": _Kind(layers.Conv1D, _CONV),
    "conv2d": _Kind(layers.Conv2D, _CONV),
    "conv3d": _Kind(layers.Conv3D, _CONV),
    "conv2d_transpose": _Kind(layers.Conv2DTranspose, _CONV),
    "depthwise_conv2d": _Kind(layers.DepthwiseConv2D, ("kernel_size", "activation")),
    "separable_conv2d": _Kind(layers.SeparableConv2D, _CONV),
    "max_pool": _Kind(layers.MaxPool, ("window",)),
    "avg_pool": _Kind(layers.AvgPool, ("window",)),
    "global_avg_pool": _Kind(layers.GlobalAvgPool, ()),
    "global_max_pool": _Kind(layers.GlobalMaxPool, ()),
    "up_sampling": _Kind(layers.UpSampling, ("size",)),
    "flatten": _Kind(layers.Flatten, ()),
    "reshape": _Kind(layers.Reshape, ("*target_shape",)),
    "batch_norm": _Kind(layers.BatchNorm, ()),
    "layer_norm": _Kind(layers.LayerNorm, ()),
    "rms_norm": _Kind(layers.RMSNorm, ()),
    "group_norm": _Kind(layers.GroupNorm, ("groups",)),
    "embedding": _Kind(layers.Embedding, ("num_embeddings", "features")),
    "simple_rnn": _Kind(layers.SimpleRNN, ("units",)),
    "lstm": _Kind(layers.LSTM, ("units",)),
    "gru": _Kind(layers.GRU, ("units",)),
    "activation": _Kind(layers.Activation, ("activation",)),
    "positional_embedding": _Kind(layers.PositionalEmbedding, ("max_length",)),
    "transformer_block": _Kind(layers.TransformerBlock, ("num_heads",)),
    "char_transformer": _Kind(lm.char_transformer, ("vocab_size",)),
}
# Items that build a whole model: a spec of one of them alone is that model, not serial(model).
_MODELS = frozenset({"char_transformer"})
# Other spellings: without underscores (maxpool, batchnorm), Keras' and PyTorch's names.
_ALIASES = {
    **{name.replace("_", ""): name for name in LAYERS},
    **{f"{p}pool{r}d": f"{p}_pool" for p in ("max", "avg") for r in (1, 2, 3)},
    "rnn": "simple_rnn",
    "batchnormalization": "batch_norm",
    "layernormalization": "layer_norm",
    "rmsnormalization": "rms_norm",
    "groupnormalization": "group_norm",
    "globalaveragepooling": "global_avg_pool",
}

_TOKEN = re.compile(
    r"(?P<space>\s+)|(?P<number>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<string>'[^']*'|\"[^\"]*\")|(?P<punct>[(),=])"
)


class _Token(NamedTuple):
    kind: str  # "number", "name", "string", "(", ")", ",", "=", "end"
    text: str
    start: int


def _tokens(spec: str) -> list[_Token]:
    """Splits ``spec`` into tokens; anything else is an error at its column."""
    result, i = [], 0
    while i < len(spec):
        match = _TOKEN.match(spec, i)
        if match is None:
            quote = spec[i] in "'\""
            what = "a quote that is never closed" if quote else f"unexpected character {spec[i]!r}"
            raise SpecError(what, spec, i, len(spec) - i if quote else 1)
        kind = match.lastgroup or ""
        if kind != "space":
            result.append(_Token(match.group() if kind == "punct" else kind, match.group(), i))
        i = match.end()
    return [*result, _Token("end", "", len(spec))]


class _Parser:
    """A recursive-descent parser over the tokens of one spec."""

    def __init__(self, spec: str) -> None:
        self.spec, self.tokens, self.i = spec, _tokens(spec), 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def fail(self, message: str, token: _Token) -> SpecError:
        return SpecError(message, self.spec, token.start, len(token.text))

    def take(self, kind: str, expected: str) -> _Token:
        token = self.peek()
        if token.kind != kind:
            found = "the end of the spec" if token.kind == "end" else repr(token.text)
            raise self.fail(f"expected {expected}, found {found}", token)
        self.i += 1
        return token

    def layers(self) -> list[LayerSpec]:
        result = []
        while self.peek().kind != "end":
            result.append(self.layer())
            if self.peek().kind == ",":
                self.i += 1
        if not result:
            raise self.fail("the spec names no layer, e.g. 'dense(64,relu) dense(10)'", self.peek())
        return result

    def layer(self) -> LayerSpec:
        name = self.take("name", "a layer name such as dense")
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        spans: dict[Any, tuple[int, int]] = {}
        if self.peek().kind == "(":
            self.i += 1
            while self.peek().kind != ")":
                self.argument(args, kwargs, spans)
                if self.peek().kind != ")":
                    self.take(",", "',' or ')'")
            self.i += 1
        end = self.tokens[self.i - 1]
        return LayerSpec(
            name.text.lower(), tuple(args), kwargs, name.start, end.start + len(end.text), spans
        )

    def argument(self, args: list, kwargs: dict, spans: dict) -> None:
        token = self.peek()
        if token.kind == "name" and self.peek(1).kind == "=":
            if token.text in kwargs:
                raise self.fail(f"{token.text}= is given twice", token)
            self.i += 2
            start = self.peek().start
            kwargs[token.text] = self.value()
            spans[token.text] = (start, self.peek(-1).start + len(self.peek(-1).text))
            spans["key", token.text] = (token.start, token.start + len(token.text))
        elif kwargs:
            raise self.fail("a positional argument follows a keyword argument", token)
        else:
            args.append(self.value())
            spans[len(args) - 1] = (token.start, self.peek(-1).start + len(self.peek(-1).text))

    def value(self) -> Any:
        token = self.peek()
        if token.kind in ("number", "name", "string"):
            self.i += 1
            return _literal(token)
        self.take("(", "a value (a number, a name or a tuple)")
        items = []
        while self.peek().kind != ")":
            items.append(self.value())
            if self.peek().kind != ")":
                self.take(",", "',' or ')'")
        self.i += 1
        return tuple(items)


def _literal(token: _Token) -> Any:
    if token.kind == "string":
        return token.text[1:-1]
    if token.kind == "name":
        return {"true": True, "false": False, "none": None}.get(token.text.lower(), token.text)
    number = float(token.text)
    return int(number) if re.fullmatch(r"[-+]?\d+", token.text) else number


def parse(spec: str) -> list[LayerSpec]:
    """Parses a model spec into layer specs, without checking the names.

    Args:
        spec: The text, e.g. ``"dense(64, relu) dropout(0.2) dense(10)"``.

    Returns:
        One :class:`LayerSpec` per layer, in order.

    Raises:
        SpecError: For text that does not parse; the message points at it.

    Example:
        >>> [(s.name, s.args, s.kwargs) for s in parse("Dense(64, activation=relu) dropout(.2)")]
        [('dense', (64,), {'activation': 'relu'}), ('dropout', (0.2,), {})]
        >>> parse("conv2d(32, (3, 3)) flatten")[0].args
        (32, (3, 3))
        >>> parse("dense(64,, relu)")
        Traceback (most recent call last):
        ...
        jaxnn.models.spec.SpecError: model spec, column 10: expected a value (...), found ','
          dense(64,, relu)
                   ^
    """
    return _Parser(spec).layers()


def known_names() -> list[str]:
    """Every name a spec may use for a layer: the layer types, then the activations."""
    return sorted(LAYERS) + activations.names()


def _canonical(name: str) -> str | None:
    if name in LAYERS:
        return name
    return _ALIASES.get(name.replace("_", ""))


def _fail(message: str, spec: str, span: tuple[int, int]) -> SpecError:
    return SpecError(message, spec, span[0], span[1] - span[0])


def _arguments(kind: _Kind, item: LayerSpec, spec: str) -> dict[str, Any]:
    """The constructor's keyword arguments from the spec's positional and keyword ones."""
    where, whole = f"{item.name}(...)", (item.start, item.end)
    if kind.positional[:1] and kind.positional[0].startswith("*"):
        named = {kind.positional[0][1:]: item.args} if item.args else {}
    elif len(item.args) > len(kind.positional):
        allowed = ", ".join(kind.positional) or "none"
        message = (
            f"{where} takes at most {len(kind.positional)} positional arguments ({allowed}); "
            f"got {len(item.args)}"
        )
        raise _fail(message, spec, item.spans.get(len(kind.positional), whole))
    else:
        named = dict(zip(kind.positional, item.args, strict=False))
    accepted = [p for p in inspect.signature(kind.constructor).parameters if p != "name"]
    for key in item.kwargs:
        if key in named:
            message = f"{where}: {key}= is already given by position"
        elif key not in accepted:
            message = f"{where}: " + unknown_name("argument", key, accepted)
        else:
            continue
        raise _fail(message, spec, item.spans.get(("key", key), whole))
    return {**named, **item.kwargs}


def _check_activation(kwargs: dict[str, Any], kind: _Kind, item: LayerSpec, spec: str) -> None:
    value = kwargs.get("activation")
    if isinstance(value, str) and value.lower() not in activations.names():
        key = "activation" if "activation" in item.kwargs else kind.positional.index("activation")
        span = item.spans.get(key, (item.start, item.end))
        raise _fail(unknown_name("activation", value, activations.names()), spec, span)


def _layer(item: LayerSpec, spec: str) -> Layer:
    """The layer one spec item names, with its arguments checked."""
    whole = (item.start, item.end)
    name = _canonical(item.name)
    if name is None:
        if item.name in activations.names() and not item.args and not item.kwargs:
            return layers.Activation(item.name)
        message = unknown_name("layer", item.name, known_names(), plural="layers and activations")
        raise _fail(message, spec, (item.start, item.start + len(item.name)))
    kind = LAYERS[name]
    kwargs = _arguments(kind, item, spec)
    _check_activation(kwargs, kind, item, spec)
    parameters = inspect.signature(kind.constructor).parameters.values()
    missing = [p.name for p in parameters if p.default is p.empty and p.name not in kwargs]
    if missing:
        example = ", ".join(f"{m}=..." for m in missing)
        raise _fail(
            f"{item.name}(...) needs {', '.join(missing)}, e.g. {item.name}({example})", spec, whole
        )
    try:
        return kind.constructor(**kwargs)
    except (TypeError, ValueError) as error:
        raise _fail(str(error), spec, whole) from None


def build(spec: str) -> Layer:
    """Builds the model a spec describes: ``serial`` of its layers.

    Args:
        spec: The text, e.g. ``"conv2d(32,3,relu) maxpool(2) flatten dense(10)"``.

    Returns:
        The :class:`~jaxnn.Layer`.

    Raises:
        SpecError: For text that does not parse, an unknown layer, activation or argument
            name (the closest names suggested and the known ones listed), too many or missing
            arguments, or values the layer rejects; the message points at the bad text.

    Example:
        >>> import jax
        >>> model = build("dense(16, relu) dropout(0.1) tanh dense(3)")
        >>> model.init(jax.random.key(0), (-1, 4))[0]
        (-1, 3)
        >>> build("char_transformer(10, max_length=8, width=8)").init(jax.random.key(0), (-1, 8))[0]
        (-1, 8, 10)
        >>> build("dense(16) rleu")
        Traceback (most recent call last):
        ...
        jaxnn.models.spec.SpecError: model spec, column 11: unknown layer 'rleu'. Did you mean ...
    """
    items = parse(spec)
    built = [_layer(item, spec) for item in items]
    if len(built) == 1 and _canonical(items[0].name) in _MODELS:
        return built[0]  # a whole model alone: as its function builds it, for jaxnn.lm.sample
    return serial(*built)
