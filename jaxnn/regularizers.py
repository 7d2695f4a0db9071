r"""L1 and L2 weight penalties over parameter paths.

A regularizer is a function ``params -> scalar`` that a training step adds to the loss. By default
it covers kernels only (leaves named ``w``), not biases or normalisation scales; ``include`` and
``exclude`` take the path patterns of :mod:`jaxnn.paths`. The scale convention is Keras': no
factor 1/2, so ``l2(0.01)`` adds :math:`0.01 \sum w^2` and its gradient is :math:`0.02 w`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax.numpy as jnp

from jaxnn.paths import Pattern, leaves_with_paths, matches
from jaxnn.types import Array, Params

__all__ = ["l1", "l1_l2", "l2", "select"]


def select(
    params: Params, include: Sequence[Pattern], exclude: Sequence[Pattern] = (), *, where: str
) -> list[tuple[str, Array]]:
    """The ``(path, array)`` pairs matched by ``include`` and by none of ``exclude``.

    Raises:
        ValueError: If no array is selected (a penalty on nothing is a silent bug); the message
            lists the paths there are.

    Example:
        >>> import jax.numpy as jnp
        >>> p = {"dense": {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}}
        >>> [path for path, _ in select(p, ["w"], where="demo")]
        ['dense/w']
    """
    chosen = [
        (path, leaf)
        for path, leaf in leaves_with_paths(params)
        if any(matches(p, path) for p in include) and not any(matches(p, path) for p in exclude)
    ]
    if not chosen:
        paths = [path for path, _ in leaves_with_paths(params)]
        raise ValueError(
            f"{where}: include={list(include)} exclude={list(exclude)} select no parameter; the "
            f"parameter paths are {paths}."
        )
    return chosen


def _check_scale(scale: float, where: str) -> None:
    if not scale >= 0:
        raise ValueError(f"{where}: the scale must be >= 0; got {scale}.")


def l1_l2(
    l1: float = 0.0,
    l2: float = 0.0,
    *,
    include: Sequence[Pattern] = ("w",),
    exclude: Sequence[Pattern] = (),
) -> Callable[[Params], Array]:
    r"""A combined L1 and L2 penalty over the selected parameters.

    .. math:: R(\theta) = \lambda_1 \sum_i |\theta_i| + \lambda_2 \sum_i \theta_i^2

    Args:
        l1: :math:`\lambda_1 \ge 0` (default 0).
        l2: :math:`\lambda_2 \ge 0` (default 0).
        include: Path patterns to penalise (default ``("w",)``: every kernel).
        exclude: Path patterns to leave out (default none).

    Returns:
        ``penalty(params) -> scalar``. It raises ``ValueError`` if the patterns select nothing.

    Example:
        >>> import jax.numpy as jnp
        >>> p = {"dense": {"w": jnp.array([[1.0, -2.0]]), "b": jnp.array([5.0])}}
        >>> l1_l2(0.1, 0.01)(p)  # 0.1 * 3 + 0.01 * 5; the bias is not penalised
        Array(0.35000002, dtype=float32)
    """
    where = "l1_l2"
    _check_scale(l1, where)
    _check_scale(l2, where)

    def penalty(params: Params) -> Array:
        total = jnp.zeros((), jnp.float32)
        for _, w in select(params, include, exclude, where=where):
            if l1:
                total = total + l1 * jnp.sum(jnp.abs(w))
            if l2:
                total = total + l2 * jnp.sum(jnp.square(w))
        return total

    return penalty


def l1(
    scale: float = 0.01, *, include: Sequence[Pattern] = ("w",), exclude: Sequence[Pattern] = ()
) -> Callable[[Params], Array]:
    r"""L1 (lasso) penalty: :math:`R(\theta) = \lambda \sum_i |\theta_i|`.

    Args:
        scale: :math:`\lambda \ge 0` (default 0.01, as Keras).
        include: Path patterns to penalise (default ``("w",)``: every kernel).
        exclude: Path patterns to leave out.

    Returns:
        ``penalty(params) -> scalar``.

    Example:
        >>> import jax.numpy as jnp
        >>> l1(0.5)({"dense": {"w": jnp.array([[1.0, -2.0]])}})
        Array(1.5, dtype=float32)
    """
    return l1_l2(l1=scale, include=include, exclude=exclude)


def l2(
    scale: float = 0.01, *, include: Sequence[Pattern] = ("w",), exclude: Sequence[Pattern] = ()
) -> Callable[[Params], Array]:
    r"""L2 (ridge, weight decay) penalty: :math:`R(\theta) = \lambda \sum_i \theta_i^2`.

    Args:
        scale: :math:`\lambda \ge 0` (default 0.01, as Keras).
        include: Path patterns to penalise (default ``("w",)``: every kernel).
        exclude: Path patterns to leave out.

    Returns:
        ``penalty(params) -> scalar``.

    Example:
        >>> import jax.numpy as jnp
        >>> l2(0.5, include=["dense_1/*"])({"dense_1": {"w": jnp.array([[1.0, -2.0]])}})
        Array(2.5, dtype=float32)
    """
    return l1_l2(l2=scale, include=include, exclude=exclude)
