r"""Recurrent layers over ``(N, T, D)`` sequences, stepped with ``lax.scan``: SimpleRNN, LSTM, GRU.

Every layer reads the sequence forward (or backward with ``reverse=True``) and returns the final
output ``(N, U)`` or, with ``return_sequences=True``, every output ``(N, T, U)`` in the input's
time order.

The input is an array ``(N, T, D)``, or a dict ``{"inputs": (N, T, D), "mask": (N, T),
"initial_state": ...}`` with either key optional:

- ``mask`` (True for real steps) makes padded variable-length sequences exact: a masked step leaves
  the state as it was and outputs zeros, so the final output is the state after each sequence's
  last real step, in either direction. With ``return_sequences=True`` the output is again a dict
  ``{"inputs": (N, T, U), "mask": mask}``, so masked recurrent layers stack.
- ``initial_state`` replaces the zero state: ``(N, U)``, or a pair ``(h, c)`` for the LSTM.

Weights are ``w_x (D, G U)``, ``w_h (U, G U)`` and ``b (G U,)`` with the :math:`G` gates side by
side in the order the equations below list them.

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

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn import initializers
from jaxnn.core import Layer, as_shape, check_key, check_positive_int, expand_to
from jaxnn.types import Array, Params, PRNGKey, State

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

    def split(x: Any) -> tuple[Any, Any, Any]:
        if not isinstance(x, Mapping):
            return x, None, None
        unknown = sorted(set(x) - {"inputs", "mask", "initial_state"})
        if unknown or "inputs" not in x:
            raise ValueError(
                f"{where}: a dict input needs 'inputs' and may have 'mask' and 'initial_state'; "
                f"got keys {sorted(x)}."
            )
        return x["inputs"], x.get("mask"), x.get("initial_state")

    def init(key: PRNGKey, input_shape: Any) -> tuple[Any, Params, State]:
        check_key(key, where=f"{where}.init")
        inputs, mask, _ = split(input_shape)
        shape = as_shape(inputs, where=f"{where}.init")
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
        if not return_sequences:
            return (shape[0], units), params, {}
        out = (shape[0], shape[1], units)
        if mask is None:
            return out, params, {}
        return {"inputs": out, "mask": as_shape(mask, where=f"{where}.init")}, params, {}

    def initial_carry(h0: Any, n: int, dtype: Any) -> Any:
        zeros = jnp.zeros((n, units), dtype)
        if h0 is None:
            return (zeros, zeros) if kind == "LSTM" else zeros
        parts = h0 if kind == "LSTM" else (h0,)
        expected = "a pair (h, c) of" if kind == "LSTM" else "an array"
        if (
            kind == "LSTM"
            and not (isinstance(h0, (tuple, list)) and len(h0) == 2)
            or any(jnp.shape(a) != (n, units) for a in parts)
        ):
            got = [jnp.shape(a) for a in h0] if isinstance(h0, (tuple, list)) else jnp.shape(h0)
            raise ValueError(
                f"{where}: initial_state must be {expected} shape ({n}, {units}); got {got}."
            )
        carry = tuple(jnp.asarray(a, dtype) for a in parts)
        return carry if kind == "LSTM" else carry[0]

    def apply(
        params: Params, state: State, x: Any, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Any, State]:
        del key, train
        x, mask, h0 = split(x)
        d_in = params["w_x"].shape[0]
        if x.ndim != 3 or x.shape[-1] != d_in:
            raise ValueError(f"{where}: x must have shape (N, T, {d_in}); got {x.shape}.")
        if mask is not None and jnp.shape(mask) != x.shape[:2]:
            raise ValueError(
                f"{where}: mask must have shape (N, T) = {x.shape[:2]}, one entry per step of x; "
                f"got {jnp.shape(mask)}."
            )
        carry = initial_carry(h0, x.shape[0], x.dtype)
        xs = jnp.swapaxes(x, 0, 1)
        if mask is None:
            carry, outputs = jax.lax.scan(
                lambda c, xt: cell(params, c, xt), carry, xs, reverse=reverse
            )
        else:
            keep_all = jnp.swapaxes(jnp.asarray(mask, bool), 0, 1)[..., None]

            def step(c: Any, inputs: tuple[Array, Array]) -> tuple[Any, Array]:
                xt, keep = inputs
                new, out = cell(params, c, xt)
                new = jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, c)
                return new, jnp.where(keep, out, 0.0)

            carry, outputs = jax.lax.scan(step, carry, (xs, keep_all), reverse=reverse)
        if not return_sequences:
            return (carry[0] if kind == "LSTM" else carry), state
        y = jnp.swapaxes(outputs, 0, 1)
        return (y if mask is None else {"inputs": y, "mask": mask}), state

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

    A dict input's ``mask`` goes to both directions; its ``initial_state`` must be a pair
    ``(forward_state, backward_state)``.

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
    where = f"Bidirectional '{name}'"
    forward = layer_fn(units, return_sequences=return_sequences, name="forward")
    backward = layer_fn(units, return_sequences=return_sequences, reverse=True, name="backward")

    def halves(x: Any) -> tuple[Any, Any]:
        if not isinstance(x, Mapping) or "initial_state" not in x:
            return x, x
        h0 = x["initial_state"]
        if not (isinstance(h0, (tuple, list)) and len(h0) == 2):
            raise ValueError(
                f"{where}: initial_state must be a pair (forward_state, backward_state); got "
                f"{type(h0).__name__}."
            )
        return {**x, "initial_state": h0[0]}, {**x, "initial_state": h0[1]}

    def join(a: Any, b: Any) -> Any:
        if isinstance(a, Mapping):
            return {**a, "inputs": join(a["inputs"], b["inputs"])}
        if isinstance(a, tuple):  # shapes
            return (*a[:-1], a[-1] + b[-1])
        return jnp.concatenate([a, b], axis=-1)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Any, Params, State]:
        check_key(key, where=f"{where}.init")
        key_f, key_b = jax.random.split(key)
        fwd, bwd = halves(input_shape)
        shape_f, params_f, _ = forward.init(key_f, fwd)
        shape_b, params_b, _ = backward.init(key_b, bwd)
        return join(shape_f, shape_b), {"forward": params_f, "backward": params_b}, {}

    def apply(
        params: Params, state: State, x: Any, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Any, State]:
        fwd, bwd = halves(x)
        y_f, _ = forward.apply(params["forward"], {}, fwd, key=key, train=train)
        y_b, _ = backward.apply(params["backward"], {}, bwd, key=key, train=train)
        return join(y_f, y_b), state

    config = {"type": "Bidirectional", "layer": layer_fn.__name__, "units": units,
              "return_sequences": return_sequences, "name": name}  # fmt: skip
    return Layer(init, apply, name, config)
