import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.autodiff import modes
from jaxnn.autodiff.scalar import Value, to_dot


def f(x):
    return jnp.array([jnp.sum(jnp.tanh(x) * x), x[0] * x[-1], jnp.sin(x).prod()])


def test_forward_reverse_and_finite_differences_agree():
    with jax.enable_x64(True):
        x = jnp.array([0.3, -1.2, 0.8, 2.0])
        d = modes.derivatives(f, x, jnp.ones(4), jnp.array([1.0, -1.0, 0.5]))
        eps = 1e-6
        numeric = jnp.stack(
            [(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in jnp.eye(4)], axis=1
        )
        np.testing.assert_allclose(d.jacobian_forward, d.jacobian_reverse, rtol=1e-12)
        np.testing.assert_allclose(d.jacobian_forward, numeric, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(d.jvp, d.jacobian_forward @ jnp.ones(4), rtol=1e-12)
        np.testing.assert_allclose(
            d.vjp, jnp.array([1.0, -1.0, 0.5]) @ d.jacobian_reverse, rtol=1e-12
        )
        assert d.hessian is None


def test_hessian_and_hvp_of_a_quadratic():
    a = jnp.array([[2.0, 1.0], [0.0, 3.0]])

    def quadratic(x):
        return x @ a @ x  # Hessian A + A^T

    d = modes.derivatives(quadratic, jnp.array([1.0, -1.0]), jnp.ones(2), jnp.float32(1.0))
    np.testing.assert_allclose(d.hessian, a + a.T)
    np.testing.assert_allclose(
        modes.hvp(quadratic, jnp.array([0.3, 0.4]), jnp.array([1.0, 2.0])),
        (a + a.T) @ jnp.array([1.0, 2.0]),
    )


def test_pass_counts_and_the_two_graphs_of_one_expression():
    assert modes.passes_for_jacobian(10, 1) == {
        "forward": 10,
        "reverse": 1,
        "finite_differences": 20,
    }
    text = modes.jaxpr_text(lambda w, x: jnp.tanh(w * x), 0.5, 2.0)
    assert "mul" in text and "tanh" in text
    w, x = Value(0.5, label="w"), Value(2.0, label="x")
    y = (w * x).tanh()
    y.backward()
    dot = to_dot(y)
    assert "| *" not in dot and "{ * |" in dot and "{ tanh |" in dot  # the same two operations


def test_count_evaluations_builds_the_jacobian_and_counts_passes():
    with jax.enable_x64(True):
        x = jnp.array([0.3, -1.2, 0.8, 2.0])
        reference = jax.jacfwd(f)(x)
        fwd = modes.count_evaluations(f, x, "forward")
        rev = modes.count_evaluations(f, x, "reverse")
        fd = modes.count_evaluations(f, x, "finite_differences", eps=1e-6)
        np.testing.assert_allclose(fwd.jacobian, reference, rtol=1e-12)
        np.testing.assert_allclose(rev.jacobian, reference, rtol=1e-12)
        np.testing.assert_allclose(fd.jacobian, reference, rtol=1e-7, atol=1e-9)
    # 4 inputs, 3 outputs: n JVPs; one run of f and m VJPs; 2n runs of f.
    assert fwd[1:] == (4, 4, 0)
    assert rev[1:] == (1, 0, 3)
    assert fd[1:] == (8, 0, 0)
    loss = modes.count_evaluations(lambda v: jnp.sum(v**2), jnp.arange(7.0), "reverse")
    assert loss[1:] == (1, 0, 1)  # a loss: one forward run, one backward pass, whatever n is
    np.testing.assert_allclose(loss.jacobian, 2 * np.arange(7.0))


def test_flops_grow_with_inputs_for_forward_mode_only():
    w = jnp.asarray(np.random.default_rng(0).normal(size=(200, 16)), jnp.float32)

    def loss(v):
        return jnp.sum(jnp.tanh(v @ w) ** 2)

    ratios = []
    for n in (20, 200):
        x = jnp.ones(n)
        g = (lambda v, n=n: loss(jnp.pad(v, (0, 200 - n)))) if n < 200 else loss
        base = modes.flops(g, x)
        assert base > 0
        ratios.append((modes.flops(jax.jacfwd(g), x) / base, modes.flops(jax.jacrev(g), x) / base))
    (fwd_small, rev_small), (fwd_large, rev_large) = ratios
    assert fwd_large > 5 * fwd_small  # forward mode: work grows with the inputs
    assert rev_large < 5 and rev_small < 5  # reverse mode: a few evaluations whatever n is


def test_count_evaluations_errors():
    with pytest.raises(ValueError, match=r"method must be one of \['forward', 'reverse', "):
        modes.count_evaluations(f, jnp.ones(3), "central")
    with pytest.raises(ValueError, match=r"x must be a vector \(n,\); got shape \(2, 2\)"):
        modes.count_evaluations(f, jnp.ones((2, 2)), "forward")
