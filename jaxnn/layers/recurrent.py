r"""Recurrent layers over ``(N, T, D)`` sequences, stepped with ``lax.scan``: SimpleRNN, LSTM, GRU.

Every layer reads the sequence forward (or backward with ``reverse=True``) and returns the final
output ``(N, U)`` or, with ``return_sequences=True``, every output ``(N, T, U)`` in the input's
time order. With ``return_state=True`` it returns a tuple, the output followed by the final
states, as Keras does: ``(y, h)``, or ``(y, h, c)`` for the LSTM, each state ``(N, U)``; ``init``
then gives the matching tuple of shapes.

The input is an array ``(N, T, D)``, or a dict ``{"inputs": (N, T, D), "mask": (N, T),
"initial_state": ...}`` with either key optional:

- ``mask`` (True for real steps) makes padded variable-length sequences exact: a masked step leaves
  the state as it was and outputs zeros, so the final output and the final states are those after
  each sequence's last real step, in either direction. With ``return_sequences=True`` the output is
  again a dict ``{"inputs": (N, T, U), "mask": mask}``, so masked recurrent layers stack.
- ``initial_state`` replaces the zero state: ``(N, U)``, or a pair ``(h, c)`` for the LSTM.

Weights are ``w_x (D, G U)``, ``w_h (U, G U)`` and ``b (G U,)`` with the :math:`G` gates side by
side in the order the equations below list them (the GRU with ``reset_after=True`` adds a
recurrent bias ``b_h (3U,)``).

- SimpleRNN: :math:`h_t = \tanh(x_t W_x + h_{t-1} W_h + b)`.
- LSTM (gates i, f, g, o, as Keras; the forget-gate bias starts at 1):

  .. math:: i = \sigma(\cdot), f = \sigma(\cdot), g = \tanh(\cdot), o = \sigma(\cdot), \quad
      c_t = f c_{t-1} + i g, \quad h_t = o \tanh(c_t)

  where each :math:`(\cdot)` is that gate's slice of :math:`x_t W_x + h_{t-1} W_h + b`.
- GRU (gates z, r, n): see :func:`GRU` for its two variants.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn import initializers
from jaxnn.core import Layer, as_shape, check_key, check_positive_int, expand_to
from jaxnn.dtypes import compute_in, layer_dtypes
from jaxnn.types import Array, Params, PRNGKey, State

__all__ = ["GRU", "LSTM", "SimpleRNN"]

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
    """``reset_after=False``: the reset gate scales ``h`` before the recurrent product."""
    xz, xr, xn = jnp.split(x @ params["w_x"] + expand_to(params["b"], 2), 3, axis=-1)
    wz, wr, wn = jnp.split(params["w_h"], 3, axis=-1)
    z = _sigmoid(xz + h @ wz)
    r = _sigmoid(xr + h @ wr)
    n = jnp.tanh(xn + (r * h) @ wn)
    h = z * h + (1.0 - z) * n
    return h, h


def _gru_cell_reset_after(params: Params, h: Array, x: Array) -> tuple[Array, Array]:
    """``reset_after=True``: one recurrent product for all gates; reset scales its n slice."""
    xz, xr, xn = jnp.split(x @ params["w_x"] + expand_to(params["b"], 2), 3, axis=-1)
    hz, hr, hn = jnp.split(h @ params["w_h"] + expand_to(params["b_h"], 2), 3, axis=-1)
    z = _sigmoid(xz + hz)
    r = _sigmoid(xr + hr)
    n = jnp.tanh(xn + r * hn)
    h = z * h + (1.0 - z) * n
    return h, h


def _split_input(x: Any, where: str) -> tuple[Any, Any, Any]:
    """``(inputs, mask, initial_state)`` from an array or a dict input."""
    if not isinstance(x, Mapping):
        return x, None, None
    unknown = sorted(set(x) - {"inputs", "mask", "initial_state"})
    if unknown or "inputs" not in x:
        raise ValueError(
            f"{where}: a dict input needs 'inputs' and may have 'mask' and 'initial_state'; "
            f"got keys {sorted(x)}."
        )
    return x["inputs"], x.get("mask"), x.get("initial_state")


def _initial_carry(kind: str, units: int, h0: Any, n: int, dtype: Any, where: str) -> Any:
    """The zero state, or ``initial_state`` checked and cast: ``h``, or ``(h, c)`` for the LSTM."""
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


def _scan(
    cell: Cell, params: Params, carry: Any, x: Array, mask: Any, reverse: bool
) -> tuple[Any, Array]:
    """Runs ``cell`` over the time axis: the final carry and the outputs ``(N, T, U)``.

    A masked step keeps the carry and outputs zeros, so the final carry is the one after each
    sequence's last real step.
    """
    xs = jnp.swapaxes(x, 0, 1)
    if mask is None:
        carry, outputs = jax.lax.scan(lambda c, xt: cell(params, c, xt), carry, xs, reverse=reverse)
        return carry, jnp.swapaxes(outputs, 0, 1)
    keep_all = jnp.swapaxes(jnp.asarray(mask, bool), 0, 1)[..., None]

    def step(c: Any, inputs: tuple[Array, Array]) -> tuple[Any, Array]:
        xt, keep = inputs
        new, out = cell(params, c, xt)
        new = jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, c)
        return new, jnp.where(keep, out, 0.0)

    carry, outputs = jax.lax.scan(step, carry, (xs, keep_all), reverse=reverse)
    return carry, jnp.swapaxes(outputs, 0, 1)


def _recurrent(
    kind: str,
    units: int,
    gates: int,
    cell: Cell,
    *,
    return_sequences: bool,
    return_state: bool,
    reverse: bool,
    name: str,
    kernel_init: Any = "glorot_uniform",
    recurrent_init: Any = "orthogonal",
    forget_bias: float = 0.0,
    recurrent_bias: bool = False,
    config: Mapping[str, Any] | None = None,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
) -> Layer:
    where = f"{kind} '{name}'"
    dtype, param_dtype = layer_dtypes(dtype, param_dtype, where=where)
    check_positive_int(units, where=where, arg="units")
    w_init = initializers.get(kernel_init, where=f"{where} kernel_init")
    h_init = initializers.get(recurrent_init, where=f"{where} recurrent_init")
    n_states = 2 if kind == "LSTM" else 1

    def init(key: PRNGKey, input_shape: Any) -> tuple[Any, Params, State]:
        check_key(key, where=f"{where}.init")
        inputs, mask, _ = _split_input(input_shape, where)
        shape = as_shape(inputs, where=f"{where}.init")
        if len(shape) != 3 or shape[-1] < 1:
            raise ValueError(
                f"{where}: input_shape must be (N, T, D) with a batch axis and a known D; got "
                f"{shape}."
            )
        key_x, key_h = jax.random.split(key)
        w_h = jnp.concatenate(
            [h_init(k, (units, units), param_dtype) for k in jax.random.split(key_h, gates)], axis=1
        )
        b = jnp.zeros((gates * units,), param_dtype)
        if forget_bias:
            b = b.at[units : 2 * units].set(forget_bias)
        params = {"w_x": w_init(key_x, (shape[-1], gates * units), param_dtype), "w_h": w_h, "b": b}
        if recurrent_bias:
            params["b_h"] = jnp.zeros((gates * units,), param_dtype)
        out: Any = (shape[0], shape[1], units) if return_sequences else (shape[0], units)
        if return_sequences and mask is not None:
            out = {"inputs": out, "mask": as_shape(mask, where=f"{where}.init")}
        if return_state:
            out = (out,) + ((shape[0], units),) * n_states
        return out, params, {}

    def apply(
        params: Params, state: State, x: Any, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Any, State]:
        del key, train
        x, mask, h0 = _split_input(x, where)
        params, x = compute_in(dtype, params, x)
        d_in = params["w_x"].shape[0]
        if x.ndim != 3 or x.shape[-1] != d_in:
            raise ValueError(f"{where}: x must have shape (N, T, {d_in}); got {x.shape}.")
        if mask is not None and jnp.shape(mask) != x.shape[:2]:
            raise ValueError(
                f"{where}: mask must have shape (N, T) = {x.shape[:2]}, one entry per step of x; "
                f"got {jnp.shape(mask)}."
            )
        carry = _initial_carry(kind, units, h0, x.shape[0], x.dtype, where)
        carry, outputs = _scan(cell, params, carry, x, mask, reverse)
        states = carry if kind == "LSTM" else (carry,)
        y: Any = states[0]
        if return_sequences:
            y = outputs if mask is None else {"inputs": outputs, "mask": mask}
        return ((y, *states) if return_state else y), state

    layer_config = {"type": kind, "units": units, "return_sequences": return_sequences,
                    "return_state": return_state, "reverse": reverse, **(config or {}),
                    "dtype": dtype, "param_dtype": param_dtype, "name": name}  # fmt: skip
    return Layer(init, apply, name, layer_config)


def SimpleRNN(
    units: int,
    *,
    return_sequences: bool = False,
    return_state: bool = False,
    reverse: bool = False,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    name: str = "simple_rnn",
) -> Layer:
    r"""An Elman RNN: :math:`h_t = \tanh(x_t W_x + h_{t-1} W_h + b)`.

    Args:
        units: :math:`U`, the size of the state.
        return_sequences: Return every step ``(N, T, U)`` instead of the last ``(N, U)`` (default
            ``False``).
        return_state: Also return the final state: the output becomes the tuple ``(y, h)``
            (default ``False``).
        reverse: Read the sequence from the end (default ``False``).
        dtype: The dtype it computes in (default ``None``: as the input and parameters
            promote); parameters and input are cast to it (:mod:`jaxnn.dtypes`).
        param_dtype: The parameters' dtype (default float32).
        name: The layer's name (default ``"simple_rnn"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        x: ``(N, T, D)``, or a dict with ``mask (N, T)`` and ``initial_state (N, U)``.
        y: ``(N, U)``, or ``(N, T, U)`` with ``return_sequences``; with ``return_state`` the
            tuple ``(y, h)``, ``h (N, U)``.
        params: ``w_x (D, U)``, ``w_h (U, U)``, ``b (U,)``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> SimpleRNN(5).init(jax.random.key(0), (-1, 7, 3))[0]
        (-1, 5)
        >>> rnn = SimpleRNN(5, return_sequences=True, return_state=True)
        >>> rnn.init(jax.random.key(0), (-1, 7, 3))[0]
        ((-1, 7, 5), (-1, 5))
    """
    return _recurrent(
        "SimpleRNN", units, 1, _simple_cell, return_sequences=return_sequences,
        return_state=return_state, reverse=reverse, name=name, dtype=dtype,
        param_dtype=param_dtype,
    )  # fmt: skip


def LSTM(
    units: int,
    *,
    return_sequences: bool = False,
    return_state: bool = False,
    reverse: bool = False,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    name: str = "lstm",
) -> Layer:
    """Long short-term memory (gates i, f, g, o; see the module docstring).

    Args and returns as :func:`SimpleRNN` (default name ``"lstm"``); with ``return_state`` the
    output is ``(y, h, c)``.

    Shapes:
        y: as :func:`SimpleRNN`, or ``(y, h, c)`` with ``h, c (N, U)``.
        params: ``w_x (D, 4U)``, ``w_h (U, 4U)``, ``b (4U,)``.

    Example:
        >>> import jax
        >>> LSTM(4, return_sequences=True).init(jax.random.key(0), (-1, 6, 2))[0]
        (-1, 6, 4)
        >>> LSTM(4, return_state=True).init(jax.random.key(0), (-1, 6, 2))[0]
        ((-1, 4), (-1, 4), (-1, 4))
    """
    return _recurrent(
        "LSTM", units, 4, _lstm_cell, return_sequences=return_sequences, return_state=return_state,
        reverse=reverse, name=name, forget_bias=1.0, dtype=dtype, param_dtype=param_dtype,
    )  # fmt: skip


def GRU(
    units: int,
    *,
    return_sequences: bool = False,
    return_state: bool = False,
    reverse: bool = False,
    reset_after: bool = True,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    name: str = "gru",
) -> Layer:
    r"""Gated recurrent unit (gates z, r, n), by default as Keras 3, cuDNN and PyTorch compute it.

    With ``reset_after=True`` (the default) the reset gate scales the recurrent product, which
    has its own bias :math:`b_h`:

    .. math:: z = \sigma(x W_{xz} + b_z + h W_{hz} + b_{hz}), \quad
        r = \sigma(x W_{xr} + b_r + h W_{hr} + b_{hr}),

        n = \tanh(x W_{xn} + b_n + r \odot (h W_{hn} + b_{hn})), \quad
        h_t = z \odot h_{t-1} + (1 - z) \odot n

    With ``reset_after=False`` (Cho et al. 2014; jaxnn's only GRU before ``reset_after``
    existed) there is no :math:`b_h` and the reset gate scales :math:`h` before the product:
    :math:`n = \tanh(x W_{xn} + b_n + (r \odot h) W_{hn})`. GRU params saved before
    ``reset_after`` existed need ``reset_after=False``.

    Args:
        units: :math:`U`, the size of the state.
        return_sequences: As :func:`SimpleRNN` (default ``False``).
        return_state: Also return the final state: the output becomes ``(y, h)`` (default
            ``False``).
        reverse: Read the sequence from the end (default ``False``).
        reset_after: Apply the reset gate after the recurrent product (default ``True``).
        dtype: The dtype it computes in (default ``None``: as the input and parameters
            promote); parameters and input are cast to it (:mod:`jaxnn.dtypes`).
        param_dtype: The parameters' dtype (default float32).
        name: The layer's name (default ``"gru"``).

    Returns:
        A :class:`~jaxnn.Layer`.

    Shapes:
        x: ``(N, T, D)``, or a dict with ``mask (N, T)`` and ``initial_state (N, U)``.
        y: ``(N, U)``, or ``(N, T, U)`` with ``return_sequences``; with ``return_state`` the
            tuple ``(y, h)``, ``h (N, U)``.
        params: ``w_x (D, 3U)``, ``w_h (U, 3U)`` (columns z, r, n), ``b (3U,)``, and with
            ``reset_after=True`` ``b_h (3U,)``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> GRU(4).init(jax.random.key(0), (-1, 6, 2))[0]
        (-1, 4)
        >>> shape, params, _ = GRU(4, return_state=True).init(jax.random.key(0), (-1, 6, 2))
        >>> shape, jax.tree.map(jnp.shape, params)
        (((-1, 4), (-1, 4)), {'b': (12,), 'b_h': (12,), 'w_h': (4, 12), 'w_x': (2, 12)})
        >>> sorted(GRU(4, reset_after=False).init(jax.random.key(0), (-1, 6, 2))[1])
        ['b', 'w_h', 'w_x']

    References:
        Cho et al. 2014, "Learning Phrase Representations using RNN Encoder-Decoder for
        Statistical Machine Translation"; the ``reset_after`` form is cuDNN's.
    """
    cell = _gru_cell_reset_after if reset_after else _gru_cell
    return _recurrent(
        "GRU", units, 3, cell, return_sequences=return_sequences, return_state=return_state,
        reverse=reverse, name=name, recurrent_bias=reset_after,
        config={"reset_after": reset_after}, dtype=dtype, param_dtype=param_dtype,
    )  # fmt: skip
