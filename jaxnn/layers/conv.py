r"""Convolutions over channels-last inputs: Conv1D/2D/3D and transposed Conv1D/2D.

Built on :func:`jax.lax.conv_general_dilated`. Inputs are ``(N, *spatial, C_in)`` and kernels
``(*kernel_size, C_in / groups, C_out)``. For each spatial axis of length :math:`n`, kernel
:math:`k`, stride :math:`s`, dilation :math:`d` and padding :math:`(p_0, p_1)`:

.. math:: n_{out} = \left\lfloor \frac{n + p_0 + p_1 - d (k - 1) - 1}{s} \right\rfloor + 1

(:func:`output_length`, the one place this formula is written). With input dilation :math:`d_x`
the input is first spread to :math:`(n - 1) d_x + 1` (zeros between elements).

On XLA's CPU backend the convolution runs as patches + one matrix product (``algorithm="auto"``):
XLA's CPU convolutions are slow, while its matrix products are not. They are slow because XLA
hands them to YNNPACK; with YNNPACK's convolutions turned off (:data:`CPU_CONV_FLAG` in
``XLA_FLAGS``, which the ``jaxnn`` command sets for its own process) XLA's own convolution is the
faster route, and ``"auto"`` takes it. The patches are one gather of
the padded input; the forward-mode rule (:func:`jax.custom_jvp`) differentiates the kernel through
the same patches and the input through :func:`jax.lax.conv_general_dilated`, whose transpose is a
fast convolution on CPU. Reverse mode, forward mode and higher orders all work. It computes the same
sums as the plain convolution in a different order (agreement to float rounding, tested).
``docs/benchmarks.md`` has the measurement; on other backends (cuDNN on GPU) the plain convolution
is used. Depthwise and separable convolutions are in :mod:`jaxnn.layers.depthwise`.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import activations, initializers
from jaxnn.core import Layer, as_shape, check_key, check_positive_int, expand_to
from jaxnn.dtypes import compute_in, layer_dtypes
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = [
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "CPU_CONV_FLAG",
    "Conv3D",
    "output_length",
    "per_axis",
    "resolve_padding",
    "transpose_padding",
]

# XLA's CPU backend without YNNPACK convolutions: its own convolution then beats patches +
# matmul on the small CNN (docs/cnn-cpu-routes.md, docs/benchmarks.md).
CPU_CONV_FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"

_PADDINGS = ("causal", "same", "valid")
_ALGORITHMS = ("auto", "matmul", "xla")


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


@functools.lru_cache(maxsize=256)
def _patch_index(
    padded: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    out: tuple[int, ...],
) -> np.ndarray:
    """Flat indices into the padded grid: a row per output position, a column per kernel tap."""
    rank = len(kernel)

    def grid(sizes: tuple[int, ...]) -> np.ndarray:
        return np.stack(np.meshgrid(*map(np.arange, sizes), indexing="ij"), -1).reshape(-1, rank)

    coords = grid(out)[:, None, :] * np.array(stride) + grid(kernel)[None] * np.array(dilation)
    index = np.ravel_multi_index(tuple(np.moveaxis(coords, -1, 0)), padded)
    return index.astype(np.int32)


def _patches(x: Array, kernel: tuple[int, ...], stride: tuple[int, ...],
             dilation: tuple[int, ...], pads: list[tuple[int, int]]) -> Array:  # fmt: skip
    """``(N * P, K * C)`` patches of ``x`` (P output positions, K kernel taps), taps major."""
    xp = jnp.pad(x, [(0, 0), *pads, (0, 0)])
    spatial = xp.shape[1:-1]
    out = tuple(
        output_length(n, k, s, d, (0, 0))
        for n, k, s, d in zip(spatial, kernel, stride, dilation, strict=True)
    )
    index = _patch_index(spatial, kernel, stride, dilation, out)
    flat = xp.reshape(xp.shape[0], math.prod(spatial), xp.shape[-1])
    return flat[:, index, :].reshape(-1, index.shape[1] * xp.shape[-1])


def _matmul_conv(
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pads: list[tuple[int, int]],
    plain: Callable[[Array, Array], Array],
) -> Callable[[Array, Array], Array]:
    """A convolution as patches @ kernel, with a JVP that keeps the backward pass fast."""

    def forward(x: Array, w: Array) -> tuple[Array, Array, tuple[int, ...]]:
        patches = _patches(x, kernel, stride, dilation, pads)
        spatial = tuple(
            output_length(n, k, s, d, p)
            for n, k, s, d, p in zip(x.shape[1:-1], kernel, stride, dilation, pads, strict=True)
        )
        shape = (x.shape[0], *spatial, w.shape[-1])
        return patches, (patches @ w.reshape(-1, w.shape[-1])).reshape(shape), shape

    @jax.custom_jvp
    def conv(x: Array, w: Array) -> Array:
        return forward(x, w)[1]

    @functools.partial(conv.defjvp, symbolic_zeros=True)
    def conv_jvp(primals: tuple[Array, Array], tangents: tuple[Any, Any]) -> tuple[Array, Array]:
        (x, w), (dx, dw) = primals, tangents
        patches, y, shape = forward(x, w)
        dy = jnp.zeros_like(y)
        if not isinstance(dw, jax.custom_derivatives.SymbolicZero):
            dy = dy + (patches @ dw.reshape(-1, w.shape[-1])).reshape(shape)
        if not isinstance(dx, jax.custom_derivatives.SymbolicZero):
            dy = dy + plain(dx, w)
        return y, dy

    return conv


def _axes(rank: int) -> str:
    """The spatial axis letters of a rank, for messages: ``"H, W"``."""
    return ", ".join("DHW"[3 - rank :])


def _spread(n: int, d: int) -> int:
    """An axis length after input dilation ``d`` (zeros between elements); ``-1`` stays unknown."""
    return n if n == -1 else (n - 1) * d + 1


def _check_spatial(
    shape: Sequence[int],
    padding: Any,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    input_dilation: tuple[int, ...],
    where: str,
) -> list[tuple[int, int]]:
    """The pads for an input of ``shape``, after checking its rank and that the kernel fits."""
    rank = len(kernel)
    if len(shape) != rank + 2:
        raise ValueError(
            f"{where}: input_shape must be (N, {_axes(rank)}, C) channels-last with a batch axis "
            f"({rank + 2} axes); got {shape}. For NCHW data, move the channel "
            f"axis last (jnp.moveaxis(x, 1, -1))."
        )
    spatial = [_spread(n, d) for n, d in zip(shape[1:-1], input_dilation, strict=True)]
    pads = resolve_padding(padding, spatial, kernel, stride, dilation, where)
    for axis, (n, k, d, p) in enumerate(zip(spatial, kernel, dilation, pads, strict=True)):
        if n != -1 and n + p[0] + p[1] < d * (k - 1) + 1:
            raise ValueError(
                f"{where}: the dilated kernel ({d * (k - 1) + 1}) is larger than the padded "
                f"input ({n + p[0] + p[1]}) on spatial axis {axis}; input_shape {tuple(shape)}."
            )
    return pads


def _out_spatial(
    shape: Sequence[int],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    input_dilation: tuple[int, ...],
    pads: list[tuple[int, int]],
) -> tuple[int, ...]:
    """The output's spatial lengths (:func:`output_length` per axis)."""
    return tuple(
        output_length(_spread(n, e), k, s, d, p)
        for n, e, k, s, d, p in zip(
            shape[1:-1], input_dilation, kernel, stride, dilation, pads, strict=True
        )
    )


