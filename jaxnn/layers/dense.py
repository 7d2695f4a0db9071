"""Fully connected layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn import activations, initializers
from jaxnn.core import Layer, as_shape, check_key, check_positive_int, expand_to
from jaxnn.dtypes import compute_in, layer_dtypes
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["Dense"]


def Dense(
    units: int,
    *,
    use_bias: bool = True,
    activation: str | Callable[[Array], Array] | None = None,
    kernel_init: str | Callable[..., Array] = "glorot_uniform",
    bias_init: str | Callable[..., Array] = "zeros",
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    name: str = "dense",
) -> Layer:
    r"""Fully connected layer over the last axis.

    .. math:: y = \phi(x W + b)

    Args:
        units: :math:`D_{out}`, the number of output features.
        use_bias: Add the bias :math:`b` (default ``True``).
        activation: Optional activation :math:`\phi` applied to the output, a name such as
            ``"relu"`` or a function (default ``None``: identity). As Keras' ``Dense(activation=)``.
        kernel_init: Initializer of :math:`W`, a name or function (default ``"glorot_uniform"``).
        bias_init: Initializer of :math:`b` (default ``"zeros"``).
        dtype: The dtype it computes in (default ``None``: as the input and parameters
            promote); parameters and input are cast to it (:mod:`jaxnn.dtypes`).
        param_dtype: The parameters' dtype (default float32).
        name: The layer's name (default ``"dense"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        - x: ``(N, ..., D_in)``
        - y: ``(N, ..., D_out)``
        - params ``w``: ``(D_in, D_out)``; ``b``: ``(D_out,)`` when ``use_bias``
        - state: ``{}``

    Raises:
        TypeError, ValueError: For ``units`` that is not a positive int, or an unknown activation
            or initializer name (at construction); for an input without a batch axis or with the
            wrong number of features (at ``init`` and ``apply``).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = Dense(3)
        >>> out_shape, params, state = layer.init(jax.random.key(0), (-1, 4))
        >>> out_shape, jax.tree.map(jnp.shape, params)
        ((-1, 3), {'b': (3,), 'w': (4, 3)})
    """
    where = f"Dense '{name}'"
    check_positive_int(units, where=where, arg="units")
    phi = None if activation is None else activations.get(activation)
    w_init = initializers.get(kernel_init, where=f"{where} kernel_init")
    b_init = initializers.get(bias_init, where=f"{where} bias_init")
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{where}.init")
        shape = as_shape(input_shape, where=f"{where}.init")
        if len(shape) < 2 or shape[-1] < 1:
            hint = f" Add a batch axis, e.g. (-1, {shape[0]})." if len(shape) == 1 else ""
            raise ValueError(
                f"{where}: input_shape must be (N, ..., D_in) with a batch axis first and a known "
                f"D_in; got {shape}.{hint}"
            )
        key_w, key_b = jax.random.split(key)
        params = {"w": w_init(key_w, (shape[-1], units), param_dtype)}
        if use_bias:
            params["b"] = b_init(key_b, (units,), param_dtype)
        return shape[:-1] + (units,), params, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        d_in = params["w"].shape[0]
        params, x = compute_in(dtype, params, x)
        if x.ndim < 2 or x.shape[-1] != d_in:
            hint = " Add a batch axis, e.g. x[None]." if x.ndim == 1 else ""
            raise ValueError(f"{where}: x must have shape (N, ..., {d_in}); got {x.shape}.{hint}")
        y = x @ params["w"]
        if use_bias:
            y = y + expand_to(params["b"], y.ndim)
        return (y if phi is None else phi(y)), state

    config = {
        "type": "Dense",
        "units": units,
        "use_bias": use_bias,
        "activation": activation,
        "kernel_init": kernel_init,
        "bias_init": bias_init,
        "dtype": dtype,
        "param_dtype": param_dtype,
        "name": name,
    }
    return Layer(init, apply, name, config)
