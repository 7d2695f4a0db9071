"""The table of activation functions and their derivatives: :func:`plot_activations`."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.activations import get
from jaxnn.viz.figure import grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_ACTIVATIONS", "plot_activations"]

_WHERE = "plot_activations"

#: The activations :func:`plot_activations` draws by default, in the lecture's order.
DEFAULT_ACTIVATIONS = (
    "identity",
    "heaviside",
    "sign",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "softplus",
    "silu",
)
_NOT_ELEMENTWISE = ("softmax", "log_softmax")
_POINTS = 401  # odd, so that a symmetric range has x = 0 on the grid


def plot_activations(
    names: str | Sequence[str | Callable[..., Any]] | None = None,
    *,
    x_range: tuple[float, float] = (-4, 4),
) -> Figure:
    r"""A grid of activation functions :math:`f`, each with its derivative :math:`f'`.

    Each panel draws :math:`f(x)` (solid) and :math:`f'(x)` (dashed) at 401 evenly spaced
    points of ``x_range``; the derivative is ``jax.vmap(jax.grad(f))``, so at a kink it is the
    value JAX uses there (``relu'(0) = 0``; the step and sign functions have derivative 0).

    Args:
        names: Activation names known to :func:`jaxnn.activations.get` (``"relu"``, ``"swish"``
            ...) or element-wise array functions; default ``None``, :data:`DEFAULT_ACTIVATIONS`
            (identity, heaviside, sign, sigmoid, tanh, relu, leaky_relu, elu, selu, gelu,
            softplus, silu).
        x_range: The interval of :math:`x` drawn, ``(low, high)`` (default ``(-4, 4)``).

    Returns:
        The figure: one Axes per activation, four to a row, titled with the name; on each,
        ``get_lines()[0]`` is :math:`f` and ``get_lines()[1]`` is :math:`f'`.

    Raises:
        ValueError: For an unknown name (from :func:`jaxnn.activations.get`, listing the known
            ones), for ``softmax``/``log_softmax`` (they normalise over an axis, so they have no
            curve), for an empty ``names``, or for an ``x_range`` that is not two finite numbers
            with ``low < high``.
        TypeError: For an entry that is neither a name nor callable.

    Example:
        >>> fig = plot_activations(["relu", "sigmoid"])
        >>> [ax.get_title() for ax in fig.axes]
        ['relu', 'sigmoid']
        >>> fig.axes[0].get_lines()[1].get_ydata()[[0, -1]].tolist()  # relu' at x = -4 and 4
        [0.0, 1.0]
    """
    chosen = list(DEFAULT_ACTIVATIONS) if names is None else _as_list(names)
    if not chosen:
        raise ValueError(f"{_WHERE}: names must hold at least one activation; got {names!r}.")
    for name in chosen:
        if isinstance(name, str) and name.lower() in _NOT_ELEMENTWISE:
            raise ValueError(
                f"{_WHERE}: {name!r} normalises over an axis, so it has no curve f(x); choose "
                f"element-wise activations such as {list(DEFAULT_ACTIVATIONS[:3])}."
            )
    functions = tuple(get(name) for name in chosen)
    x = jnp.linspace(*_check_range(x_range), _POINTS, dtype=jnp.float32)
    values = _curves(functions)(x)
    fig, axes = grid(_WHERE, len(chosen), ncols=4, panel=(3.0, 2.6))
    for name, f, (y, dy), ax in zip(chosen, functions, values, axes, strict=True):
        ax.plot(np.asarray(x), np.asarray(y), "-", color="C0", label="f(x)")
        ax.plot(np.asarray(x), np.asarray(dy), "--", color="C1", label="f'(x)")
        ax.axhline(0.0, color="0.75", linewidth=0.8, zorder=0)
        ax.axvline(0.0, color="0.75", linewidth=0.8, zorder=0)
        ax.set_title(name if isinstance(name, str) else getattr(f, "__name__", repr(f)))
        ax.set_xlabel("x (pre-activation)")
        ax.set_ylabel("f(x), f'(x)")
    axes[0].legend(loc="upper left", fontsize="small")
    fig.suptitle("activation functions f (solid) and their derivatives f' (dashed)")
    return fig


@functools.lru_cache(maxsize=16)
def _curves(functions: tuple[Callable[..., Any], ...]) -> Callable[[Any], Any]:
    """One compiled function giving ``(f(x), f'(x))`` for every activation (cached per tuple)."""

    def curves(x: Any) -> list[tuple[Any, Any]]:
        return [(f(x), jax.vmap(jax.grad(f))(x)) for f in functions]

    return jax.jit(curves)


def _as_list(names: Any) -> list[Any]:
    if isinstance(names, str) or callable(names):
        return [names]
    try:
        return list(names)
    except TypeError as error:
        raise TypeError(
            f"{_WHERE}: names must be an activation name or a list of them; got "
            f"{type(names).__name__}."
        ) from error


def _check_range(x_range: Any) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in x_range)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{_WHERE}: x_range must be two numbers (low, high); got {x_range!r}."
        ) from error
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{_WHERE}: x_range must be finite with low < high; got ({low}, {high}).")
    return low, high
