r"""Parameter initializers by name, taken from :mod:`jax.nn.initializers`.

An initializer is a plain function ``(key, shape, dtype) -> array``. Layers accept one of the names
below or any such function. Fan-in and fan-out follow the kernel layout ``(..., D_in, D_out)``:
the second-to-last axis is the input, the last the output (``jax.nn.initializers`` defaults).

==================  ==========================================================================
name                distribution
==================  ==========================================================================
``glorot_uniform``  :math:`U(-a, a)`, :math:`a = \sqrt{6 / (\text{fan\_in} + \text{fan\_out})}`
``glorot_normal``   truncated normal, variance :math:`2 / (\text{fan\_in} + \text{fan\_out})`
``he_uniform``      :math:`U(-a, a)`, :math:`a = \sqrt{6 / \text{fan\_in}}`
``he_normal``       truncated normal, variance :math:`2 / \text{fan\_in}`
``lecun_uniform``   :math:`U(-a, a)`, :math:`a = \sqrt{3 / \text{fan\_in}}`
``lecun_normal``    truncated normal, variance :math:`1 / \text{fan\_in}`
``orthogonal``      a random orthogonal matrix (QR of a Gaussian matrix)
``normal``          :math:`N(0, 0.05^2)` (the Keras ``RandomNormal`` default)
``uniform``         :math:`U(-0.05, 0.05)` (the Keras ``RandomUniform`` default)
``truncated_normal``normal with standard deviation 0.05, cut at two standard deviations
``zeros``, ``ones`` constants
==================  ==========================================================================

``xavier_*`` and ``kaiming_*`` are aliases of ``glorot_*`` and ``he_*``. A named initializer
asked for bfloat16 or float16 draws in float32 and rounds, so a layer with
``param_dtype=bfloat16`` starts from the float32 layer's values rounded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.nn import initializers as jinit

from jaxnn.core import lookup
from jaxnn.types import Array

__all__ = ["get", "names"]


def _centered_uniform(scale: float) -> Callable[..., Array]:
    # jax's uniform(scale) draws from [0, scale); Keras' RandomUniform is symmetric about 0.
    def init(key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype = jnp.float32) -> Array:
        return jax.random.uniform(key, shape, dtype, minval=-scale, maxval=scale)

    return init


def _drawn_in_float32(fn: Callable[..., Array]) -> Callable[..., Array]:
    """``fn`` drawing a narrower float (bfloat16, float16) in float32 and rounding it.

    So ``param_dtype=bfloat16`` starts from the float32 layer's values, rounded, and
    ``orthogonal`` (a QR, which LAPACK has no bfloat16 for) works in every floating dtype.
    """

    def init(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Array:
        dtype = jnp.dtype(dtype)
        if jnp.issubdtype(dtype, jnp.floating) and dtype.itemsize < 4:
            return fn(key, shape, jnp.float32).astype(dtype)
        return fn(key, shape, dtype)

    return init


_BY_NAME: dict[str, Callable[..., Array]] = {
    "glorot_uniform": jinit.glorot_uniform(),
    "glorot_normal": jinit.glorot_normal(),
    "xavier_uniform": jinit.xavier_uniform(),
    "xavier_normal": jinit.xavier_normal(),
    "he_uniform": jinit.he_uniform(),
    "he_normal": jinit.he_normal(),
    "kaiming_uniform": jinit.kaiming_uniform(),
    "kaiming_normal": jinit.kaiming_normal(),
    "lecun_uniform": jinit.lecun_uniform(),
    "lecun_normal": jinit.lecun_normal(),
    "orthogonal": jinit.orthogonal(),
    "normal": jinit.normal(0.05),
    "uniform": _centered_uniform(0.05),
    "truncated_normal": jinit.truncated_normal(0.05),
    "zeros": jinit.zeros,
    "ones": jinit.ones,
}
_BY_NAME = {name: _drawn_in_float32(fn) for name, fn in _BY_NAME.items()}


def names() -> list[str]:
    """All initializer names, sorted.

    Example:
        >>> names()[:3]
        ['glorot_normal', 'glorot_uniform', 'he_normal']
    """
    return sorted(_BY_NAME)


def get(
    initializer: str | Callable[..., Array], *, where: str = "initializer"
) -> Callable[..., Array]:
    """Looks up an initializer by name; a callable is returned as it is.

    Args:
        initializer: A name from the table above (case-insensitive) or a function
            ``(key, shape, dtype) -> array``.
        where: Who is asking (a layer and argument), for the error message.

    Returns:
        The initializer function.

    Raises:
        ValueError: For an unknown name; the message lists the known names.
        TypeError: If ``initializer`` is neither a string nor callable.

    Example:
        >>> import jax
        >>> w = get("he_normal")(jax.random.key(0), (784, 64), jnp.float32)
        >>> w.shape, bool(abs(float(w.std()) - (2 / 784) ** 0.5) < 0.005)
        ((784, 64), True)
    """
    if callable(initializer):
        return initializer
    return lookup(_BY_NAME, initializer, kind="initializer", example="glorot_uniform", where=where)
