r"""Pooling over the spatial axes of channels-last inputs, and nearest-neighbour up-sampling.

``MaxPool`` and ``AvgPool`` work on inputs of any spatial rank ``(N, *spatial, C)``; an int window
or stride applies to every spatial axis. Output lengths use :func:`jaxnn.layers.conv.output_length`
with the window as kernel. With ``padding="same"`` the average counts only real elements (as
Keras), and max pooling ignores the padding.

Non-overlapping windows (strides equal to the window, the default) reduce a reshaped view
``(N, o_1, k_1, ..., C)`` rather than calling ``lax.reduce_window``: on XLA's CPU backend the
gradient of ``reduce_window`` costs more than the rest of a small CNN's pooling step (measured in
``experiments/bench_cnn.py``). The values are the same; where several inputs of a max-pooling
window tie for the maximum, the gradient is shared among them equally (``reduce_window`` gives it
all to the first).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.core import Layer, as_shape
from jaxnn.layers.conv import output_length, per_axis, resolve_padding
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["AvgPool", "GlobalAvgPool", "GlobalMaxPool", "MaxPool", "UpSampling"]


def _per_axis(value: Any, rank: int, where: str, arg: str) -> tuple[int, ...]:
    return per_axis(value, rank, where, arg, " for this input")


def _check_spatial(shape: Shape, where: str) -> None:
    if len(shape) < 3:
        raise ValueError(
            f"{where}: input_shape must be (N, *spatial, C) channels-last with at least one "
            f"spatial axis; got {shape}."
        )


def _blocks(x: Any, win: tuple[int, ...], pads: list[tuple[int, int]], fill: float) -> Any:
    """``x`` padded with ``fill``, cut into non-overlapping windows ``(N, o_1, k_1, ..., C)``.

    Works on NumPy arrays too (``xp=np``), for constants computed while tracing.
    """
    xp: Any = np if isinstance(x, np.ndarray) else jnp
    x = xp.pad(x, [(0, 0), *pads, (0, 0)], constant_values=fill)
    out = [n // k for n, k in zip(x.shape[1:-1], win, strict=True)]
    x = x[(slice(None), *[slice(0, o * k) for o, k in zip(out, win, strict=True)])]
    split = [d for o, k in zip(out, win, strict=True) for d in (o, k)]
    return x.reshape(x.shape[0], *split, x.shape[-1])


def _pool(kind: str, window: Any, strides: Any, padding: str, name: str) -> Layer:
    where = f"{kind} '{name}'"
    if padding not in ("valid", "same"):
        raise ValueError(f"{where}: padding must be 'valid' or 'same'; got {padding!r}.")

    def geometry(shape: Shape) -> tuple[tuple[int, ...], tuple[int, ...], list[tuple[int, int]]]:
        _check_spatial(shape, where)
        rank = len(shape) - 2
        win = _per_axis(window, rank, where, "window")
        stride = _per_axis(window if strides is None else strides, rank, where, "strides")
        pads = resolve_padding(padding, shape[1:-1], win, stride, (1,) * rank, where)
        for axis, (n, k, p) in enumerate(zip(shape[1:-1], win, pads, strict=True)):
            if n != -1 and n + p[0] + p[1] < k:
                raise ValueError(
                    f"{where}: the window ({k}) is larger than the input ({n}) on spatial "
                    f"axis {axis}."
                )
        return win, stride, pads

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # no parameters
        shape = as_shape(input_shape, where=f"{where}.init")
        win, stride, pads = geometry(shape)
        spatial = tuple(
            output_length(n, k, s, 1, p)
            for n, k, s, p in zip(shape[1:-1], win, stride, pads, strict=True)
        )
        return (shape[0], *spatial, shape[-1]), {}, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del params, key, train
        win, stride, pads = geometry(x.shape)
        if win == stride:
            window_axes = tuple(range(2, 2 * len(win) + 1, 2))
            if kind == "MaxPool":
                return _blocks(x, win, pads, -jnp.inf).max(axis=window_axes), state
            total = _blocks(x, win, pads, 0.0).sum(axis=window_axes)
            ones = np.ones((1, *x.shape[1:-1], 1), np.float32)
            count = _blocks(ones, win, pads, 0.0).sum(axis=window_axes)
            return total / count.astype(x.dtype), state
        dims, steps, padding_all = (1, *win, 1), (1, *stride, 1), [(0, 0), *pads, (0, 0)]
        if kind == "MaxPool":
            y = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, dims, steps, padding_all)
            return y.astype(x.dtype), state
        total = jax.lax.reduce_window(x, 0.0, jax.lax.add, dims, steps, padding_all)
        count = jax.lax.reduce_window(jnp.ones_like(x), 0.0, jax.lax.add, dims, steps, padding_all)
        return total / count, state

    config = {"type": kind, "window": window, "strides": strides, "padding": padding, "name": name}
    return Layer(init, apply, name, config)


def MaxPool(
    window: Any, *, strides: Any = None, padding: str = "valid", name: str = "max_pool"
) -> Layer:
    r"""Max pooling: :math:`y[n, o, c] = \max_{k} x[n, o \cdot s + k - p_0, c]`.

    Args:
        window: An int or one int per spatial axis.
        strides: Default: the window (non-overlapping).
        padding: ``"valid"`` (default) or ``"same"``.
        name: The layer's name (default ``"max_pool"``).

    Returns:
        A :class:`~jaxnn.Layer` with no params.

    Shapes:
        - x: ``(N, *spatial, C)``; y: ``(N, *spatial_out, C)``.

    Raises:
        ValueError: For a window larger than the input, an unknown padding, or an input without a
            spatial axis.

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
        >>> MaxPool(2).apply({}, {}, x)[0][0, :, :, 0].tolist()
        [[5.0, 7.0], [13.0, 15.0]]
    """
    return _pool("MaxPool", window, strides, padding, name)


def AvgPool(
    window: Any, *, strides: Any = None, padding: str = "valid", name: str = "avg_pool"
) -> Layer:
    r"""Average pooling over each window (only real elements count with ``"same"`` padding).

    Args and returns as :func:`MaxPool` (default name ``"avg_pool"``).

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
        >>> AvgPool(2).apply({}, {}, x)[0][0, :, :, 0].tolist()
        [[2.5, 4.5], [10.5, 12.5]]
    """
    return _pool("AvgPool", window, strides, padding, name)


def _global(kind: str, reduce: Any, name: str) -> Layer:
    where = f"{kind} '{name}'"

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key
        shape = as_shape(input_shape, where=f"{where}.init")
        _check_spatial(shape, where)
        return (shape[0], shape[-1]), {}, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del params, key, train
        _check_spatial(x.shape, where)
        return reduce(x, axis=tuple(range(1, x.ndim - 1))), state

    return Layer(init, apply, name, {"type": kind, "name": name})


def GlobalAvgPool(*, name: str = "global_avg_pool") -> Layer:
    """Averages over every spatial axis: ``(N, *spatial, C) -> (N, C)``.

    Example:
        >>> import jax.numpy as jnp
        >>> GlobalAvgPool().apply({}, {}, jnp.arange(8.0).reshape(1, 2, 2, 2))[0].tolist()
        [[3.0, 4.0]]
    """
    return _global("GlobalAvgPool", jnp.mean, name)


def GlobalMaxPool(*, name: str = "global_max_pool") -> Layer:
    """Maximum over every spatial axis: ``(N, *spatial, C) -> (N, C)``.

    Example:
        >>> import jax.numpy as jnp
        >>> GlobalMaxPool().apply({}, {}, jnp.arange(8.0).reshape(1, 2, 2, 2))[0].tolist()
        [[6.0, 7.0]]
    """
    return _global("GlobalMaxPool", jnp.max, name)


def UpSampling(size: Any = 2, *, name: str = "up_sampling") -> Layer:
    """Nearest-neighbour up-sampling: repeats each element ``size`` times along each spatial axis.

    Example:
        >>> import jax.numpy as jnp
        >>> UpSampling(2).apply({}, {}, jnp.array([[[1.0], [2.0]]]))[0][0, :, 0].tolist()
        [1.0, 1.0, 2.0, 2.0]
    """
    where = f"UpSampling '{name}'"

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key
        shape = as_shape(input_shape, where=f"{where}.init")
        _check_spatial(shape, where)
        factors = _per_axis(size, len(shape) - 2, where, "size")
        spatial = tuple(-1 if n == -1 else n * f for n, f in zip(shape[1:-1], factors, strict=True))
        return (shape[0], *spatial, shape[-1]), {}, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del params, key, train
        _check_spatial(x.shape, where)
        for axis, f in enumerate(_per_axis(size, x.ndim - 2, where, "size"), start=1):
            x = jnp.repeat(x, f, axis=axis)
        return x, state

    return Layer(init, apply, name, {"type": "UpSampling", "size": size, "name": name})
