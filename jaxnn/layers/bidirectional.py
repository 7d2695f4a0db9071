"""Bidirectional: a recurrent layer run forward and backward, outputs joined on the feature axis."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.core import Layer, check_key
from jaxnn.types import Params, PRNGKey, State

__all__ = ["Bidirectional"]

_OWN_ARGS = ("name", "return_sequences", "return_state", "reverse", "units")


def Bidirectional(
    layer_fn: Callable[..., Layer],
    units: int,
    *,
    return_sequences: bool = False,
    return_state: bool = False,
    layer_kwargs: Mapping[str, Any] | None = None,
    name: str = "bidirectional",
) -> Layer:
    """Runs a recurrent layer forward and backward and concatenates the outputs (features last).

    A dict input's ``mask`` goes to both directions; its ``initial_state`` must be a pair
    ``(forward_state, backward_state)``.

    Args:
        layer_fn: ``SimpleRNN``, ``LSTM`` or ``GRU``.
        units: Units of each direction.
        return_sequences: As the wrapped layer (default ``False``).
        return_state: Also return the final states, in Keras' order: the output becomes
            ``(y, *forward_states, *backward_states)``, e.g. ``(y, h_f, c_f, h_b, c_b)`` for the
            LSTM (default ``False``).
        layer_kwargs: More keyword arguments for ``layer_fn``, e.g. ``{"reset_after": False}``
            for a GRU (default none).
        name: The layer's name (default ``"bidirectional"``).

    Returns:
        A :class:`~jaxnn.Layer` with params ``{"forward": ..., "backward": ...}``.

    Raises:
        ValueError: If ``layer_kwargs`` sets an argument that ``Bidirectional`` sets itself.

    Example:
        >>> import jax
        >>> from jaxnn.layers import GRU, LSTM
        >>> Bidirectional(GRU, 3).init(jax.random.key(0), (-1, 5, 2))[0]
        (-1, 6)
        >>> Bidirectional(LSTM, 3, return_state=True).init(jax.random.key(0), (-1, 5, 2))[0]
        ((-1, 6), (-1, 3), (-1, 3), (-1, 3), (-1, 3))
    """
    where = f"Bidirectional '{name}'"
    extra = dict(layer_kwargs or {})
    if clash := sorted(set(extra) & set(_OWN_ARGS)):
        raise ValueError(
            f"{where}: layer_kwargs may not set {clash}; Bidirectional sets them. Pass "
            f"return_sequences and return_state to Bidirectional itself."
        )
    own = {"return_sequences": return_sequences, "return_state": return_state, **extra}
    forward = layer_fn(units, **own, name="forward")
    backward = layer_fn(units, **own, reverse=True, name="backward")

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

    def combine(y_f: Any, y_b: Any) -> Any:
        """Outputs (or their shapes) of both directions, then their states, forward first."""
        if not return_state:
            return join(y_f, y_b)
        return (join(y_f[0], y_b[0]), *y_f[1:], *y_b[1:])

    def init(key: PRNGKey, input_shape: Any) -> tuple[Any, Params, State]:
        check_key(key, where=f"{where}.init")
        key_f, key_b = jax.random.split(key)
        fwd, bwd = halves(input_shape)
        shape_f, params_f, _ = forward.init(key_f, fwd)
        shape_b, params_b, _ = backward.init(key_b, bwd)
        return combine(shape_f, shape_b), {"forward": params_f, "backward": params_b}, {}

    def apply(
        params: Params, state: State, x: Any, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Any, State]:
        fwd, bwd = halves(x)
        y_f, _ = forward.apply(params["forward"], {}, fwd, key=key, train=train)
        y_b, _ = backward.apply(params["backward"], {}, bwd, key=key, train=train)
        return combine(y_f, y_b), state

    config = {"type": "Bidirectional", "layer": layer_fn.__name__, "units": units,
              "return_sequences": return_sequences, "return_state": return_state,
              "layer_kwargs": extra, "name": name}  # fmt: skip
    return Layer(init, apply, name, config)
