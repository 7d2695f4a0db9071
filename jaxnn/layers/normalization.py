"""Batch and layer normalisation over the feature (last) axis."""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp

from jaxnn.core import Layer, as_shape, expand_to
from jaxnn.masking import check_batch_mask
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["BatchNorm", "LayerNorm"]


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
    dtype: Any = jnp.float32,
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
        dtype: dtype of params and state (default float32).
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
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"{where}: momentum must be in [0, 1]; got {momentum}.")
    _check_epsilon(epsilon, where)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # deterministic initial values
        shape = as_shape(input_shape, where=f"{where}.init")
        features = _check_features(shape, where)
        state = {"mean": jnp.zeros((features,), dtype), "var": jnp.ones((features,), dtype)}
        return shape, _affine_params(features, use_scale, use_bias, dtype), state

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
        if train:
            mean, var, has_rows = _batch_moments(x, batch_mask)
            new_state = {
                "mean": momentum * state["mean"] + (1.0 - momentum) * mean,
                "var": momentum * state["var"] + (1.0 - momentum) * var,
            }
            if batch_mask is not None:  # a batch of padding only leaves the statistics alone
                mean = jnp.where(has_rows, mean, state["mean"])
                var = jnp.where(has_rows, var, state["var"])
                new_state = {k: jnp.where(has_rows, v, state[k]) for k, v in new_state.items()}
        else:
            mean, var, new_state = state["mean"], state["var"], state
        y = (x - expand_to(mean, x.ndim)) / expand_to(jnp.sqrt(var + epsilon), x.ndim)
        return _scale_and_shift(params, y), new_state

    config = {
        "type": "BatchNorm",
        "momentum": momentum,
        "epsilon": epsilon,
        "use_scale": use_scale,
        "use_bias": use_bias,
        "dtype": jnp.dtype(dtype).name,
        "name": name,
    }
    return Layer(init, apply, name, config)


def LayerNorm(
    *,
    epsilon: float = 1e-3,
    use_scale: bool = True,
    use_bias: bool = True,
    dtype: Any = jnp.float32,
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
        dtype: dtype of the params (default float32).
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
    _check_epsilon(epsilon, where)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # deterministic initial values
        shape = as_shape(input_shape, where=f"{where}.init")
        features = _check_features(shape, where)
        return shape, _affine_params(features, use_scale, use_bias, dtype), {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        features = next(iter(params.values())).shape[0] if params else x.shape[-1]
        _check_x(x, features, where)
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.var(x, axis=-1, keepdims=True)
        return _scale_and_shift(params, (x - mean) / jnp.sqrt(var + epsilon)), state

    config = {
        "type": "LayerNorm",
        "epsilon": epsilon,
        "use_scale": use_scale,
        "use_bias": use_bias,
        "dtype": jnp.dtype(dtype).name,
        "name": name,
    }
    return Layer(init, apply, name, config)
