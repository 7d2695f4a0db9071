import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.autodiff import descent

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 2))
Y = X @ np.array([1.5, -2.0]) + 0.5 + 0.05 * RNG.normal(size=40)


def least_squares():
    design = np.hstack([X, np.ones((40, 1))])
    return np.linalg.lstsq(design, Y, rcond=None)[0]


def test_hand_written_gradient_equals_jax_grad():
    w, b = np.array([0.3, -0.1]), 0.2
    gw, gb = descent.gradient(w, b, X, Y)
    with jax.enable_x64(True):

        def loss(w, b):
            return jnp.mean((jnp.asarray(X) @ w + b - jnp.asarray(Y)) ** 2)

        jw, jb = jax.grad(loss, argnums=(0, 1))(jnp.asarray(w), jnp.float64(b))
    np.testing.assert_allclose(gw, jw, rtol=1e-12)
    assert gb == pytest.approx(float(jb), rel=1e-12)


@pytest.mark.parametrize(
    ("method", "updates_per_epoch"), [("batch", 1), ("minibatch", 5), ("sgd", 40)]
)
def test_every_method_reaches_the_least_squares_fit(method, updates_per_epoch):
    rate = {"batch": 0.1, "minibatch": 0.05, "sgd": 0.01}[method]
    t = descent.gradient_descent(X, Y, method=method, learning_rate=rate, epochs=300, batch_size=8)
    assert t.updates == 300 * updates_per_epoch
    solution = least_squares()
    np.testing.assert_allclose(t.weights, solution[:2], atol=0.02)
    assert t.bias == pytest.approx(solution[2], abs=0.02)
    assert t.losses[-1] < 0.01 * t.losses[0]


def test_learning_rates_too_small_right_too_large():
    # The Hessian of the MSE is (2/N) [X 1]^T [X 1]; steps above 2 / lambda_max diverge.
    design = np.hstack([X, np.ones((40, 1))])
    limit = 2 / np.linalg.eigvalsh(2 * design.T @ design / 40).max()
    study = descent.learning_rate_study(X, Y, (0.001, 0.5 * limit, 1.2 * limit), epochs=40)
    small, right, large = study.values()
    assert 0.5 < small[-1] / small[0] < 1.0  # crawls
    assert right[-1] < 1e-2 * right[0]  # converges
    assert large[-1] > large[0]  # diverges


def test_errors():
    with pytest.raises(
        ValueError, match=r"method must be one of \['batch', 'minibatch', 'sgd'\]; got 'adam'"
    ):
        descent.gradient_descent(X, Y, method="adam")
    with pytest.raises(ValueError, match=r"y must have shape \(40,\); got \(39,\)"):
        descent.gradient_descent(X, Y[:39])
    with pytest.raises(ValueError, match="learning_rate must be > 0; got -0.1"):
        descent.gradient_descent(X, Y, learning_rate=-0.1)