def ynn_convolutions_off() -> bool:
    """Whether ``XLA_FLAGS`` turns YNNPACK's CPU convolutions off (:data:`CPU_CONV_FLAG`).

    Example:
        >>> import os
        >>> ynn_convolutions_off() == (CPU_CONV_FLAG in os.environ.get("XLA_FLAGS", ""))
        True
    """
    flags = os.environ.get("XLA_FLAGS", "").split()
    return any(
        f.startswith("--xla_cpu_experimental_ynn_fusion_type=")
        and "-individual_convolution" in f.split("=", 1)[1].split(",")
        for f in flags
    )


def _xla_conv(
    x: Array,
    w: Array,
    stride: tuple[int, ...],
    pads: list[tuple[int, int]],
    dilation: tuple[int, ...],
    input_dilation: tuple[int, ...],
    groups: int,
) -> Array:
    """XLA's convolution, channels-last, kernel ``(*kernel, C_in / groups, C_out)``."""
    rank = len(stride)
    layout = "N" + "DHW"[3 - rank :] + "C"
    return jax.lax.conv_general_dilated(
        x,
        w,
        window_strides=stride,
        padding=pads,
        lhs_dilation=input_dilation,
        rhs_dilation=dilation,
        dimension_numbers=(layout, "DHW"[3 - rank :] + "IO", layout),
        feature_group_count=groups,
    )


