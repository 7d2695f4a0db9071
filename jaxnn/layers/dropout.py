"""Dropout with an explicit key."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.core import Layer, as_shape, check_key
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["Dropout"]


def Dropout(drop_rate: float, *, name: str = "dropout") -> Layer:
    r"""Zeroes each element with probability ``drop_rate`` in training (inverted dropout).

    .. math:: y = \frac{m \odot x}{1 - p}, \quad m_i \sim \operatorname{Bernoulli}(1 - p)
        \quad (\text{train}), \qquad y = x \quad (\text{evaluation})

    Scaling the kept elements by :math:`1/(1-p)` in training keeps :math:`E[y] = x`, so evaluation
    needs no rescaling.

    Args:
        drop_rate: :math:`p`, the probability of zeroing an element, in ``[0, 1)``.
        name: The layer's name (default ``"dropout"``).

    Returns:
        A :class:`~jaxnn.Layer` with no params and no state. ``apply(..., train=True)`` needs a
        ``key``; ``train`` must be a Python bool.

    Shapes:
        - x: any shape; y: the same shape.

    Raises:
        ValueError: For ``drop_rate`` outside ``[0, 1)`` (at construction), or ``train=True``
            without a key (at ``apply``).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = Dropout(0.5)
        >>> x = jnp.ones((1, 6))
        >>> layer.apply({}, {}, x)[0]  # evaluation: the identity
        Array([[1., 1., 1., 1., 1., 1.]], dtype=float32)
        >>> y, _ = layer.apply({}, {}, x, key=jax.random.key(0), train=True)
        >>> sorted(set(y.ravel().tolist()))  # kept elements are scaled by 1 / (1 - 0.5)
        [0.0, 2.0]
    """
    where = f"Dropout '{name}'"
    if isinstance(drop_rate, bool) or not isinstance(drop_rate, (int, float)):
        raise TypeError(
            f"{where}: drop_rate must be a float in [0, 1); got {type(drop_rate).__name__} "
            f"{drop_rate!r}."
        )
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(
            f"{where}: drop_rate is the probability of zeroing an element and must be in [0, 1); "
            f"got {drop_rate}."
        )
    keep_rate = 1.0 - float(drop_rate)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # the mask is drawn at apply time
        return as_shape(input_shape, where=f"{where}.init"), {}, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del params
        if not train or drop_rate == 0.0:
            return x, state
        if key is None:
            raise ValueError(
                f"{where}: apply(train=True) needs a key to draw the dropout mask; got key=None. "
                f"Pass key=jax.random.key(seed), or train=False for evaluation."
            )
        check_key(key, where=f"{where}.apply")
        mask = jax.random.bernoulli(key, keep_rate, x.shape)
        return jnp.where(mask, x / keep_rate, jnp.zeros_like(x)), state

    return Layer(init, apply, name, {"type": "Dropout", "drop_rate": drop_rate, "name": name})
