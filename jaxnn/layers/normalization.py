r"""Normalisation layers: batch, layer, RMS and group normalisation, channels last.

With :math:`S` the set of positions one statistic is taken over,

.. math:: \mu = \frac{1}{|S|}\sum_{i \in S} x_i, \quad
    \sigma^2 = \frac{1}{|S|}\sum_{i \in S} (x_i - \mu)^2, \quad
    y = \gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta

(biased variance): :func:`BatchNorm` takes :math:`S` over the batch and spatial axes of each
channel, :func:`LayerNorm` over the channels of each position, :func:`GroupNorm` over the spatial
axes and one group of channels of each sample. :func:`RMSNorm` does not centre:
:math:`y = \gamma\, x / \sqrt{\frac{1}{|S|}\sum_{i \in S} x_i^2 + \epsilon}` over the axes
of ``axis`` of each position. Every one computes its statistics and the normalisation in float32
(at least) whatever the input's dtype, and casts the result back to it (a bfloat16 activation
stays bfloat16); BatchNorm's running statistics keep their own dtype.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.core import Layer, as_shape, check_positive_int, expand_to
from jaxnn.dtypes import layer_dtypes
from jaxnn.masking import check_batch_mask
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["BatchNorm", "GroupNorm", "LayerNorm", "RMSNorm"]


def _check_features(shape: Shape, where: str) -> int:
    if len(shape) < 2 or shape[-1] < 1:
        raise ValueError(
            f"{where}: input_shape must be (N, ..., C) with a batch axis first and a known number "
            f"of features C; got {shape}."
        )
    return shape[-1]


def _check_x(x: Array, features: int, where: str) -> None:
    if x.ndim < 2 or x.shape[-1] != features:
        raise ValueError(f"{where}: x must have shape (N, ..., {features}); got {x.shape}.")


def _check_epsilon(epsilon: float, where: str) -> None:
    if not epsilon > 0:
        raise ValueError(f"{where}: epsilon must be > 0; got {epsilon}.")


def _scale_and_shift(params: Params, y: Array) -> Array:
    if "gamma" in params:
        y = y * expand_to(params["gamma"], y.ndim)
    if "beta" in params:
        y = y + expand_to(params["beta"], y.ndim)
    return y


def _affine_params(features: int, use_scale: bool, use_bias: bool, dtype: Any) -> Params:
    params = {}
    if use_scale:
        params["gamma"] = jnp.ones((features,), dtype)
    if use_bias:
        params["beta"] = jnp.zeros((features,), dtype)
    return params


def _batch_moments(x: Array, batch_mask: Array | None) -> tuple[Array, Array, Array]:
    """Mean and biased variance per feature over the real rows, and whether there is one.

    Padding rows are selected out (not multiplied by 0), so a NaN in them cannot leak in. Sums
    and the count are at least float32, so that a bfloat16 batch counts its rows exactly.
    """
    axes = tuple(range(x.ndim - 1))
    if batch_mask is None:
        return jnp.mean(x, axis=axes), jnp.var(x, axis=axes), jnp.array(True)
    wide = jnp.promote_types(x.dtype, jnp.float32)
    real = jnp.reshape(batch_mask, batch_mask.shape + (1,) * (x.ndim - 1))
    count = jnp.sum(batch_mask, dtype=wide) * math.prod(x.shape[1:-1])
    safe_count = jnp.maximum(count, 1)
    mean = jnp.sum(jnp.where(real, x, 0), axis=axes, dtype=wide) / safe_count
    centred = jnp.where(real, x - expand_to(mean, x.ndim).astype(x.dtype), 0)
    var = jnp.sum(centred * centred, axis=axes, dtype=wide) / safe_count
    return mean.astype(x.dtype), var.astype(x.dtype), count > 0


def BatchNorm(
    *,
    momentum: float = 0.99,
    epsilon: float = 1e-3,
    use_scale: bool = True,
    use_bias: bool = True,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    name: str = "batch_norm",
) -> Layer:
    r"""Batch normalisation over every axis but the features (the last).

    .. math::
        \mu_B = \frac{1}{M}\sum_i x_i, \quad \sigma_B^2 = \frac{1}{M}\sum_i (x_i - \mu_B)^2,
        \quad y = \gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta

    In training (``train=True``) :math:`\mu, \sigma^2` are the batch statistics
    :math:`\mu_B, \sigma_B^2` (biased variance, over the :math:`M` positions of each feature:
    batch and spatial axes), and the running statistics are updated as

    .. math:: \hat\mu \leftarrow m \hat\mu + (1 - m)\mu_B, \qquad
        \hat\sigma^2 \leftarrow m \hat\sigma^2 + (1 - m)\sigma_B^2

    (Keras' convention: ``momentum`` is the weight of the old value; PyTorch's ``momentum=0.1``
    is ``momentum=0.9`` here, and PyTorch keeps the unbiased variance). In evaluation
    (``train=False``) :math:`\mu, \sigma^2` are the running statistics and the state is
    returned unchanged.

    A padded batch: ``apply(..., batch_mask=mask)`` with ``mask`` a boolean ``(N,)`` array, True
    for the real rows (``fit`` passes it for its partial last batch). In training the sums above
    run over the real rows only, :math:`M = N_\text{real} \cdot H \cdot W \cdots`, so the
    output of the real rows and the new running statistics equal those of the batch without its
    padding; padding rows are normalised with the same :math:`\mu_B, \sigma_B^2`, so shapes
    stay fixed. If no row is real, the running statistics are used and returned unchanged. In
    evaluation the mask changes nothing. ``batch_mask=None`` (the default) means every row is
    real.

    Args:
        momentum: :math:`m`, in ``[0, 1]`` (default 0.99, as Keras).
        epsilon: Added to the variance, > 0 (default 1e-3, as Keras).
        use_scale: Learn :math:`\gamma` (default ``True``).
        use_bias: Learn :math:`\beta` (default ``True``).
        dtype: The dtype of the output (default ``None``: the input's); the statistics run in
            float32 (at least) either way.
        param_dtype: The dtype of params and state (default float32).
        name: The layer's name (default ``"batch_norm"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: ``(N, ..., C)``; y: the same shape.
        - params ``gamma``, ``beta``: ``(C,)``
        - state ``mean``, ``var``: ``(C,)``, starting at 0 and 1.

    Raises:
        ValueError: For ``momentum`` outside ``[0, 1]`` or ``epsilon <= 0`` (at construction); for
            an input without a batch axis or with another number of features (``init``, ``apply``);
            for a ``batch_mask`` whose shape is not ``(N,)`` (``apply``).
        TypeError: For a ``batch_mask`` that is not a boolean array (``apply``).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> bn = BatchNorm()
        >>> _, params, state = bn.init(jax.random.key(0), (-1, 2))
        >>> jax.tree.map(jnp.shape, (params, state))
        ({'beta': (2,), 'gamma': (2,)}, {'mean': (2,), 'var': (2,)})
        >>> x = jnp.array([[1.0, 10.0], [3.0, 30.0]])
        >>> y, new_state = bn.apply(params, state, x, train=True)
        >>> jnp.round(y, 2).tolist()  # each feature normalised over the batch
        [[-1.0, -1.0], [1.0, 1.0]]
        >>> [round(v, 3) for v in new_state["mean"].tolist()]  # 0.99 * 0 + 0.01 * [2, 20]
        [0.02, 0.2]
        >>> padded = jnp.array([[1.0, 10.0], [3.0, 30.0], [1.0, 10.0]])  # row 2 is padding
        >>> mask = jnp.array([True, True, False])
        >>> y, masked_state = bn.apply(params, state, padded, train=True, batch_mask=mask)
        >>> jnp.round(y[:2], 2).tolist(), bool(jnp.all(masked_state["mean"] == new_state["mean"]))
        ([[-1.0, -1.0], [1.0, 1.0]], True)
    """
    where = f"BatchNorm '{name}'"
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"{where}: momentum must be in [0, 1]; got {momentum}.")
    _check_epsilon(epsilon, where)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # deterministic initial values
        shape = as_shape(input_shape, where=f"{where}.init")
        features = _check_features(shape, where)
        state = {
            "mean": jnp.zeros((features,), param_dtype),
            "var": jnp.ones((features,), param_dtype),
        }
        return shape, _affine_params(features, use_scale, use_bias, param_dtype), state

    def apply(
        params: Params,
        state: State,
        x: Array,
        *,
        key: PRNGKey | None = None,
        train: bool = False,
        batch_mask: Array | None = None,
    ) -> tuple[Array, State]:
        del key
        _check_x(x, state["mean"].shape[0], where)
        check_batch_mask(batch_mask, x, where=where)
        x, out_dtype = _wide(x, dtype)  # statistics and normalisation in float32 (at least)
        if train:
            mean, var, has_rows = _batch_moments(x, batch_mask)
            new_state = {
                k: (momentum * state[k] + (1.0 - momentum) * v).astype(state[k].dtype)
                for k, v in (("mean", mean), ("var", var))
            }
            if batch_mask is not None:  # a batch of padding only leaves the statistics alone
                mean = jnp.where(has_rows, mean, state["mean"])
                var = jnp.where(has_rows, var, state["var"])
                new_state = {k: jnp.where(has_rows, v, state[k]) for k, v in new_state.items()}
        else:
            mean, var, new_state = state["mean"], state["var"], state
        y = (x - expand_to(mean, x.ndim)) / expand_to(jnp.sqrt(var + epsilon), x.ndim)
        return _scale_and_shift(params, y).astype(out_dtype), new_state

    config = {
        "type": "BatchNorm",
        "momentum": momentum,
        "epsilon": epsilon,
        "use_scale": use_scale,
        "use_bias": use_bias,
        "dtype": dtype,
        "param_dtype": param_dtype,
        "name": name,
    }
    return Layer(init, apply, name, config)


def LayerNorm(
    *,
    epsilon: float = 1e-3,
    use_scale: bool = True,
    use_bias: bool = True,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    name: str = "layer_norm",
) -> Layer:
    r"""Layer normalisation over the features of each position separately.

    .. math:: \mu = \frac{1}{C}\sum_c x_c, \quad \sigma^2 = \frac{1}{C}\sum_c (x_c - \mu)^2,
        \quad y = \gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta

    Statistics are over the last axis only (biased variance), the same in training and
    evaluation; there is no state.

    Args:
        epsilon: Added to the variance, > 0 (default 1e-3, as Keras; PyTorch uses 1e-5).
        use_scale: Learn :math:`\gamma` (default ``True``).
        use_bias: Learn :math:`\beta` (default ``True``).
        dtype: The dtype of the output (default ``None``: the input's); the statistics run in
            float32 (at least) either way.
        param_dtype: The dtype of the params (default float32).
        name: The layer's name (default ``"layer_norm"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: ``(N, ..., C)``; y: the same shape.
        - params ``gamma``, ``beta``: ``(C,)``; state: ``{}``

    Raises:
        ValueError: For ``epsilon <= 0``, or an input without a batch axis or with another number
            of features.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> ln = LayerNorm()
        >>> _, params, state = ln.init(jax.random.key(0), (-1, 2))
        >>> jnp.round(ln.apply(params, state, jnp.array([[1.0, 3.0]]))[0], 2)
        Array([[-1.,  1.]], dtype=float32)
    """
    where = f"LayerNorm '{name}'"
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)
    _check_epsilon(epsilon, where)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # deterministic initial values
        shape = as_shape(input_shape, where=f"{where}.init")
        features = _check_features(shape, where)
        return shape, _affine_params(features, use_scale, use_bias, param_dtype), {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        features = next(iter(params.values())).shape[0] if params else x.shape[-1]
        _check_x(x, features, where)
        x, out_dtype = _wide(x, dtype)  # statistics in float32 (at least), the result in x's dtype
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.var(x, axis=-1, keepdims=True)
        y = _scale_and_shift(params, (x - mean) / jnp.sqrt(var + epsilon))
        return y.astype(out_dtype), state

    config = {
        "type": "LayerNorm",
        "epsilon": epsilon,
        "use_scale": use_scale,
        "use_bias": use_bias,
        "dtype": dtype,
        "param_dtype": param_dtype,
        "name": name,
    }
    return Layer(init, apply, name, config)


def _wide(x: Array, dtype: str | None) -> tuple[Array, Any]:
    """``x`` in at least float32 for the statistics, and the dtype of the result.

    The result is in the layer's ``dtype`` when it has one, else in ``x``'s (floating) dtype.
    """
    compute = jnp.promote_types(x.dtype, jnp.float32)
    if dtype is not None:
        return x.astype(compute), jnp.dtype(dtype)
    return x.astype(compute), x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else compute


def _check_axis(axis: Any, where: str) -> tuple[int, ...]:
    """``axis`` (an int or a tuple of them) as a sorted tuple of distinct negative ints."""
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    if not items or not all(
        isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in items
    ):
        raise TypeError(
            f"{where}: axis must be a negative int or a non-empty tuple of them, such as -1 or "
            f"(-2, -1); got {type(axis).__name__} {axis!r}."
        )
    axes = tuple(sorted(int(a) for a in items))
    if axes[-1] >= 0 or len(set(axes)) != len(axes):
        raise ValueError(
            f"{where}: axis must hold distinct negative ints, counted from the last axis (-1) so "
            f"that the batch axis is never reduced, such as -1 or (-2, -1); got {axis!r}."
        )
    return axes


def _pattern(axes: tuple[int, ...], sizes: tuple[Any, ...]) -> str:
    """The shape ``(N, ..., 3, *, 4)`` of an input with ``sizes`` on ``axes`` (``*``: any)."""
    known = dict(zip(axes, sizes, strict=True))
    return f"(N, ..., {', '.join(str(known.get(a, '*')) for a in range(axes[0], 0))})"


def _check_rms_shape(shape: Shape, axes: tuple[int, ...], axis: Any, where: str) -> Shape:
    """The sizes of ``shape`` on ``axes``; a batch axis must come before them."""
    symbols = ("C",) if len(axes) == 1 else tuple(f"C{i + 1}" for i in range(len(axes)))
    if len(shape) <= -axes[0] or min(shape[a] for a in axes) < 1:
        raise ValueError(
            f"{where}: input_shape must be {_pattern(axes, symbols)} with a batch axis first and "
            f"known sizes {', '.join(symbols)} on axis={axis!r}; got {shape}."
        )
    return tuple(shape[a] for a in axes)


def RMSNorm(
    *,
    epsilon: float = 1e-6,
    use_scale: bool = True,
    axis: int | tuple[int, ...] = -1,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    name: str = "rms_norm",
) -> Layer:
    r"""Root-mean-square normalisation: rescales each position by its RMS, without centring.

    .. math:: y = \gamma \frac{x}{\sqrt{\frac{1}{|S|}\sum_{i \in S} x_i^2 + \epsilon}}

    where :math:`S` are the positions of ``axis`` (the features by default) of one sample and
    position. There is no mean subtracted, no bias and no state; training and evaluation agree.

    Mixed precision: the mean of squares and the reciprocal square root run in float32 (at
    least) for a bfloat16 or float16 input, and the result is cast back to the input's dtype,
    so a half-precision activation keeps its dtype but not the rounding of half-precision
    statistics (mixed-precision training is planned; this is the behaviour it relies on).

    Keras 3's ``keras.layers.RMSNormalization`` computes the same
    :math:`x \cdot \operatorname{rsqrt}(\operatorname{mean}(x^2) + \epsilon) \cdot \gamma`
    in float32 with the same default ``epsilon=1e-6``; its weight is named ``scale``
    (``gamma`` here), it always has one (no ``use_scale``), and it accepts non-negative axes.
    (Keras' function ``keras.ops.rms_normalization`` defaults to ``epsilon=1e-7``.)

    Args:
        epsilon: Added to the mean of squares, > 0 (default 1e-6, as Keras).
        use_scale: Learn :math:`\gamma` (default ``True``).
        axis: The axis, or a tuple of axes, to normalise over, counted from the end (negative):
            default -1, the features; ``(-2, -1)`` normalises over the last two axes.
        dtype: The dtype of the output (default ``None``: the input's); the statistics run in
            float32 (at least) either way.
        param_dtype: The dtype of the params (default float32).
        name: The layer's name (default ``"rms_norm"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: ``(N, ..., C)``; y: the same shape and dtype.
        - params ``gamma``: ``(C,)`` (the sizes of the ``axis`` axes, in order); state: ``{}``

    Raises:
        ValueError: For ``epsilon <= 0`` or an ``axis`` that is not negative or repeats an axis
            (at construction); for an input without a batch axis before the ``axis`` axes or
            with other sizes on them (``init``, ``apply``).
        TypeError: For an ``axis`` that is not an int or a tuple of ints (at construction).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> rms = RMSNorm()
        >>> _, params, state = rms.init(jax.random.key(0), (-1, 2))
        >>> jax.tree.map(jnp.shape, params)
        {'gamma': (2,)}
        >>> y, _ = rms.apply(params, state, jnp.array([[3.0, 4.0]]))  # RMS = sqrt(12.5)
        >>> [round(v, 3) for v in y[0].tolist()]
        [0.849, 1.131]
        >>> rms.apply(params, state, jnp.ones((1, 2), jnp.bfloat16))[0].dtype
        dtype(bfloat16)

    References:
        Zhang & Sennrich, "Root Mean Square Layer Normalization", NeurIPS 2019.
    """
    where = f"RMSNorm '{name}'"
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)
    _check_epsilon(epsilon, where)
    axes = _check_axis(axis, where)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # deterministic initial values
        shape = as_shape(input_shape, where=f"{where}.init")
        sizes = _check_rms_shape(shape, axes, axis, where)
        return shape, ({"gamma": jnp.ones(sizes, param_dtype)} if use_scale else {}), {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        sizes = tuple(params["gamma"].shape) if "gamma" in params else ("*",) * len(axes)
        if x.ndim < 1 - axes[0] or ("gamma" in params and sizes != tuple(x.shape[a] for a in axes)):
            raise ValueError(f"{where}: x must have shape {_pattern(axes, sizes)}; got {x.shape}.")
        wide, out_dtype = _wide(x, dtype)
        y = wide * jax.lax.rsqrt(jnp.mean(jnp.square(wide), axis=axes, keepdims=True) + epsilon)
        if "gamma" in params:
            broadcast = tuple(d if i - x.ndim in axes else 1 for i, d in enumerate(x.shape))
            y = y * jnp.reshape(params["gamma"], broadcast)
        return y.astype(out_dtype), state

    config = {
        "type": "RMSNorm",
        "epsilon": epsilon,
        "use_scale": use_scale,
        "axis": axes[0] if isinstance(axis, (int, np.integer)) else axes,
        "dtype": dtype,
        "param_dtype": param_dtype,
        "name": name,
    }
    return Layer(init, apply, name, config)


def _check_groups(groups: int, channels: int, where: str) -> None:
    if channels % groups:
        divisors = [d for d in range(1, channels + 1) if channels % d == 0]
        raise ValueError(
            f"{where}: groups={groups} must divide the number of channels C={channels}; got "
            f"C % groups = {channels % groups}. Choose groups among {divisors}."
        )


def GroupNorm(
    groups: int = 32,
    *,
    epsilon: float = 1e-3,
    use_scale: bool = True,
    use_bias: bool = True,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    name: str = "group_norm",
) -> Layer:
    r"""Group normalisation: each sample's channels split into groups, normalised per group.

    .. math:: \mu_{ng} = \frac{1}{|S_g|}\sum_{i \in S_g} x_{ni}, \quad
        \sigma_{ng}^2 = \frac{1}{|S_g|}\sum_{i \in S_g} (x_{ni} - \mu_{ng})^2, \quad
        y_{nc} = \gamma_c \frac{x_{nc} - \mu_{ng}}{\sqrt{\sigma_{ng}^2 + \epsilon}} + \beta_c

    for a channels-last input ``(N, ..., C)``: the :math:`C` channels are split into ``groups``
    consecutive groups of :math:`C / G` channels, and :math:`S_g` holds every spatial position
    and channel of group :math:`g` of sample :math:`n` (biased variance; :math:`c` in group
    :math:`g`). ``gamma`` and ``beta`` are per channel. Samples never mix, so training and
    evaluation agree and there is no state. ``groups=1`` is layer normalisation over every
    non-batch axis; ``groups=C`` is instance normalisation (each channel over space).

    Mixed precision: the statistics run in float32 (at least) for a bfloat16 or float16 input,
    and the result is cast back to the input's dtype.

    Keras 3's ``keras.layers.GroupNormalization`` computes the same, with ``epsilon`` added to
    the variance (default 1e-3 in both); it spells instance normalisation ``groups=-1`` (here
    ``groups=C``), normalises another ``axis`` (here channels last only), and returns its own
    compute dtype (float32 for a bfloat16 input to a float32 layer), where this layer returns
    the input's dtype.

    Args:
        groups: :math:`G`, the number of groups, >= 1, dividing :math:`C` (default 32, as Keras).
        epsilon: Added to the variance, > 0 (default 1e-3, as Keras; PyTorch uses 1e-5).
        use_scale: Learn :math:`\gamma` (default ``True``).
        use_bias: Learn :math:`\beta` (default ``True``).
        dtype: The dtype of the output (default ``None``: the input's); the statistics run in
            float32 (at least) either way.
        param_dtype: The dtype of the params (default float32).
        name: The layer's name (default ``"group_norm"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: ``(N, ..., C)``, e.g. images ``(N, H, W, C)``; y: the same shape and dtype.
        - params ``gamma``, ``beta``: ``(C,)``; state: ``{}``

    Raises:
        ValueError: For ``groups < 1`` or ``epsilon <= 0`` (at construction); for an input
            without a batch axis, with another number of channels, or whose channels ``groups``
            does not divide (``init``, ``apply``).
        TypeError: For a ``groups`` that is not an int (at construction).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> gn = GroupNorm(2)
        >>> _, params, state = gn.init(jax.random.key(0), (-1, 2, 4))
        >>> jax.tree.map(jnp.shape, params)
        {'beta': (4,), 'gamma': (4,)}
        >>> x = jnp.arange(8.0).reshape(1, 2, 4)  # group 0: channels 0, 1 -> {0, 1, 4, 5}
        >>> y, _ = gn.apply(params, state, x)  # each group: mean 2.5 or 4.5, variance 4.25
        >>> [round(v, 2) for v in y[0, 0].tolist()]
        [-1.21, -0.73, -1.21, -0.73]

    References:
        Wu & He, "Group Normalization", ECCV 2018.
    """
    where = f"GroupNorm '{name}'"
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)
    groups = check_positive_int(groups, where=where, arg="groups")
    _check_epsilon(epsilon, where)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # deterministic initial values
        shape = as_shape(input_shape, where=f"{where}.init")
        channels = _check_features(shape, where)
        _check_groups(groups, channels, where)
        return shape, _affine_params(channels, use_scale, use_bias, param_dtype), {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        channels = next(iter(params.values())).shape[0] if params else x.shape[-1]
        _check_x(x, channels, where)
        _check_groups(groups, channels, where)
        wide, out_dtype = _wide(x, dtype)
        grouped = jnp.reshape(wide, x.shape[:-1] + (groups, channels // groups))
        axes = (*range(1, x.ndim - 1), x.ndim)  # space and the channels of a group
        centred = grouped - jnp.mean(grouped, axis=axes, keepdims=True)
        var = jnp.mean(jnp.square(centred), axis=axes, keepdims=True)
        y = jnp.reshape(centred * jax.lax.rsqrt(var + epsilon), x.shape)
        return _scale_and_shift(params, y).astype(out_dtype), state

    config = {
        "type": "GroupNorm",
        "groups": groups,
        "epsilon": epsilon,
        "use_scale": use_scale,
        "use_bias": use_bias,
        "dtype": dtype,
        "param_dtype": param_dtype,
        "name": name,
    }
    return Layer(init, apply, name, config)
