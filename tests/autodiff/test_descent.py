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


def test_three_points_total_absolute_error():
    x, y = descent.three_points()
    # Independent reference: the best line under absolute error by a brute-force grid search.
    ws, bs = np.meshgrid(np.linspace(0, 3, 301), np.linspace(-1, 2, 301), indexing="ij")
    totals = np.abs(ws[..., None] * x + bs[..., None] - y).sum(-1)
    assert totals.min() == pytest.approx(0.5, abs=1e-9)
    i, j = np.unravel_index(totals.argmin(), totals.shape)
    assert (ws[i, j], bs[i, j]) == pytest.approx((1.5, 0.5), abs=1e-9)
    assert descent.best_absolute_line(x, y) == pytest.approx((1.5, 0.5, 0.5))
    assert descent.total_absolute_error(1.5, 0.5, x, y) == pytest.approx(0.5)
    # The least-squares line is another one: 1/6 + 1/3 + 1/6 in total, with less squared error.
    w_ls, b_ls = np.linalg.lstsq(np.c_[x, np.ones(3)], y, rcond=None)[0]
    assert descent.total_absolute_error(w_ls, b_ls, x, y) == pytest.approx(2 / 3)
    assert descent.mse(np.array([w_ls]), b_ls, x[:, None], y) < descent.mse(
        np.array([1.5]), 0.5, x[:, None], y
    )


def test_gradient_descent_on_absolute_error_approaches_the_best_line():
    x, y = descent.three_points()
    mse_fit = descent.gradient_descent(x, y, learning_rate=0.05, epochs=3000)
    assert (mse_fit.weights[0], mse_fit.bias) == pytest.approx((1.5, 2 / 3), abs=1e-6)
    errors = []
    for rate in (0.01, 0.003):
        t = descent.gradient_descent(x, y, learning_rate=rate, epochs=5000, loss="mae")
        errors.append(descent.total_absolute_error(t.weights, t.bias, x, y))
        assert t.losses[-1] == pytest.approx(errors[-1] / 3)
    # Within about a step of 0.5 (the subgradient hovers around the kink), closer for a smaller step.
    assert 0.5 <= errors[1] < errors[0] < 0.56
    assert errors[1] < 0.52


def test_mae_subgradient_equals_jax_grad_away_from_kinks():
    w, b = np.array([0.3, -0.1]), 0.2
    gw, gb = descent.gradient(w, b, X, Y, "mae")
    with jax.enable_x64(True):

        def loss(w, b):
            return jnp.mean(jnp.abs(jnp.asarray(X) @ w + b - jnp.asarray(Y)))

        jw, jb = jax.grad(loss, argnums=(0, 1))(jnp.asarray(w), jnp.float64(b))
    np.testing.assert_allclose(gw, jw, rtol=1e-12)
    assert gb == pytest.approx(float(jb), rel=1e-12)


def test_loss_and_line_errors():
    with pytest.raises(ValueError, match=r"loss must be one of \['mse', 'mae'\]; got 'huber'"):
        descent.gradient_descent(X, Y, loss="huber")
    with pytest.raises(ValueError, match=r"gradient: loss must be one of"):
        descent.gradient(np.zeros(2), 0.0, X, Y, "l1")
    with pytest.raises(
        ValueError, match=r"total_absolute_error: y must have shape \(3,\); got \(2,\)"
    ):
        descent.total_absolute_error(1.0, 0.0, [1, 2, 3], [1, 2])
    with pytest.raises(
        ValueError, match=r"w must have one weight per feature, shape \(1,\); got \(2,\)"
    ):
        descent.total_absolute_error([1.0, 2.0], 0.0, [1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match=r"same length; got 3 and 2"):
        descent.best_absolute_line([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"at least two distinct values"):
        descent.best_absolute_line([1, 1, 1], [1, 2, 3])
