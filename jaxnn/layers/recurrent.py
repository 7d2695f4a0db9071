r"""Recurrent layers over ``(N, T, D)`` sequences, stepped with ``lax.scan``: SimpleRNN, LSTM, GRU.

Every layer starts from a zero state, reads the sequence forward (or backward with
``reverse=True``) and returns the last output ``(N, U)`` or, with ``return_sequences=True``,
every output ``(N, T, U)`` in the input's time order. Weights are ``w_x (D, G U)``,
``w_h (U, G U)`` and ``b (G U,)`` with the :math:`G` gates side by side in the order the
equations below list them.

- SimpleRNN: :math:`h_t = \tanh(x_t W_x + h_{t-1} W_h + b)`.
- LSTM (gates i, f, g, o, as Keras; the forget-gate bias starts at 1):

  .. math:: i = \sigma(\cdot), f = \sigma(\cdot), g = \tanh(\cdot), o = \sigma(\cdot), \quad
      c_t = f c_{t-1} + i g, \quad h_t = o \tanh(c_t)

  where each :math:`(\cdot)` is that gate's slice of :math:`x_t W_x + h_{t-1} W_h + b`.
- GRU (gates z, r, n; the reset gate applied before the recurrent product, as Cho et al. 2014):

  .. math:: z = \sigma(x W_{xz} + h W_{hz} + b_z), \ r = \sigma(x W_{xr} + h W_{hr} + b_r), \
      n = \tanh(x W_{xn} + (r h) W_{hn} + b_n), \ h_t = z h_{t-1} + (1 - z) n
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn import initializers
from jaxnn.core import Layer, as_shape, check_key, check_positive_int, expand_to
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["GRU", "LSTM", "Bidirectional", "SimpleRNN"]

Cell = Callable[[Params, Any, Array], tuple[Any, Array]]


def _sigmoid(x: Array) -> Array:
    return jax.nn.sigmoid(x)


def _simple_cell(params: Params, h: Array, x: Array) -> tuple[Array, Array]:
    h = jnp.tanh(x @ params["w_x"] + h @ params["w_h"] + expand_to(params["b"], 2))
    return h, h


def _lstm_cell(params: Params, carry: tuple[Array, Array], x: Array) -> tuple[Any, Array]:
    h, c = carry
    gates = x @ params["w_x"] + h @ params["w_h"] + expand_to(params["b"], 2)
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * jnp.tanh(g)
    h = _sigmoid(o) * jnp.tanh(c)
    return (h, c), h


def _gru_cell(params: Params, h: Array, x: Array) -> tuple[Array, Array]:
    xz, xr, xn = jnp.split(x @ params["w_x"] + expand_to(params["b"], 2), 3, axis=-1)
    wz, wr, wn = jnp.split(params["w_h"], 3, axis=-1)
    z = _sigmoid(xz + h @ wz)
    r = _sigmoid(xr + h @ wr)
    n = jnp.tanh(xn + (r * h) @ wn)
    h = z * h + (1.0 - z) * n
    return h, h


def _recurrent(
    kind: str,
    units: int,
    gates: int,
    cell: Cell,
    *,
    return_sequences: bool,
    reverse: bool,
    name: str,
    kernel_init: Any = "glorot_uniform",
    recurrent_init: Any = "orthogonal",
    forget_bias: float = 0.0,
    dtype: Any = jnp.float32,
) -> Layer:
    where = f"{kind} '{name}'"
    check_positive_int(units, where=where, arg="units")
    w_init = initializers.get(kernel_init, where=f"{where} kernel_init")
    h_init = initializers.get(recurrent_init, where=f"{where} recurrent_init")

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        check_key(key, where=f"{where}.init")
        shape = as_shape(input_shape, where=f"{where}.init")
        if len(shape) != 3 or shape[-1] < 1:
            raise ValueError(
                f"{where}: input_shape must be (N, T, D) with a batch axis and a known D; got "
                f"{shape}."
            )
        key_x, key_h = jax.random.split(key)
        w_h = jnp.concatenate(
            [h_init(k, (units, units), dtype) for k in jax.random.split(key_h, gates)], axis=1
        )
        b = jnp.zeros((gates * units,), dtype)
        if forget_bias:
            b = b.at[units : 2 * units].set(forget_bias)
        params = {"w_x": w_init(key_x, (shape[-1], gates * units), dtype), "w_h": w_h, "b": b}
        out = (shape[0], shape[1], units) if return_sequences else (shape[0], units)
        return out, params, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del key, train
        d_in = params["w_x"].shape[0]
        if x.ndim != 3 or x.shape[-1] != d_in:
            raise ValueError(f"{where}: x must have shape (N, T, {d_in}); got {x.shape}.")
        h0 = jnp.zeros((x.shape[0], units), x.dtype)
        carry = (h0, h0) if kind == "LSTM" else h0
        _, outputs = jax.lax.scan(
            lambda c, xt: cell(params, c, xt), carry, jnp.swapaxes(x, 0, 1), reverse=reverse
        )
        if not return_sequences:
            return (outputs[0] if reverse else outputs[-1]), state
        return jnp.swapaxes(outputs, 0, 1), state

    config = {
        "type": kind,
        "units": units,
        "return_sequences": return_sequences,
        "reverse": reverse,
        "name": name,
    }
    return Layer(init, apply, name, config)


def SimpleRNN(
    units: int, *, return_sequences: bool = False, reverse: bool = False, name: str = "simple_rnn"
) -> Layer:
    r"""An Elman RNN: :math:`h_t = \tanh(x_t W_x + h_{t-1} W_h + b)`.

    Args:
        units: :math:`U`.
        return_sequences: Return every step ``(N, T, U)`` instead of the last ``(N, U)``.
        reverse: Read the sequence from the end.
        name: The layer's name (default ``"simple_rnn"``).

    Returns:
        A :class:`~jaxnn.Layer`; params ``w_x (D, U)``, ``w_h (U, U)``, ``b (U,)``.

    Example:
        >>> import jax
        >>> SimpleRNN(5).init(jax.random.key(0), (-1, 7, 3))[0]
        (-1, 5)
    """
    return _recurrent(
        "SimpleRNN",
        units,
        1,
        _simple_cell,
        return_sequences=return_sequences,
        reverse=reverse,
        name=name,
    )


def LSTM(
    units: int, *, return_sequences: bool = False, reverse: bool = False, name: str = "lstm"
) -> Layer:
    """Long short-term memory (gates i, f, g, o; see the module docstring).

    Args and returns as :func:`SimpleRNN` (default name ``"lstm"``); params ``w_x (D, 4U)``,
    ``w_h (U, 4U)``, ``b (4U,)``.

    Example:
        >>> import jax
        >>> LSTM(4, return_sequences=True).init(jax.random.key(0), (-1, 6, 2))[0]
        (-1, 6, 4)
    """
    return _recurrent(
        "LSTM", units, 4, _lstm_cell, return_sequences=return_sequences, reverse=reverse, name=name,
        forget_bias=1.0,
    )  # fmt: skip


def GRU(
    units: int, *, return_sequences: bool = False, reverse: bool = False, name: str = "gru"
) -> Layer:
    """Gated recurrent unit (gates z, r, n; reset before the recurrent product).

    Args and returns as :func:`SimpleRNN` (default name ``"gru"``); params ``w_x (D, 3U)``,
    ``w_h (U, 3U)``, ``b (3U,)``.

    Example:
        >>> import jax
        >>> GRU(4).init(jax.random.key(0), (-1, 6, 2))[0]
        (-1, 4)
    """
    return _recurrent(
        "GRU", units, 3, _gru_cell, return_sequences=return_sequences, reverse=reverse, name=name
    )


def Bidirectional(
    layer_fn: Callable[..., Layer],
    units: int,
    *,
    return_sequences: bool = False,
    name: str = "bidirectional",
) -> Layer:
    """Runs a recurrent layer forward and backward and concatenates the outputs (features last).

    Args:
        layer_fn: ``SimpleRNN``, ``LSTM`` or ``GRU``.
        units: Units of each direction.
        return_sequences: As the wrapped layer.
        name: The layer's name (default ``"bidirectional"``).

    Returns:
        A :class:`~jaxnn.Layer` with params ``{"forward": ..., "backward": ...}``.

    Example:
        >>> import jax
        >>> Bidirectional(GRU, 3).init(jax.random.key(0), (-1, 5, 2))[0]
        (-1, 6)
    """
    from jaxnn.combinators import parallel

    both = parallel(
        layer_fn(units, return_sequences=return_sequences, name="forward"),
        layer_fn(units, return_sequences=return_sequences, reverse=True, name="backward"),
        name=name,
    )
    return both._replace(
        config={"type": "Bidirectional", "layer": layer_fn.__name__, "units": units, "name": name}
    )