def _conv(
    rank: int,
    kind: str,
    filters: int,
    kernel_size: Any,
    *,
    strides: Any,
    padding: Any,
    dilation: Any,
    input_dilation: Any,
    groups: int,
    use_bias: bool,
    activation: str | Callable[[Array], Array] | None,
    kernel_init: str | Callable[..., Array],
    bias_init: str | Callable[..., Array],
    dtype: Any,
    param_dtype: Any,
    algorithm: str,
    name: str,
) -> Layer:
    where = f"{kind} '{name}'"
    check_positive_int(filters, where=where, arg="filters")
    check_positive_int(groups, where=where, arg="groups")
    kernel = per_axis(kernel_size, rank, where, "kernel_size")
    stride = per_axis(strides, rank, where, "strides")
    dil = per_axis(dilation, rank, where, "dilation")
    in_dil = per_axis(input_dilation, rank, where, "input_dilation")
    if algorithm not in _ALGORITHMS:
        raise ValueError(
            f"{where}: algorithm must be one of {list(_ALGORITHMS)}; got {algorithm!r}."
        )
    if algorithm == "matmul" and (groups != 1 or in_dil != (1,) * rank):
        raise ValueError(
            f"{where}: algorithm='matmul' needs groups=1 and input_dilation=1; got "
            f"groups={groups}, input_dilation={input_dilation!r}."
        )
    if filters % groups:
        raise ValueError(f"{where}: filters ({filters}) must be divisible by groups ({groups}).")
    phi = None if activation is None else activations.get(activation)
    w_init = initializers.get(kernel_init, where=f"{where} kernel_init")
    b_init = initializers.get(bias_init, where=f"{where} bias_init")
    axes = _axes(rank)
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{where}.init")
        shape = as_shape(input_shape, where=f"{where}.init")
        pads = _check_spatial(shape, padding, kernel, stride, dil, in_dil, where)
        channels = shape[-1]
        if channels < 1 or channels % groups:
            raise ValueError(
                f"{where}: input channels ({channels}) must be known and divisible by groups "
                f"({groups})."
            )
        key_w, key_b = jax.random.split(key)
        params = {"w": w_init(key_w, kernel + (channels // groups, filters), param_dtype)}
        if use_bias:
            params["b"] = b_init(key_b, (filters,), param_dtype)
        spatial = _out_spatial(shape, kernel, stride, dil, in_dil, pads)
        return (shape[0], *spatial, filters), params, {}

    def plain(x: Array, w: Array, pads: list[tuple[int, int]]) -> Array:
        return _xla_conv(x, w, stride, pads, dil, in_dil, groups)

    def use_matmul() -> bool:
        if algorithm != "auto":
            return algorithm == "matmul"
        cpu = jax.default_backend() == "cpu" and not ynn_convolutions_off()
        return groups == 1 and in_dil == (1,) * rank and cpu

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        if x.ndim != rank + 2 or x.shape[-1] != params["w"].shape[-2] * groups:
            raise ValueError(
                f"{where}: x must have shape (N, {axes}, {params['w'].shape[-2] * groups}) "
                f"channels-last; got {x.shape}."
            )
        params, x = compute_in(dtype, params, x)
        spatial = [_spread(n, d) for n, d in zip(x.shape[1:-1], in_dil, strict=True)]
        pads = resolve_padding(padding, spatial, kernel, stride, dil, where)
        if use_matmul():
            conv = _matmul_conv(kernel, stride, dil, pads, functools.partial(plain, pads=pads))
            y = conv(x, params["w"])
        else:
            y = plain(x, params["w"], pads)
        if use_bias:
            y = y + expand_to(params["b"], y.ndim)
        return (y if phi is None else phi(y)), state

    config = {
        "type": kind, "filters": filters, "kernel_size": list(kernel), "strides": list(stride),
        "padding": padding if isinstance(padding, str) else [list(p) for p in padding],
        "dilation": list(dil), "input_dilation": list(in_dil), "groups": groups,
        "use_bias": use_bias, "activation": activation,
        "kernel_init": kernel_init, "bias_init": bias_init, "dtype": dtype,
        "param_dtype": param_dtype,
        "algorithm": algorithm, "name": name,
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
        input_dilation: int | Sequence[int] = 1,
        groups: int = 1,
        use_bias: bool = True,
        activation: str | Callable[[Array], Array] | None = None,
        kernel_init: str | Callable[..., Array] = "glorot_uniform",
        bias_init: str | Callable[..., Array] = "zeros",
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        algorithm: str = "auto",
        name: str = default_name,
    ) -> Layer:
        return _conv(
            rank, kind, filters, kernel_size, strides=strides, padding=padding, dilation=dilation,
            input_dilation=input_dilation, groups=groups, use_bias=use_bias, activation=activation,
            kernel_init=kernel_init, bias_init=bias_init, dtype=dtype, param_dtype=param_dtype,
            algorithm=algorithm,
            name=name,
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
        input_dilation: Input dilation (zeros between input elements, as a transposed
            convolution), an int or {rank} ints, >= 1 (default 1).
        groups: Feature groups; ``groups == C_in`` is a depthwise convolution (default 1).
        use_bias: Add a bias (default ``True``).
        activation: Optional activation name or function.
        kernel_init: Kernel initializer (default ``"glorot_uniform"``).
        bias_init: Bias initializer (default ``"zeros"``).
        dtype: Compute dtype (default ``None``: as the input and parameters promote).
        param_dtype: Parameter dtype (default float32).
        algorithm: ``"auto"`` (default: patches + matrix product on CPU when ``groups == 1`` and
            there is no input dilation, XLA's convolution otherwise), ``"matmul"`` or ``"xla"``.
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


def transpose_padding(
    padding: Any, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int], where: str
) -> list[tuple[int, int]]:
    r"""Pads of the input-dilated convolution that computes a transposed convolution.

    With span :math:`e = d (k - 1) + 1`, ``"valid"`` gives the Keras length
    :math:`n s + \max(e - s, 0)` and ``"same"`` gives :math:`n s`; explicit ``(c_0, c_1)`` pairs
    crop the full length :math:`(n - 1) s + e` as PyTorch's ``padding`` does, each at most
    :math:`e - 1`. Lengths then follow :func:`output_length` (stride 1, dilated input).

    Example:
        >>> transpose_padding("valid", (3,), (2,), (1,), "demo")
        [(2, 2)]
    """
    rank = len(kernel)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    if isinstance(padding, str):
        name = padding.lower()
        if name not in ("same", "valid"):
            raise ValueError(
                f"{where}: padding must be 'same', 'valid' or (before, after) crop pairs; "
                f"got {padding!r}."
            )
        if name == "valid":
            return [(e - 1, e - 1 + max(s - e, 0)) for e, s in zip(spans, stride, strict=True)]
        pads = []
        for e, s in zip(spans, stride, strict=True):
            total = e + s - 2
            before = e - 1 if s > e - 1 else math.ceil(total / 2)
            pads.append((before, total - before))
        return pads
    pairs = [tuple(p) for p in padding] if isinstance(padding, (list, tuple)) else []
    if len(pairs) != rank or any(
        len(p) != 2 or not 0 <= min(p) <= max(p) < e for p, e in zip(pairs, spans, strict=True)
    ):
        raise ValueError(
            f"{where}: explicit padding must be {rank} (before, after) crop pairs of ints in "
            f"[0, span - 1] with spans {spans}; got {padding!r}."
        )
    return [(e - 1 - int(a), e - 1 - int(b)) for (a, b), e in zip(pairs, spans, strict=True)]


def _make_transpose(rank: int, kind: str, default_name: str) -> Callable[..., Layer]:
    def constructor(
        filters: int,
        kernel_size: int | Sequence[int],
        *,
        strides: int | Sequence[int] = 1,
        padding: str | Sequence[tuple[int, int]] = "valid",
        dilation: int | Sequence[int] = 1,
        use_bias: bool = True,
        activation: str | Callable[[Array], Array] | None = None,
        kernel_init: str | Callable[..., Array] = "glorot_uniform",
        bias_init: str | Callable[..., Array] = "zeros",
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        name: str = default_name,
    ) -> Layer:
        where = f"{kind} '{name}'"
        kernel = per_axis(kernel_size, rank, where, "kernel_size")
        stride = per_axis(strides, rank, where, "strides")
        dil = per_axis(dilation, rank, where, "dilation")
        pads = transpose_padding(padding, kernel, stride, dil, where)
        dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)
        inner = _conv(
            rank, kind, filters, kernel, strides=1, padding=pads, dilation=dil,
            input_dilation=stride, groups=1, use_bias=use_bias, activation=activation,
            kernel_init=kernel_init, bias_init=bias_init, dtype=dtype, param_dtype=param_dtype,
            algorithm="xla", name=name,
        )  # fmt: skip
        flip = (slice(None, None, -1),) * rank

        def apply(
            params: Params,
            state: State,
            x: Array,
            *,
            key: PRNGKey | None = None,
            train: bool = False,
        ) -> tuple[Array, State]:
            # The scatter form y[i s + k d - c] += x[i] W[k] is the input-dilated convolution
            # with the kernel flipped: flipping here keeps weights interchangeable with Keras.
            flipped = {**params, "w": params["w"][flip]}
            return inner.apply(flipped, state, x, key=key, train=train)

        config = {
            "type": kind, "filters": filters, "kernel_size": list(kernel),
            "strides": list(stride),
            "padding": padding if isinstance(padding, str) else [list(p) for p in padding],
            "dilation": list(dil), "use_bias": use_bias, "activation": activation,
            "kernel_init": kernel_init, "bias_init": bias_init, "dtype": dtype,
            "param_dtype": param_dtype, "name": name,
        }  # fmt: skip
        return Layer(inner.init, apply, name, config)

    constructor.__name__ = constructor.__qualname__ = kind
    return constructor


_TRANSPOSE_DOC = r"""{rank}-D transposed convolution over ``(N, {axes}, C_in)`` (the gradient of a
    strided convolution; upsamples by ``strides``).

    .. math:: y[i s + k d - c_0, c'] \mathrel{{+}}= \sum_c x[i, c] \, W[k, c, c'] \quad (+ b_{{c'}})

    Output length per axis: :math:`n s + \max(e - s, 0)` for ``"valid"`` (default),
    :math:`n s` for ``"same"``, and :math:`(n - 1) s + e - c_0 - c_1` for explicit crop pairs,
    with :math:`e = d (k - 1) + 1` (Keras' and PyTorch's conventions; see
    :func:`transpose_padding`). Weights ``({kaxes}, C_in, C_out)`` carry the same meaning as
    Keras' after swapping its last two axes.

    Args:
        filters: :math:`C_{{out}}`.
        kernel_size: An int or {rank} ints.
        strides: Upsampling factor, an int or {rank} ints, >= 1 (default 1).
        padding: ``"valid"``, ``"same"`` or {rank} ``(before, after)`` crop pairs.
        dilation: Kernel dilation (default 1).
        use_bias: Add a bias (default ``True``).
        activation: Optional activation name or function.
        kernel_init: Kernel initializer (default ``"glorot_uniform"``).
        bias_init: Bias initializer (default ``"zeros"``).
        dtype: Compute dtype (default ``None``: as the input and parameters promote).
        param_dtype: Parameter dtype (default float32).
        name: The layer's name (default ``"{default}"``).

    Returns:
        A :class:`~jaxnn.Layer`; params ``w ({kaxes}, C_in, C_out)``, ``b (C_out,)``.

    Example:
        >>> import jax
        >>> layer = {kind}(4, 3, strides=2, padding="same")
        >>> layer.init(jax.random.key(0), (-1, {example}, 2))[0]
        (-1, {example_out}, 4)
"""

Conv1DTranspose = _make_transpose(1, "Conv1DTranspose", "conv1d_transpose")
Conv1DTranspose.__doc__ = _TRANSPOSE_DOC.format(
    rank=1, axes="W", kaxes="K_w", default="conv1d_transpose", kind="Conv1DTranspose",
    example="5", example_out="10",
)  # fmt: skip
Conv2DTranspose = _make_transpose(2, "Conv2DTranspose", "conv2d_transpose")
Conv2DTranspose.__doc__ = _TRANSPOSE_DOC.format(
    rank=2, axes="H, W", kaxes="K_h, K_w", default="conv2d_transpose", kind="Conv2DTranspose",
    example="5, 6", example_out="10, 12",
)  # fmt: skip
