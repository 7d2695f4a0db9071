import jax
import jax.numpy as jnp
import numpy as np

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
