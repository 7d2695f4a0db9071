"""Tutorial 5: forward mode and reverse mode, and why training uses reverse

For a function f from n inputs to m outputs with Jacobian J, forward mode pushes a tangent v
through the program and gets J v (a Jacobian-vector product, JVP) in one pass; reverse mode pulls
a cotangent u back and gets u^T J (a vector-Jacobian product, VJP) in one pass. A full Jacobian
takes n forward passes or m reverse ones. A loss has one output and many parameters: one reverse
pass gives its whole gradient. That pass is backpropagation.
"""

# %%
# ## The same derivatives, both ways
#
# f(x) = (x0 x1, sin x0, x1^2) at x = (1, 2). Its Jacobian is
# [[x1, x0], [cos x0, 0], [0, 2 x1]]. A JVP with v = e0 gives the first column; a VJP with
# u = e0 gives the first row.

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.autodiff import modes


def f(x):
    return jnp.array([x[0] * x[1], jnp.sin(x[0]), x[1] ** 2])


def rounded(a):
    return np.round(np.asarray(a, np.float64), 4).tolist()


x = jnp.array([1.0, 2.0])
d = modes.derivatives(f, x, tangent=jnp.array([1.0, 0.0]), cotangent=jnp.array([1.0, 0.0, 0.0]))
print("J v   (JVP, v = e0):", rounded(d.jvp))
print("u^T J (VJP, u = e0):", rounded(d.vjp))
print("jacfwd:", rounded(d.jacobian_forward))
print("jacrev:", rounded(d.jacobian_reverse))
print("by hand:", [[2.0, 1.0], [round(float(np.cos(1.0)), 4), 0.0], [0.0, 4.0]])

# %%
# ## Second derivatives
#
# The Hessian of a scalar function is the Jacobian of its gradient (`jax.hessian` is forward
# over reverse). The Hessian-vector product H v needs no Hessian at all: push a tangent through
# the gradient, one forward pass over one reverse pass.


def g(x):
    return jnp.sum(x**3) + x[0] * x[1]


x = jnp.array([1.0, 2.0, 3.0])
h = jax.hessian(g)(x)
print("Hessian:", np.asarray(h).tolist(), "(by hand: diag(6 x) + 1 at (0, 1) and (1, 0))")
v = jnp.array([1.0, 0.0, -1.0])
print("H v by hvp:", modes.hvp(g, x, v).tolist(), "| H @ v:", (h @ v).tolist())

# %%
# ## Counting the passes
#
# `count_evaluations` builds the Jacobian one pass at a time, with f wrapped in a counter: how
# many times f runs, how many tangents go forward, how many cotangents come back. For a loss of
# n inputs, forward mode and finite differences grow with n; reverse mode does not.


def loss(v):
    return jnp.sum(jnp.tanh(v) ** 2)


print("   n | forward: runs of f, JVPs | reverse: runs of f, VJPs | finite differences: runs")
for n in (1, 10, 100):
    v = jnp.linspace(-1.0, 1.0, n)
    fwd, rev, fd = (
        modes.count_evaluations(loss, v, m) for m in ("forward", "reverse", "finite_differences")
    )
    assert np.allclose(fwd.jacobian, rev.jacobian, atol=1e-6)
    print(
        f"{n:4} | {fwd.function_calls:11} {fwd.forward_passes:12} | "
        f"{rev.function_calls:11} {rev.backward_passes:12} | {fd.function_calls:10}"
    )

# %%
# ## Measured on the compiled programs
#
# `jax.jacfwd` and `jax.jacrev` batch those passes with `vmap`, so there is no Python loop to
# count; instead, `modes.flops` reads the number of floating-point operations XLA counts in each
# compiled program. Divided by the count of f itself, it is the cost in evaluations of f: about n
# for forward mode, a small constant for reverse mode.

w = jax.random.normal(jax.random.key(0), (1000, 32)) / 30


def net_loss(x):
    return jnp.sum(jnp.tanh(x @ w) ** 2)


def first_inputs(n):
    """net_loss as a function of its first n inputs (the rest zero)."""
    return lambda x: net_loss(jnp.pad(x, (0, w.shape[0] - n)))


print("   n | jacfwd / f | jacrev / f   (FLOPs)")
for n in (10, 100, 1000):
    x = jnp.ones(n)
    fn = first_inputs(n)
    base = modes.flops(fn, x)
    print(
        f"{n:4} | {modes.flops(jax.jacfwd(fn), x) / base:10.0f} | "
        f"{modes.flops(jax.jacrev(fn), x) / base:10.1f}"
    )

# %%
# Timings of the same three methods as n grows, and the reverse shape (one input, many
# outputs, where forward mode wins), are in [autodiff-modes.md](../autodiff-modes.md).
