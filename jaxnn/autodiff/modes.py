r"""Forward mode and reverse mode: the same derivatives, computed in opposite directions.

For :math:`f: \mathbb{R}^n \to \mathbb{R}^m` with Jacobian :math:`J`:

- forward mode pushes a tangent :math:`v` through the program, giving :math:`J v` (a JVP) in one
  pass; the full Jacobian takes :math:`n` passes (``jax.jacfwd``);
- reverse mode pulls a cotangent :math:`u` back, giving :math:`u^\top J` (a VJP) in one pass; the
  full Jacobian takes :math:`m` passes (``jax.jacrev``);
- central finite differences need :math:`2n` evaluations of :math:`f` and are only approximate.

A loss has :math:`m = 1` output and :math:`n` = millions of parameters, so one reverse pass gives
the whole gradient: that is why backpropagation is reverse mode. The Hessian-vector product
:math:`H v` is forward over reverse, without ever forming :math:`H`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxnn.types import Array

__all__ = [
    "Counted",
    "Derivatives",
    "count_evaluations",
    "derivatives",
    "flops",
    "hvp",
    "jaxpr_text",
    "passes_for_jacobian",
]

_JACOBIAN_METHODS = ("forward", "reverse", "finite_differences")


class Derivatives(NamedTuple):
    """Every derivative of one function at one point (see :func:`derivatives`)."""

    value: Array
    jvp: Array
    vjp: Array
    jacobian_forward: Array
    jacobian_reverse: Array
    hessian: Array | None


def derivatives(
    f: Callable[[Array], Array], x: Array, tangent: Array, cotangent: Array
) -> Derivatives:
    r"""JVP, VJP, both Jacobians and (for a scalar output) the Hessian of ``f`` at ``x``.

    Args:
        f: A function from ``(n,)`` to ``(m,)`` or to a scalar.
        x: The point, ``(n,)``.
        tangent: :math:`v`, ``(n,)``, for the JVP :math:`J v`.
        cotangent: :math:`u`, shaped like the output, for the VJP :math:`u^\top J`.

    Returns:
        A :class:`Derivatives`; ``hessian`` is ``None`` unless the output is a scalar.

    Example:
        >>> f = lambda x: jnp.array([x[0] * x[1], jnp.sin(x[0])])
        >>> d = derivatives(f, jnp.array([1.0, 2.0]), jnp.array([1.0, 0.0]), jnp.array([1.0, 0.0]))
        >>> d.jvp.tolist(), d.vjp.tolist()   # J v is J's first column; u^T J its first row
        ([2.0, 0.5403022766113281], [2.0, 1.0])
        >>> bool(jnp.allclose(d.jacobian_forward, d.jacobian_reverse))
        True
    """
    value, jvp = jax.jvp(f, (x,), (tangent,))
    _, pullback = jax.vjp(f, x)
    (vjp,) = pullback(cotangent)
    hessian = jax.hessian(f)(x) if jnp.ndim(value) == 0 else None
    return Derivatives(value, jvp, vjp, jax.jacfwd(f)(x), jax.jacrev(f)(x), hessian)


def hvp(f: Callable[[Array], Array], x: Array, v: Array) -> Array:
    r"""The Hessian-vector product :math:`H v = \nabla_x (\nabla f(x) \cdot v)`, forward on reverse.

    Example:
        >>> f = lambda x: jnp.sum(x ** 3)
        >>> hvp(f, jnp.array([1.0, 2.0]), jnp.array([1.0, 1.0])).tolist()  # diag(6 x) v
        [6.0, 12.0]
    """
    return jax.jvp(jax.grad(f), (x,), (v,))[1]


def passes_for_jacobian(n_inputs: int, n_outputs: int) -> dict[str, int]:
    """How many passes (or function evaluations) each method needs for a full Jacobian.

    Example:
        >>> passes_for_jacobian(1_000_000, 1)   # a loss: reverse mode needs one pass
        {'forward': 1000000, 'reverse': 1, 'finite_differences': 2000000}
    """
    return {"forward": n_inputs, "reverse": n_outputs, "finite_differences": 2 * n_inputs}


class Counted(NamedTuple):
    """A Jacobian and what computing it cost, counted as it ran (see :func:`count_evaluations`).

    Attributes:
        jacobian: ``(m, n)`` (``(n,)`` for a scalar output).
        function_calls: How many times the body of ``f`` ran.
        forward_passes: Tangents pushed forward (JVPs).
        backward_passes: Cotangents pulled back (VJPs).
    """

    jacobian: Array
    function_calls: int
    forward_passes: int
    backward_passes: int


def count_evaluations(
    f: Callable[[Array], Array], x: Array, method: str, *, eps: float = 1e-3
) -> Counted:
    r"""Builds the Jacobian of ``f`` at ``x`` one pass at a time, counting the passes.

    ``"forward"`` pushes each unit tangent :math:`e_i` through ``f`` (one JVP, so one run of
    ``f``, per input); ``"reverse"`` runs ``f`` once, keeping what the backward pass needs, then
    pulls back each unit cotangent (one VJP per output); ``"finite_differences"`` evaluates
    :math:`(f(x + \epsilon e_i) - f(x - \epsilon e_i)) / 2\epsilon`. ``f`` is wrapped so that every
    run of its body is counted; nothing is jitted, so every pass really runs. This is what
    ``jax.jacfwd`` and ``jax.jacrev`` do, batched with ``vmap`` (see :func:`flops` for their
    measured cost).

    Args:
        f: A function from ``(n,)`` to ``(m,)`` or to a scalar.
        x: The point, ``(n,)``.
        method: ``"forward"``, ``"reverse"`` or ``"finite_differences"``.
        eps: The finite-difference step (default 1e-3).

    Returns:
        A :class:`Counted`.

    Raises:
        ValueError: For an unknown method (the known ones listed) or an ``x`` that is not 1-D.

    Example:
        >>> f = lambda x: jnp.sum(x ** 2)
        >>> x = jnp.arange(5.0)
        >>> [count_evaluations(f, x, m)[1:] for m in ("forward", "reverse", "finite_differences")]
        [(5, 5, 0), (1, 0, 1), (10, 0, 0)]
        >>> count_evaluations(f, x, "reverse").jacobian.tolist()    # 2 x
        [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    if method not in _JACOBIAN_METHODS:
        raise ValueError(
            f"count_evaluations: method must be one of {list(_JACOBIAN_METHODS)}; got {method!r}."
        )
    if jnp.ndim(x) != 1:
        raise ValueError(
            f"count_evaluations: x must be a vector (n,); got shape {tuple(jnp.shape(x))}."
        )
    calls = 0

    def counted(v: Array) -> Array:
        nonlocal calls
        calls += 1
        return f(v)

    basis = jnp.eye(x.shape[0], dtype=x.dtype)
    if method == "forward":
        columns = [jax.jvp(counted, (x,), (e,))[1] for e in basis]
        return Counted(jnp.stack(columns, -1), calls, len(columns), 0)
    if method == "reverse":
        value, pullback = jax.vjp(counted, x)
        if jnp.ndim(value) == 0:
            return Counted(pullback(jnp.ones_like(value))[0], calls, 0, 1)
        cotangents = jnp.eye(value.size, dtype=value.dtype).reshape(-1, *value.shape)
        rows = [pullback(u)[0] for u in cotangents]
        return Counted(jnp.stack(rows), calls, 0, len(rows))
    columns = [(counted(x + eps * e) - counted(x - eps * e)) / (2 * eps) for e in basis]
    return Counted(jnp.stack(columns, -1), calls, 0, 0)


def flops(f: Callable[..., Any], *example_args: Any) -> float:
    """The floating-point operations XLA counts in the compiled ``f`` (its cost analysis).

    Divide the count of ``jax.jacfwd(f)`` or ``jax.jacrev(f)`` by that of ``f`` to see how many
    evaluations of ``f`` each costs, measured on the program that actually runs.

    Example:
        >>> w = jnp.ones((100, 8))
        >>> f = lambda x: jnp.sum(jnp.tanh(x @ w))
        >>> x = jnp.ones(100)
        >>> forward, reverse = (flops(jax.jacfwd(f), x), flops(jax.jacrev(f), x))
        >>> forward / flops(f, x) > 50, reverse / flops(f, x) < 5   # about n = 100, and about 2
        (True, True)
    """
    cost = jax.jit(f).lower(*example_args).compile().cost_analysis()
    if isinstance(cost, list | tuple):  # older jaxlib: one dict per computation
        cost = cost[0]
    return float(cost.get("flops", 0.0)) if cost else 0.0


def jaxpr_text(f: Callable[..., Any], *example_args: Any) -> str:
    """The program JAX traces for ``f`` (its jaxpr): the graph ``jax.grad`` differentiates.

    Put it beside :func:`jaxnn.autodiff.scalar.to_dot` of the same expression: both are graphs of
    primitive operations; JAX's works on whole arrays.

    Example:
        >>> print(jaxpr_text(lambda w, x: jnp.tanh(w * x), 0.5, 2.0))
        { lambda ; a:f32[] b:f32[]. let c:f32[] = mul a b; d:f32[] = tanh c in (d,) }
    """
    return str(jax.make_jaxpr(f)(*example_args))
