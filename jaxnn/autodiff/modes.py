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

__all__ = ["Derivatives", "derivatives", "hvp", "jaxpr_text", "passes_for_jacobian"]


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


def jaxpr_text(f: Callable[..., Any], *example_args: Any) -> str:
    """The program JAX traces for ``f`` (its jaxpr): the graph ``jax.grad`` differentiates.

    Put it beside :func:`jaxnn.autodiff.scalar.to_dot` of the same expression: both are graphs of
    primitive operations; JAX's works on whole arrays.

    Example:
        >>> print(jaxpr_text(lambda w, x: jnp.tanh(w * x), 0.5, 2.0))
        { lambda ; a:f32[] b:f32[]. let c:f32[] = mul a b; d:f32[] = tanh c in (d,) }
    """
    return str(jax.make_jaxpr(f)(*example_args))
