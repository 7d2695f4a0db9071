"""Keras 3 layers as jaxnn layers: one converter per Keras layer type, with its weights.

Each converter takes a layer's Keras config (the ``config`` entry of ``config.json``) and the
layer's weight arrays in the order Keras saves them, and returns the jaxnn layer (one of jaxnn's
own, so the result has a config and can be saved) with its params and state in jaxnn's layout.
An option jaxnn cannot express raises :class:`NotImplementedError` naming the layer and option.

Layouts agree except where noted: dense and convolution kernels are ``(D_in, D_out)`` and
``(*kernel_size, C_in / groups, C_out)`` in both; the LSTM gate order is i, f, c (jaxnn's g), o in
both; the GRU's gates are z, r, h (jaxnn's n) in both, and Keras' ``reset_after`` bias
``(2, 3U)`` is jaxnn's input bias ``b`` (row 0) and recurrent bias ``b_h`` (row 1);
RMSNormalization's ``scale`` is :func:`~jaxnn.layers.RMSNorm`'s ``gamma``. A depthwise kernel
``(K_h, K_w, C_in, M)`` becomes jaxnn's ``(K_h, K_w, 1, C_in M)`` by a reshape (output channel
``c M + m`` in both).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import activations
from jaxnn.core import Layer
from jaxnn.layers import (
    GRU,
    LSTM,
    Activation,
    AvgPool,
    BatchNorm,
    Conv1D,
    Conv2D,
    Conv3D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    Embedding,
    Flatten,
    GlobalAvgPool,
    GlobalMaxPool,
    GroupNorm,
    LayerNorm,
    MaxPool,
    Reshape,
    RMSNorm,
    SeparableConv2D,
    SimpleRNN,
)
from jaxnn.types import Params, State

__all__ = ["CONVERTERS", "activation", "convert_layer"]

logger = logging.getLogger(__name__)

Converted = tuple[Layer, Params, State]
Converter = Callable[[Mapping[str, Any], list[np.ndarray], str], Converted]

#: Keras activation names -> a jaxnn activation name, or a function where the defaults differ.
_ACTIVATIONS: dict[str, Any] = {
    **{n: n for n in ("relu", "relu6", "sigmoid", "hard_sigmoid", "tanh", "softmax", "elu",
                      "selu", "gelu", "softplus", "softsign", "silu", "swish", "mish",
                      "log_softmax")},
    "linear": None,
    "leaky_relu": functools.partial(activations.leaky_relu, negative_slope=0.2),  # Keras' default
    "hard_silu": jax.nn.hard_swish,
    "hard_swish": jax.nn.hard_swish,
}  # fmt: skip


def activation(value: Any, where: str, arg: str = "activation") -> Any:
    """The jaxnn activation for a Keras activation config: a name, a function or ``None``.

    Example:
        >>> activation("relu", "demo"), activation("linear", "demo")
        ('relu', None)
    """
    if isinstance(value, Mapping) and isinstance(value.get("config"), str):
        value = value["config"]  # a serialised function: {"class_name": "function", ...}
    if value is None or (isinstance(value, str) and value in _ACTIVATIONS):
        return None if value is None else _ACTIVATIONS[value]
    raise NotImplementedError(
        f"{where}: {arg}={value!r} has no jaxnn equivalent. Supported activations: "
        f"{', '.join(sorted(_ACTIVATIONS))}."
    )


def _require(cfg: Mapping[str, Any], where: str, **expected: Any) -> None:
    """Raises unless each option is absent or has the one value jaxnn can express."""
    for option, value in expected.items():
        got = cfg.get(option, value)
        allowed = value if isinstance(value, tuple) else (value,)
        if got not in allowed and not (isinstance(got, list) and tuple(got) in allowed):
            want = " or ".join(repr(v) for v in allowed)
            raise NotImplementedError(
                f"{where}: option {option}={got!r} is not supported; jaxnn can express only "
                f"{option}={want}."
            )


def _take(weights: list[np.ndarray], names: Sequence[str], where: str) -> list[jax.Array]:
    """The weight arrays, checked to be as many as ``names``."""
    if len(weights) != len(names):
        raise ValueError(
            f"{where}: the weights file holds {len(weights)} arrays for this layer; its config "
            f"needs {len(names)} ({', '.join(names) or 'none'}). The file is corrupt or was "
            f"written by an incompatible Keras version."
        )
    return [jnp.asarray(w) for w in weights]


def _ints(value: Any) -> tuple[int, ...] | int:
    return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else int(value)


def _dense(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    _require(cfg, where, lora_rank=None, quantization_config=None)
    use_bias = bool(cfg.get("use_bias", True))
    arrays = _take(weights, ("kernel", "bias") if use_bias else ("kernel",), where)
    phi = activation(cfg.get("activation"), where)
    layer = Dense(int(cfg["units"]), use_bias=use_bias, activation=phi, name=cfg["name"])
    return layer, dict(zip(("w", "b"), arrays, strict=False)), {}


def _conv(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str, rank: int) -> Converted:
    _require(cfg, where, data_format="channels_last", lora_rank=None)
    use_bias = bool(cfg.get("use_bias", True))
    arrays = _take(weights, ("kernel", "bias") if use_bias else ("kernel",), where)
    make = {1: Conv1D, 2: Conv2D, 3: Conv3D}[rank]
    layer = make(
        int(cfg["filters"]), _ints(cfg["kernel_size"]), strides=_ints(cfg.get("strides", 1)),
        padding=cfg.get("padding", "valid"), dilation=_ints(cfg.get("dilation_rate", 1)),
        groups=int(cfg.get("groups", 1)), use_bias=use_bias,
        activation=activation(cfg.get("activation"), where), name=cfg["name"],
    )  # fmt: skip
    return layer, dict(zip(("w", "b"), arrays, strict=False)), {}


def _depthwise_conv(
    cfg: Mapping[str, Any], weights: list[np.ndarray], where: str, separable: bool
) -> Converted:
    _require(cfg, where, data_format="channels_last")
    use_bias = bool(cfg.get("use_bias", True))
    kernels = ("depthwise_kernel", "pointwise_kernel") if separable else ("depthwise_kernel",)
    depthwise, *rest = _take(weights, kernels + ("bias",) * use_bias, where)
    # Keras' (K_h, K_w, C_in, M) -> (K_h, K_w, 1, C_in M): the same channel order c M + m.
    depthwise = depthwise.reshape(*depthwise.shape[:-2], 1, -1)
    options = dict(
        strides=_ints(cfg.get("strides", 1)), padding=cfg.get("padding", "valid"),
        dilation=_ints(cfg.get("dilation_rate", 1)),
        depth_multiplier=int(cfg.get("depth_multiplier", 1)), use_bias=use_bias,
        activation=activation(cfg.get("activation"), where), name=cfg["name"],
    )  # fmt: skip
    if not separable:
        layer = DepthwiseConv2D(_ints(cfg["kernel_size"]), **options)
        return layer, dict(zip(("w", "b"), [depthwise, *rest], strict=False)), {}
    layer = SeparableConv2D(int(cfg["filters"]), _ints(cfg["kernel_size"]), **options)
    pointwise = dict(zip(("w", "b"), rest, strict=False))
    return layer, {"depthwise": {"w": depthwise}, "pointwise": pointwise}, {}


def _pool(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str, kind: str) -> Converted:
    _require(cfg, where, data_format="channels_last")
    _take(weights, (), where)
    strides = cfg.get("strides")
    make = MaxPool if kind == "max" else AvgPool
    layer = make(
        _ints(cfg["pool_size"]),
        strides=None if strides is None else _ints(strides),
        padding=cfg.get("padding", "valid"),
        name=cfg["name"],
    )
    return layer, {}, {}


def _global_pool(
    cfg: Mapping[str, Any], weights: list[np.ndarray], where: str, kind: str
) -> Converted:
    _require(cfg, where, data_format="channels_last", keepdims=False)
    _take(weights, (), where)
    make = GlobalMaxPool if kind == "max" else GlobalAvgPool
    return make(name=cfg["name"]), {}, {}


def _normalization_axis(cfg: Mapping[str, Any], where: str) -> None:
    axis = cfg.get("axis", -1)
    if axis not in (-1, [-1]):
        raise NotImplementedError(
            f"{where}: option axis={axis!r} is not supported; jaxnn normalises over the last "
            f"axis only (axis=-1)."
        )


def _batch_norm(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    _normalization_axis(cfg, where)
    _require(cfg, where, renorm=False)
    scale, center = bool(cfg.get("scale", True)), bool(cfg.get("center", True))
    names = ("gamma",) * scale + ("beta",) * center + ("moving_mean", "moving_variance")
    arrays = dict(zip(names, _take(weights, names, where), strict=True))
    layer = BatchNorm(
        momentum=float(cfg.get("momentum", 0.99)), epsilon=float(cfg.get("epsilon", 1e-3)),
        use_scale=scale, use_bias=center, name=cfg["name"],
    )  # fmt: skip
    params: Params = {k: arrays[k] for k in ("gamma", "beta") if k in arrays}
    return layer, params, {"mean": arrays["moving_mean"], "var": arrays["moving_variance"]}


def _layer_norm(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    _normalization_axis(cfg, where)
    _require(cfg, where, rms_scaling=False)
    scale, center = bool(cfg.get("scale", True)), bool(cfg.get("center", True))
    names = ("gamma",) * scale + ("beta",) * center
    layer = LayerNorm(
        epsilon=float(cfg.get("epsilon", 1e-3)), use_scale=scale, use_bias=center,
        name=cfg["name"],
    )  # fmt: skip
    return layer, dict(zip(names, _take(weights, names, where), strict=True)), {}


def _rms_norm(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    # Keras' RMSNormalization always learns its "scale" (jaxnn's gamma); axis -1 or a list.
    axis = cfg.get("axis", -1)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    if not axes or not all(isinstance(a, int) and a < 0 for a in axes):
        raise NotImplementedError(
            f"{where}: option axis={axis!r} is not supported; jaxnn's RMSNorm takes axes counted "
            f"from the end (negative), such as -1 or [-2, -1]."
        )
    (scale,) = _take(weights, ("scale",), where)
    layer = RMSNorm(
        epsilon=float(cfg.get("epsilon", 1e-6)), axis=axes[0] if len(axes) == 1 else axes,
        name=cfg["name"],
    )  # fmt: skip
    return layer, {"gamma": scale}, {}


def _group_norm(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    _normalization_axis(cfg, where)
    scale, center = bool(cfg.get("scale", True)), bool(cfg.get("center", True))
    names = ("gamma",) * scale + ("beta",) * center
    layer = GroupNorm(
        int(cfg.get("groups", 32)), epsilon=float(cfg.get("epsilon", 1e-3)), use_scale=scale,
        use_bias=center, name=cfg["name"],
    )  # fmt: skip
    return layer, dict(zip(names, _take(weights, names, where), strict=True)), {}


def _embedding(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    _require(cfg, where, lora_rank=None, quantization_config=None)
    (table,) = _take(weights, ("embeddings",), where)
    layer = Embedding(
        int(cfg["input_dim"]), int(cfg["output_dim"]), mask_zero=bool(cfg.get("mask_zero")),
        name=cfg["name"],
    )  # fmt: skip
    return layer, {"embedding": table}, {}


def _recurrent(
    cfg: Mapping[str, Any], weights: list[np.ndarray], where: str, kind: str
) -> Converted:
    _require(cfg, where, activation="tanh", return_state=False, stateful=False)
    if kind != "SimpleRNN":
        _require(cfg, where, recurrent_activation="sigmoid")
    if cfg.get("go_backwards") and cfg.get("return_sequences"):
        raise NotImplementedError(
            f"{where}: go_backwards=True with return_sequences=True is not supported: Keras "
            f"returns the outputs in reversed time order, jaxnn's reverse=True in input order."
        )
    if cfg.get("dropout") or cfg.get("recurrent_dropout"):
        logger.warning(
            "%s: dropout=%s and recurrent_dropout=%s act only in training and are not converted.",
            where, cfg.get("dropout"), cfg.get("recurrent_dropout"),
        )  # fmt: skip
    units, gates = int(cfg["units"]), {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[kind]
    use_bias = bool(cfg.get("use_bias", True))
    reset_after = kind == "GRU" and bool(cfg.get("reset_after", True))
    names = ("kernel", "recurrent_kernel") + ("bias",) * use_bias
    w_x, w_h, *bias = _take(weights, names, where)
    params = {"w_x": w_x, "w_h": w_h}
    b = bias[0] if use_bias else jnp.zeros((2, gates * units) if reset_after else (gates * units,))
    params.update({"b": b[0], "b_h": b[1]} if reset_after else {"b": b})
    options = {"return_sequences": bool(cfg.get("return_sequences")),
               "reverse": bool(cfg.get("go_backwards")), "name": cfg["name"]}  # fmt: skip
    if kind == "GRU":
        return GRU(units, reset_after=reset_after, **options), params, {}
    return (LSTM if kind == "LSTM" else SimpleRNN)(units, **options), params, {}


def _stateless(layer: Layer) -> Callable[[list[np.ndarray], str], Converted]:
    def convert(weights: list[np.ndarray], where: str) -> Converted:
        _take(weights, (), where)
        return layer, {}, {}

    return convert


def _activation_layer(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    phi = activation(cfg.get("activation"), where)
    return _stateless(Activation(phi or "linear", name=cfg["name"]))(weights, where)


def _relu(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    max_value, slope = cfg.get("max_value"), float(cfg.get("negative_slope", 0.0))
    _require(cfg, where, threshold=(0, 0.0))
    if max_value is None and slope == 0.0:
        phi: Any = "relu"
    elif max_value is None:
        phi = functools.partial(activations.leaky_relu, negative_slope=slope)
    elif max_value == 6 and slope == 0.0:
        phi = "relu6"
    else:
        raise NotImplementedError(
            f"{where}: option max_value={max_value!r} (with negative_slope={slope}) is not "
            f"supported; jaxnn can express max_value=None or max_value=6 without a slope."
        )
    return _stateless(Activation(phi, name=cfg["name"]))(weights, where)


def _leaky_relu(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    slope = float(cfg.get("negative_slope", cfg.get("alpha", 0.3)))
    phi = functools.partial(activations.leaky_relu, negative_slope=slope)
    return _stateless(Activation(phi, name=cfg["name"]))(weights, where)


def _elu(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    alpha = float(cfg.get("alpha", 1.0))
    phi = "elu" if alpha == 1.0 else functools.partial(activations.elu, alpha=alpha)
    return _stateless(Activation(phi, name=cfg["name"]))(weights, where)


def _softmax(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    _require(cfg, where, axis=(-1, (-1,)))
    return _stateless(Activation("softmax", name=cfg["name"]))(weights, where)


def _dropout(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    _require(cfg, where, noise_shape=None)
    return _stateless(Dropout(float(cfg["rate"]), name=cfg["name"]))(weights, where)


def _flatten(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    _require(cfg, where, data_format=(None, "channels_last"))
    return _stateless(Flatten(name=cfg["name"]))(weights, where)


def _reshape(cfg: Mapping[str, Any], weights: list[np.ndarray], where: str) -> Converted:
    target = tuple(-1 if d is None else int(d) for d in cfg["target_shape"])
    return _stateless(Reshape(target, name=cfg["name"]))(weights, where)


#: Keras class name -> converter ``(config, weights, where) -> (layer, params, state)``.
CONVERTERS: dict[str, Converter] = {
    "Activation": _activation_layer,
    "AveragePooling1D": functools.partial(_pool, kind="avg"),
    "AveragePooling2D": functools.partial(_pool, kind="avg"),
    "BatchNormalization": _batch_norm,
    "Conv1D": functools.partial(_conv, rank=1),
    "Conv2D": functools.partial(_conv, rank=2),
    "Conv3D": functools.partial(_conv, rank=3),
    "Dense": _dense,
    "DepthwiseConv2D": functools.partial(_depthwise_conv, separable=False),
    "Dropout": _dropout,
    "ELU": _elu,
    "Embedding": _embedding,
    "Flatten": _flatten,
    "GRU": functools.partial(_recurrent, kind="GRU"),
    "GlobalAveragePooling1D": functools.partial(_global_pool, kind="avg"),
    "GlobalAveragePooling2D": functools.partial(_global_pool, kind="avg"),
    "GlobalMaxPooling1D": functools.partial(_global_pool, kind="max"),
    "GlobalMaxPooling2D": functools.partial(_global_pool, kind="max"),
    "GroupNormalization": _group_norm,
    "LSTM": functools.partial(_recurrent, kind="LSTM"),
    "LayerNormalization": _layer_norm,
    "LeakyReLU": _leaky_relu,
    "MaxPooling1D": functools.partial(_pool, kind="max"),
    "MaxPooling2D": functools.partial(_pool, kind="max"),
    "RMSNormalization": _rms_norm,
    "ReLU": _relu,
    "Reshape": _reshape,
    "SeparableConv2D": functools.partial(_depthwise_conv, separable=True),
    "SimpleRNN": functools.partial(_recurrent, kind="SimpleRNN"),
    "Softmax": _softmax,
}


def convert_layer(class_name: str, cfg: Mapping[str, Any], weights: list[np.ndarray]) -> Converted:
    """Converts one Keras layer (its class name, config and weight arrays) to jaxnn.

    Returns:
        ``(layer, params, state)``: one of jaxnn's layers, named as the Keras layer.

    Raises:
        NotImplementedError: For a layer type or option jaxnn cannot express; the message names
            the layer and lists the supported types.
        ValueError: For a number of weight arrays that does not fit the layer's config.

    Example:
        >>> import numpy as np
        >>> cfg = {"name": "dense", "units": 2, "activation": "relu"}
        >>> layer, params, state = convert_layer("Dense", cfg, [np.ones((3, 2)), np.zeros(2)])
        >>> layer.config["activation"], params["w"].shape, state
        ('relu', (3, 2), {})
    """
    where = f"Keras layer '{cfg.get('name', '?')}' ({class_name})"
    converter = CONVERTERS.get(class_name)
    if converter is None:
        raise NotImplementedError(
            f"{where}: this layer type has no jaxnn equivalent. Supported Keras layers: "
            f"{', '.join(sorted([*CONVERTERS, 'InputLayer']))}."
        )
    return converter(cfg, weights, where)
