"""Dropout with an explicit key."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.core import Layer, as_shape, check_key
from jaxnn.types import Array, Params, PRNGKey, Shape, State

__all__ = ["Dropout"]


def _check_rate(drop_rate: Any, where: str) -> float | Array:
    """``drop_rate`` as a Python float, checked; or a traced scalar as it is (unchecked).

    A concrete scalar array becomes its float (and is checked like one); a traced scalar, such
    as one model's rate under ``jax.vmap``, has no value to check until it runs.
    """
    if isinstance(drop_rate, jax.Array):
        if drop_rate.ndim != 0 or not jnp.issubdtype(drop_rate.dtype, jnp.floating):
            raise TypeError(
                f"{where}: drop_rate given as an array must be a float scalar (shape ()); got "
                f"shape {tuple(drop_rate.shape)} and dtype {drop_rate.dtype}."
            )
        if isinstance(drop_rate, jax.core.Tracer):
            return drop_rate
        drop_rate = float(drop_rate)
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
    return drop_rate


def Dropout(drop_rate: float | Array, *, name: str = "dropout") -> Layer:
    r"""Zeroes each element with probability ``drop_rate`` in training (inverted dropout).

    .. math:: y = \frac{m \odot x}{1 - p}, \quad m_i \sim \operatorname{Bernoulli}(1 - p)
        \quad (\text{train}), \qquad y = x \quad (\text{evaluation})

    Scaling the kept elements by :math:`1/(1-p)` in training keeps :math:`E[y] = x`, so evaluation
    needs no rescaling.

    The rate may also be a traced float scalar: a layer built inside a traced function with
    one model's rate, e.g. under ``jax.vmap`` over a stack of rates, which is how
    :func:`jaxnn.search` trains models that differ in their dropout rates in one compiled call.
    Such a rate cannot be checked (check the values before tracing) and such a layer's config
    holds the tracer, so it is not saved; a model built with a Python float is.

    Args:
        drop_rate: :math:`p`, the probability of zeroing an element, in ``[0, 1)``: a Python
            float (or a concrete scalar array, read as its float), or a traced float scalar.
        name: The layer's name (default ``"dropout"``).

    Returns:
        A :class:`~jaxnn.Layer` with no params and no state. ``apply(..., train=True)`` needs a
        ``key`` (unless ``drop_rate`` is the float 0); ``train`` must be a Python bool.

    Shapes:
        - x: any shape; y: the same shape.

    Raises:
        ValueError: For ``drop_rate`` outside ``[0, 1)`` (at construction), or ``train=True``
            without a key (at ``apply``).
        TypeError: For a ``drop_rate`` that is not a number or a float scalar array.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = Dropout(0.5)
        >>> x = jnp.ones((1, 6))
        >>> layer.apply({}, {}, x)[0]  # evaluation: the identity
        Array([[1., 1., 1., 1., 1., 1.]], dtype=float32)
        >>> y, _ = layer.apply({}, {}, x, key=jax.random.key(0), train=True)
        >>> sorted(set(y.ravel().tolist()))  # kept elements are scaled by 1 / (1 - 0.5)
        [0.0, 2.0]
        >>> def train(rate):  # one model's rate, traced
        ...     return Dropout(rate).apply({}, {}, x, key=jax.random.key(0), train=True)[0]
        >>> ys = jax.vmap(train)(jnp.array([0.0, 0.5]))  # two rates, one compiled call
        >>> ys[0].tolist(), bool(jnp.all(ys[1] == y))
        ([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]], True)
    """
    where = f"Dropout '{name}'"
    drop_rate = _check_rate(drop_rate, where)
    traced = isinstance(drop_rate, jax.Array)

    def init(key: PRNGKey, input_shape: Any) -> tuple[Shape, Params, State]:
        del key  # the mask is drawn at apply time
        return as_shape(input_shape, where=f"{where}.init"), {}, {}

    def apply(
        params: Params, state: State, x: Array, *, key: PRNGKey | None = None, train: bool = False
    ) -> tuple[Array, State]:
        del params
        if not train or (not traced and drop_rate == 0.0):
            return x, state
        if key is None:
            raise ValueError(
                f"{where}: apply(train=True) needs a key to draw the dropout mask; got key=None. "
                f"Pass key=jax.random.key(seed), or train=False for evaluation."
            )
        check_key(key, where=f"{where}.apply")
        # A traced rate of 0 keeps every element (a uniform draw is < 1) and divides by 1.
        keep_rate = 1.0 - drop_rate
        mask = jax.random.bernoulli(key, keep_rate, x.shape)
        # A Python float scales in x's dtype (weak typing); a traced rate is cast to it.
        scale = jnp.asarray(keep_rate, x.dtype) if traced else keep_rate
        return jnp.where(mask, x / scale, jnp.zeros_like(x)), state

    return Layer(init, apply, name, {"type": "Dropout", "drop_rate": drop_rate, "name": name})
