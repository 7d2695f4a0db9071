r"""Depthwise and separable 2-D convolutions, channels-last.

:func:`DepthwiseConv2D` is the grouped convolution with one group per input channel (kernel
``(K_h, K_w, 1, C_in M)``, output channel :math:`c M + m` from input channel :math:`c`):

.. math:: y[n, o, c M + m] = b_{c M + m} + \sum_k x[n, o s + k d - p_0, c] \, W[k, 0, c M + m]

On CPU it is a sum over the kernel taps of strided slices times weights:
there is no matrix product for the patches route to use, and XLA's grouped convolution is slow
there. :func:`SeparableConv2D` is that (without bias) followed by a 1x1 :func:`Conv2D`:
:math:`y = \phi(\mathrm{depthwise}(x) \, P + b)`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn import activations, initializers
from jaxnn.core import Layer, as_shape, check_key, check_positive_int, expand_to
from jaxnn.dtypes import compute_in, layer_dtypes
from jaxnn.layers.conv import (
    _axes,
    _check_spatial,
    _conv,
    _out_spatial,
    _xla_conv,
    output_length,
    per_axis,
)
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["DepthwiseConv2D", "SeparableConv2D"]

_DEPTHWISE_ALGORITHMS = ("auto", "taps", "xla")


def _depthwise_taps(
    x: Array,
    w: Array,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pads: list[tuple[int, int]],
) -> Array:
    """A depthwise convolution as a sum over kernel taps of (strided slice) x (tap's weights)."""
    rank, channels = len(kernel), x.shape[-1]
    xp = jnp.pad(x, [(0, 0), *pads, (0, 0)])
    out = [
        output_length(n, k, s, d, (0, 0))
        for n, k, s, d in zip(xp.shape[1:-1], kernel, stride, dilation, strict=True)
    ]
    taps = w.reshape(*kernel, channels, w.shape[-1] // channels)  # output c * M + m -> [c, m]

    def term(offset: tuple[int, ...]) -> Array:
        start = [o * d for o, d in zip(offset, dilation, strict=True)]
        limit = [a + (n - 1) * s + 1 for a, n, s in zip(start, out, stride, strict=True)]
        piece = jax.lax.slice(xp, (0, *start, 0), (xp.shape[0], *limit, channels), (1, *stride, 1))
        return piece[..., None] * taps[offset].reshape((1,) * (rank + 1) + taps.shape[-2:])

    first, *rest = (term(offset) for offset in itertools.product(*map(range, kernel)))
    y = functools.reduce(jnp.add, rest, first)
    return y.reshape(*y.shape[:-2], w.shape[-1])


def _depthwise(
    rank: int,
    kind: str,
    kernel_size: Any,
    *,
    strides: Any,
    padding: Any,
    dilation: Any,
    depth_multiplier: int,
    use_bias: bool,
    activation: str | Callable[[Array], Array] | None,
    kernel_init: str | Callable[..., Array],
    bias_init: str | Callable[..., Array],
    dtype: Any,
    param_dtype: Any,
    algorithm: str,
    name: str,
) -> Layer:
    """The depthwise layer: Conv's checks, pads and kernel layout with ``groups = C_in``."""
    where = f"{kind} '{name}'"
    multiplier = check_positive_int(depth_multiplier, where=where, arg="depth_multiplier")
    kernel = per_axis(kernel_size, rank, where, "kernel_size")
    stride = per_axis(strides, rank, where, "strides")
    dil = per_axis(dilation, rank, where, "dilation")
    ones = (1,) * rank
    if algorithm not in _DEPTHWISE_ALGORITHMS:
        hint = " (a depthwise convolution has no matrix product; 'taps' is its CPU route)"
        raise ValueError(
            f"{where}: algorithm must be one of {list(_DEPTHWISE_ALGORITHMS)}; got "
            f"{algorithm!r}{hint if algorithm == 'matmul' else ''}."
        )
    phi = None if activation is None else activations.get(activation)
    w_init = initializers.get(kernel_init, where=f"{where} kernel_init")
    b_init = initializers.get(bias_init, where=f"{where} bias_init")
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{where}.init")
        shape = as_shape(input_shape, where=f"{where}.init")
        pads = _check_spatial(shape, padding, kernel, stride, dil, ones, where)
        if shape[-1] < 1:
            raise ValueError(f"{where}: input channels must be known (>= 1); got {shape}.")
        filters = shape[-1] * multiplier
        key_w, key_b = jax.random.split(key)
        params = {"w": w_init(key_w, kernel + (1, filters), param_dtype)}
        if use_bias:
            params["b"] = b_init(key_b, (filters,), param_dtype)
        return (
            (shape[0], *_out_spatial(shape, kernel, stride, dil, ones, pads), filters),
            params,
            {},
        )

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        channels = params["w"].shape[-1] // multiplier
        if x.ndim != rank + 2 or x.shape[-1] != channels:
            raise ValueError(
                f"{where}: x must have shape (N, {_axes(rank)}, {channels}) channels-last, with "
                f"the {channels} input channels of init; got {x.shape}."
            )
        pads = _check_spatial(x.shape, padding, kernel, stride, dil, ones, where)
        params, x = compute_in(dtype, params, x)
        use_taps = algorithm == "taps" or (algorithm == "auto" and jax.default_backend() == "cpu")
        if use_taps:
            y = _depthwise_taps(x, params["w"], kernel, stride, dil, pads)
        else:
            y = _xla_conv(x, params["w"], stride, pads, dil, ones, channels)
        if use_bias:
            y = y + expand_to(params["b"], y.ndim)
        return (y if phi is None else phi(y)), state

    config = {
        "type": kind, "kernel_size": list(kernel), "strides": list(stride),
        "padding": padding if isinstance(padding, str) else [list(p) for p in padding],
        "dilation": list(dil), "depth_multiplier": multiplier, "use_bias": use_bias,
        "activation": activation, "kernel_init": kernel_init, "bias_init": bias_init,
        "dtype": dtype, "param_dtype": param_dtype, "algorithm": algorithm, "name": name,
    }  # fmt: skip
    return Layer(init, apply, name, config)


def DepthwiseConv2D(
    kernel_size: int | Sequence[int],
    *,
    strides: int | Sequence[int] = 1,
    padding: str | Sequence[tuple[int, int]] = "valid",
    dilation: int | Sequence[int] = 1,
    depth_multiplier: int = 1,
    activation: str | Callable[[Array], Array] | None = None,
    use_bias: bool = True,
    kernel_init: str | Callable[..., Array] = "glorot_uniform",
    bias_init: str | Callable[..., Array] = "zeros",
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    algorithm: str = "auto",
    name: str = "depthwise_conv2d",
) -> Layer:
    r"""2-D depthwise convolution: each input channel convolved with its own ``M`` filters.

    .. math:: y[n, o, c M + m] = \phi\Big(b_{c M + m} + \sum_k x[n, o \cdot s + k \cdot d - p_0, c]
        \, W[k, 0, c M + m]\Big)

    with :math:`M` = ``depth_multiplier``: ``Conv2D(C_in * M, kernel_size, groups=C_in)``, whose
    kernel layout it shares (so weights move between the two unchanged). Output channel
    ``c * M + m`` is input channel ``c``'s ``m``-th filter, Keras' order: a Keras
    ``depthwise_kernel`` ``(K_h, K_w, C_in, M)`` is ``w.reshape(K_h, K_w, 1, C_in * M)`` here.
    ``"glorot_uniform"`` on this layout has fan-in :math:`K_h K_w` and fan-out
    :math:`K_h K_w C_{in} M` (Keras' limit when ``M == 1``).

    On the CPU backend (``algorithm="auto"``) it sums, over the kernel taps, one strided slice of
    the padded input times that tap's weights (``"taps"``): no gather and no matrix product (with
    one input channel per group there is none to use), and XLA's grouped convolution is slow on
    CPU: on 2 CPU cores the forward pass was 4.6-34x and forward plus gradient 2.0-39x faster
    (``experiments/bench_depthwise.py``, ``docs/benchmarks.md``). Elsewhere (cuDNN on GPU) it
    is XLA's convolution with ``feature_group_count = C_in`` (``"xla"``). The two agree to float
    rounding, in value and in forward- and reverse-mode derivatives (tested).

    Args:
        kernel_size: An int or 2 ints.
        strides: An int or 2 ints, >= 1 (default 1).
        padding: ``"valid"`` (default), ``"same"``, or 2 ``(before, after)`` pairs.
        dilation: Kernel dilation, an int or 2 ints, >= 1 (default 1).
        depth_multiplier: :math:`M`, filters per input channel, >= 1 (default 1).
        activation: Optional activation name or function :math:`\phi` (default ``None``).
        use_bias: Add a bias (default ``True``).
        kernel_init: Kernel initializer (default ``"glorot_uniform"``).
        bias_init: Bias initializer (default ``"zeros"``).
        dtype: Compute dtype (default ``None``: as the input and parameters promote).
        param_dtype: Parameter dtype (default float32).
        algorithm: ``"auto"`` (default: ``"taps"`` on CPU, ``"xla"`` elsewhere), ``"taps"`` or
            ``"xla"``.
        name: The layer's name (default ``"depthwise_conv2d"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: ``(N, H, W, C_in)``; y: ``(N, H_out, W_out, C_in * M)`` (see :func:`output_length`).
        - params ``w``: ``(K_h, K_w, 1, C_in * M)``; ``b``: ``(C_in * M,)`` when ``use_bias``.
        - state: ``{}``

    Raises:
        TypeError, ValueError: For a ``depth_multiplier``, stride, dilation or kernel size that is
            not an int >= 1, an unknown padding, algorithm, activation or initializer name (at
            construction); an input of the wrong rank, with unknown channels or smaller than the
            dilated kernel (at ``init``); an input whose channels differ from ``init``'s (at
            ``apply``).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = DepthwiseConv2D(3, depth_multiplier=2, padding="same")
        >>> out_shape, params, _ = layer.init(jax.random.key(0), (-1, 8, 8, 3))
        >>> out_shape, jax.tree.map(jnp.shape, params)
        ((-1, 8, 8, 6), {'b': (6,), 'w': (3, 3, 1, 6)})
    """
    return _depthwise(
        2, "DepthwiseConv2D", kernel_size, strides=strides, padding=padding, dilation=dilation,
        depth_multiplier=depth_multiplier, use_bias=use_bias, activation=activation,
        kernel_init=kernel_init, bias_init=bias_init, dtype=dtype, param_dtype=param_dtype,
        algorithm=algorithm, name=name,
    )  # fmt: skip


def SeparableConv2D(
    filters: int,
    kernel_size: int | Sequence[int],
    *,
    strides: int | Sequence[int] = 1,
    padding: str | Sequence[tuple[int, int]] = "valid",
    dilation: int | Sequence[int] = 1,
    depth_multiplier: int = 1,
    activation: str | Callable[[Array], Array] | None = None,
    use_bias: bool = True,
    depthwise_init: str | Callable[..., Array] = "glorot_uniform",
    pointwise_init: str | Callable[..., Array] = "glorot_uniform",
    bias_init: str | Callable[..., Array] = "zeros",
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    algorithm: str = "auto",
    name: str = "separable_conv2d",
) -> Layer:
    r"""2-D separable convolution: a depthwise convolution, then a 1x1 convolution to ``filters``.

    .. math:: z = \mathrm{depthwise}(x; W_d), \qquad
        y[n, o, f] = \phi\Big(b_f + \sum_j z[n, o, j] \, P[0, 0, j, f]\Big)

    The depthwise step is :func:`DepthwiseConv2D` without bias (strides, padding and dilation
    act there); the pointwise step is ``Conv2D(filters, 1)`` with the bias, then the activation,
    as Keras' ``SeparableConv2D``. ``algorithm`` picks the depthwise step's route (see
    :func:`DepthwiseConv2D`); the pointwise step uses Conv2D's ``"auto"`` (patches + matrix
    product on CPU), or XLA's convolution when ``algorithm="xla"``.

    Args:
        filters: :math:`C_{out}`.
        kernel_size: The depthwise kernel, an int or 2 ints.
        strides: An int or 2 ints, >= 1 (default 1).
        padding: ``"valid"`` (default), ``"same"``, or 2 ``(before, after)`` pairs.
        dilation: Depthwise kernel dilation, an int or 2 ints, >= 1 (default 1).
        depth_multiplier: :math:`M`, depthwise filters per input channel, >= 1 (default 1).
        activation: Optional activation name or function :math:`\phi` (default ``None``).
        use_bias: Add the bias :math:`b` after the pointwise step (default ``True``).
        depthwise_init: Initializer of :math:`W_d` (default ``"glorot_uniform"``).
        pointwise_init: Initializer of :math:`P` (default ``"glorot_uniform"``).
        bias_init: Bias initializer (default ``"zeros"``).
        dtype: Compute dtype (default ``None``: as the input and parameters promote).
        param_dtype: Parameter dtype (default float32).
        algorithm: ``"auto"`` (default), ``"taps"`` or ``"xla"``.
        name: The layer's name (default ``"separable_conv2d"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: ``(N, H, W, C_in)``; y: ``(N, H_out, W_out, C_out)`` (see :func:`output_length`).
        - params ``depthwise``: ``{"w": (K_h, K_w, 1, C_in * M)}`` (Keras' ``depthwise_kernel``
          ``(K_h, K_w, C_in, M)`` reshaped); ``pointwise``: ``{"w": (1, 1, C_in * M, C_out)}``
          (Keras' ``pointwise_kernel`` as it is) and ``"b": (C_out,)`` when ``use_bias``.
        - state: ``{}``

    Raises:
        TypeError, ValueError: As :func:`DepthwiseConv2D`, and for ``filters`` that is not an
            int >= 1.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = SeparableConv2D(4, 3, depth_multiplier=2)
        >>> out_shape, params, _ = layer.init(jax.random.key(0), (-1, 8, 8, 3))
        >>> shapes = jax.tree.map(jnp.shape, params)
        >>> out_shape, shapes["depthwise"], shapes["pointwise"]
        ((-1, 6, 6, 4), {'w': (3, 3, 1, 6)}, {'b': (4,), 'w': (1, 1, 6, 4)})
    """
    where = f"SeparableConv2D '{name}'"
    check_positive_int(filters, where=where, arg="filters")
    initializers.get(depthwise_init, where=f"{where} depthwise_init")
    initializers.get(pointwise_init, where=f"{where} pointwise_init")
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)
    depthwise = _depthwise(
        2, "SeparableConv2D", kernel_size, strides=strides, padding=padding, dilation=dilation,
        depth_multiplier=depth_multiplier, use_bias=False, activation=None,
        kernel_init=depthwise_init, bias_init="zeros", dtype=dtype, param_dtype=param_dtype,
        algorithm=algorithm,
        name=name,
    )  # fmt: skip
    pointwise = _conv(
        2, "SeparableConv2D", filters, 1, strides=1, padding="valid", dilation=1,
        input_dilation=1, groups=1, use_bias=use_bias, activation=activation,
        kernel_init=pointwise_init, bias_init=bias_init, dtype=dtype, param_dtype=param_dtype,
        algorithm="xla" if algorithm == "xla" else "auto", name=name,
    )  # fmt: skip

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{where}.init")
        key_d, key_p = jax.random.split(key)
        middle, params_d, _ = depthwise.init(key_d, input_shape)
        out_shape, params_p, _ = pointwise.init(key_p, middle)
        return out_shape, {"depthwise": params_d, "pointwise": params_p}, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        z, _ = depthwise.apply(params["depthwise"], {}, x)
        return pointwise.apply(params["pointwise"], {}, z)[0], state

    config = {
        "type": "SeparableConv2D", "filters": filters,
        "kernel_size": list(per_axis(kernel_size, 2, where, "kernel_size")),
        "strides": list(per_axis(strides, 2, where, "strides")),
        "padding": padding if isinstance(padding, str) else [list(p) for p in padding],
        "dilation": list(per_axis(dilation, 2, where, "dilation")),
        "depth_multiplier": depth_multiplier, "activation": activation,
        "use_bias": use_bias, "depthwise_init": depthwise_init, "pointwise_init": pointwise_init,
        "bias_init": bias_init, "dtype": dtype,
        "param_dtype": param_dtype, "algorithm": algorithm, "name": name,
    }  # fmt: skip
    return Layer(init, apply, name, config)
