r"""Convolutions over channels-last inputs: Conv1D, Conv2D, Conv3D.

Built on :func:`jax.lax.conv_general_dilated`. Inputs are ``(N, *spatial, C_in)`` and kernels
``(*kernel_size, C_in / groups, C_out)``. For each spatial axis of length :math:`n`, kernel
:math:`k`, stride :math:`s`, dilation :math:`d` and padding :math:`(p_0, p_1)`:

.. math:: n_{out} = \left\lfloor \frac{n + p_0 + p_1 - d (k - 1) - 1}{s} \right\rfloor + 1

(:func:`output_length`, the one place this formula is written).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn import activations, initializers
from jaxnn.core import Layer, as_shape, check_key, check_positive_int, expand_to
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["Conv1D", "Conv2D", "Conv3D", "output_length", "per_axis", "resolve_padding"]

_PADDINGS = ("causal", "same", "valid")


def output_length(n: int, kernel: int, stride: int, dilation: int, pad: tuple[int, int]) -> int:
    """The output length of one spatial axis (``-1`` stays unknown).

    Example:
        >>> output_length(28, 3, 1, 1, (0, 0)), output_length(28, 3, 2, 1, (1, 1))
        (26, 14)
    """
    if n == -1:
        return -1
    return (n + pad[0] + pad[1] - dilation * (kernel - 1) - 1) // stride + 1


def resolve_padding(
    padding: Any,
    n: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    where: str,
) -> list[tuple[int, int]]:
    """Explicit ``(before, after)`` pads per spatial axis from a name or pairs.

    ``"valid"`` pads nothing; ``"same"`` pads so that the output length is ``ceil(n / stride)``
    (the extra pixel after, as TensorFlow); ``"causal"`` (1-D only) pads ``d (k - 1)`` before, so
    no output sees a later input.
    """
    rank = len(kernel)
    if isinstance(padding, str):
        name = padding.lower()
        if name not in _PADDINGS:
            raise ValueError(
                f"{where}: padding must be one of {list(_PADDINGS)} or (before, after) pairs; "
                f"got {padding!r}."
            )
        if name == "valid":
            return [(0, 0)] * rank
        if name == "causal":
            if rank != 1:
                raise ValueError(f"{where}: padding='causal' is for 1-D convolutions only.")
            return [(dilation[0] * (kernel[0] - 1), 0)]
        pads = []
        for size, k, s, d in zip(n, kernel, stride, dilation, strict=True):
            span = d * (k - 1) + 1
            total = max((math.ceil(size / s) - 1) * s + span - size, 0) if size != -1 else span - 1
            pads.append((total // 2, total - total // 2))
        return pads
    pairs = [tuple(p) for p in padding] if isinstance(padding, (list, tuple)) else None
    if pairs is None or len(pairs) != rank or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise ValueError(
            f"{where}: explicit padding must be {rank} (before, after) pairs of ints >= 0; "
            f"got {padding!r}."
        )
    return [(int(a), int(b)) for a, b in pairs]


def per_axis(value: Any, rank: int, where: str, arg: str, context: str = "") -> tuple[int, ...]:
    """``value`` as ``rank`` ints >= 1: an int repeats, a sequence must have ``rank`` entries.

    Example:
        >>> per_axis(2, 3, "demo", "strides"), per_axis((1, 2), 2, "demo", "strides")
        ((2, 2, 2), (1, 2))
    """
    values = (
        (value,) * rank if isinstance(value, int) and not isinstance(value, bool) else tuple(value)
    )
    if len(values) != rank:
        raise ValueError(f"{where}: {arg} must be an int or {rank} ints{context}; got {value!r}.")
    for v in values:
        check_positive_int(v, where=where, arg=arg)
    return values


def _conv(
    rank: int,
    kind: str,
    filters: int,
    kernel_size: Any,
    *,
    strides: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    use_bias: bool,
    activation: str | Callable[[Array], Array] | None,
    kernel_init: str | Callable[..., Array],
    bias_init: str | Callable[..., Array],
    dtype: Any,
    name: str,
) -> Layer:
    where = f"{kind} '{name}'"
    check_positive_int(filters, where=where, arg="filters")
    check_positive_int(groups, where=where, arg="groups")
    kernel = per_axis(kernel_size, rank, where, "kernel_size")
    stride = per_axis(strides, rank, where, "strides")
    dil = per_axis(dilation, rank, where, "dilation")
    if filters % groups:
        raise ValueError(f"{where}: filters ({filters}) must be divisible by groups ({groups}).")
    phi = None if activation is None else activations.get(activation)
    w_init = initializers.get(kernel_init, where=f"{where} kernel_init")
    b_init = initializers.get(bias_init, where=f"{where} bias_init")
    layout = "N" + "DHW"[3 - rank :] + "C"
    dimension_numbers = (layout, "DHW"[3 - rank :] + "IO", layout)

    axes = ", ".join("DHW"[3 - rank :])

    def check_input(shape: Shape) -> tuple[int, list[tuple[int, int]]]:
        if len(shape) != rank + 2:
            raise ValueError(
                f"{where}: input_shape must be (N, {axes}, C) channels-last with a batch axis "
                f"({rank + 2} axes); got {shape}. For NCHW data, move the channel "
                f"axis last (jnp.moveaxis(x, 1, -1))."
            )
        channels = shape[-1]
        if channels < 1 or channels % groups:
            raise ValueError(
                f"{where}: input channels ({channels}) must be known and divisible by groups "
                f"({groups})."
            )
        pads = resolve_padding(padding, shape[1:-1], kernel, stride, dil, where)
        for axis, (n, k, d, p) in enumerate(zip(shape[1:-1], kernel, dil, pads, strict=True)):
            if n != -1 and n + p[0] + p[1] < d * (k - 1) + 1:
                raise ValueError(
                    f"{where}: the dilated kernel ({d * (k - 1) + 1}) is larger than the padded "
                    f"input ({n + p[0] + p[1]}) on spatial axis {axis}; input_shape {shape}."
                )
        return channels, pads

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{where}.init")
        shape = as_shape(input_shape, where=f"{where}.init")
        channels, pads = check_input(shape)
        key_w, key_b = jax.random.split(key)
        params = {"w": w_init(key_w, kernel + (channels // groups, filters), dtype)}
        if use_bias:
            params["b"] = b_init(key_b, (filters,), dtype)
        spatial = tuple(
            output_length(n, k, s, d, p)
            for n, k, s, d, p in zip(shape[1:-1], kernel, stride, dil, pads, strict=True)
        )
        return (shape[0], *spatial, filters), params, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        if x.ndim != rank + 2 or x.shape[-1] != params["w"].shape[-2] * groups:
            raise ValueError(
                f"{where}: x must have shape (N, {axes}, {params['w'].shape[-2] * groups}) "
                f"channels-last; got {x.shape}."
            )
        pads = resolve_padding(padding, x.shape[1:-1], kernel, stride, dil, where)
        y = jax.lax.conv_general_dilated(
            x,
            params["w"],
            window_strides=stride,
            padding=pads,
            rhs_dilation=dil,
            dimension_numbers=dimension_numbers,
            feature_group_count=groups,
        )
        if use_bias:
            y = y + expand_to(params["b"], y.ndim)
        return (y if phi is None else phi(y)), state

    config = {
        "type": kind, "filters": filters, "kernel_size": list(kernel), "strides": list(stride),
        "padding": padding if isinstance(padding, str) else [list(p) for p in padding],
        "dilation": list(dil), "groups": groups, "use_bias": use_bias, "activation": activation,
        "kernel_init": kernel_init, "bias_init": bias_init, "dtype": jnp.dtype(dtype).name,
        "name": name,
    }  # fmt: skip
    return Layer(init, apply, name, config)


def _make(rank: int, kind: str, default_name: str) -> Callable[..., Layer]:
    def constructor(
        filters: int,
        kernel_size: int | Sequence[int],
        *,
        strides: int | Sequence[int] = 1,
        padding: str | Sequence[tuple[int, int]] = "valid",
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        use_bias: bool = True,
        activation: str | Callable[[Array], Array] | None = None,
        kernel_init: str | Callable[..., Array] = "glorot_uniform",
        bias_init: str | Callable[..., Array] = "zeros",
        dtype: Any = jnp.float32,
        name: str = default_name,
    ) -> Layer:
        return _conv(
            rank, kind, filters, kernel_size, strides=strides, padding=padding, dilation=dilation,
            groups=groups, use_bias=use_bias, activation=activation, kernel_init=kernel_init,
            bias_init=bias_init, dtype=dtype, name=name,
        )  # fmt: skip

    constructor.__name__ = constructor.__qualname__ = kind
    return constructor


_DOC = r"""{rank}-D convolution over channels-last inputs ``(N, {axes}, C_in)``.

    .. math:: y[n, o, c'] = b_{{c'}} + \sum_{{k, c}} x[n, o \cdot s + k \cdot d - p_0, c] \,
        W[k, c, c']

    Args:
        filters: :math:`C_{{out}}`.
        kernel_size: An int or {rank} ints.
        strides: An int or {rank} ints, >= 1 (default 1).
        padding: ``"valid"`` (default), ``"same"``{causal}, or {rank} ``(before, after)`` pairs.
        dilation: Kernel dilation, an int or {rank} ints, >= 1 (default 1).
        groups: Feature groups; ``groups == C_in`` is a depthwise convolution (default 1).
        use_bias: Add a bias (default ``True``).
        activation: Optional activation name or function.
        kernel_init: Kernel initializer (default ``"glorot_uniform"``).
        bias_init: Bias initializer (default ``"zeros"``).
        dtype: Parameter dtype (default float32).
        name: The layer's name (default ``"{default}"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: ``(N, {axes}, C_in)``; y: ``(N, {axes_out}, C_out)`` (see :func:`output_length`).
        - params ``w``: ``({kaxes}, C_in / groups, C_out)``; ``b``: ``(C_out,)``.

    Raises:
        ValueError: For strides, dilation or sizes below 1, an unknown padding name, channels not
            divisible by groups, a kernel larger than the padded input, or an input of the wrong
            rank (the message says the layout it expects).

    Example:
        >>> import jax
        >>> layer = {kind}(8, 3, padding="same")
        >>> out_shape, params, _ = layer.init(jax.random.key(0), (-1, {example}, 3))
        >>> out_shape, params["w"].shape
        ((-1, {example}, 8), ({kexample}, 3, 8))
"""

Conv1D = _make(1, "Conv1D", "conv1d")
Conv1D.__doc__ = _DOC.format(
    rank=1, axes="W", axes_out="W_out", kaxes="K_w", causal=', ``"causal"``', default="conv1d",
    kind="Conv1D", example="10", kexample="3",
)  # fmt: skip
Conv2D = _make(2, "Conv2D", "conv2d")
Conv2D.__doc__ = _DOC.format(
    rank=2, axes="H, W", axes_out="H_out, W_out", kaxes="K_h, K_w", causal="", default="conv2d",
    kind="Conv2D", example="10, 10", kexample="3, 3",
)  # fmt: skip
Conv3D = _make(3, "Conv3D", "conv3d")
Conv3D.__doc__ = _DOC.format(
    rank=3, axes="D, H, W", axes_out="D_out, H_out, W_out", kaxes="K_d, K_h, K_w", causal="",
    default="conv3d", kind="Conv3D", example="4, 4, 4", kexample="3, 3, 3",
)  # fmt: skip
