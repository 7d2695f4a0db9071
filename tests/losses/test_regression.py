import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import losses
from tests.conftest import check_fn_grads

P = np.array([[0.5, -1.0], [2.0, 0.3], [-0.7, 4.0]], np.float32)
T = np.array([[0.0, -1.5], [0.4, 0.1], [-0.2, 1.0]], np.float32)


def np_huber(r, delta):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


@pytest.mark.parametrize(
    ("loss", "reference"),
    [
        (losses.mse, lambda p, t: (p - t) ** 2),
        (losses.mae, lambda p, t: np.abs(p - t)),
        (losses.huber, lambda p, t: np_huber(p - t, 1.0)),
    ],
)
def test_matches_numpy_for_every_reduction(loss, reference):
    terms = reference(P, T)
    np.testing.assert_allclose(loss(P, T), terms.mean(), rtol=1e-6)
    np.testing.assert_allclose(loss(P, T, reduction="none"), terms.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(loss(P, T, reduction="sum"), terms.mean(axis=1).sum(), rtol=1e-6)
    w = np.array([1.0, 0.0, 3.0], np.float32)
    np.testing.assert_allclose(
        loss(P, T, sample_weight=w), (w[:, None] * terms).sum() / (w.sum() * 2), rtol=1e-6
    )


def test_lecture_example_total_absolute_error():
    # Three points on y = x, predictions off by 0.5 in total: MAE = 0.5 / 3.
    pred = jnp.array([1.0, 2.25, 2.75])
    target = jnp.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(losses.mae(pred, target, reduction="sum"), 0.5, rtol=1e-6)


def test_huber_delta():
    r = np.array([0.5, 3.0], np.float32)
    np.testing.assert_allclose(
        losses.huber(r, np.zeros(2, np.float32), delta=2.0), np_huber(r, 2.0).mean(), rtol=1e-6
    )
    with pytest.raises(ValueError, match="huber: delta must be > 0; got 0"):
        losses.huber(r, r, delta=0)


def test_uniform_weights_equal_no_weights_and_zero_weights_drop_rows():
    for loss in (losses.mse, losses.mae, losses.huber):
        np.testing.assert_allclose(loss(P, T, sample_weight=np.full(3, 2.5)), loss(P, T), rtol=1e-6)
        np.testing.assert_allclose(
            loss(P, T, sample_weight=np.array([1.0, 0.0, 1.0])),
            loss(P[[0, 2]], T[[0, 2]]),
            rtol=1e-6,
        )
    assert float(losses.mse(P, T, sample_weight=np.zeros(3))) == 0.0


def test_gradients_match_finite_differences():
    check_fn_grads(lambda p, t: losses.mse(p, t), (P, T), order=2)
    check_fn_grads(lambda p: losses.mae(p, T), (P,))
    check_fn_grads(lambda p: losses.huber(p, T), (P,))


def test_jit_gives_the_same_value():
    np.testing.assert_allclose(jax.jit(losses.mse)(P, T), losses.mse(P, T), rtol=1e-6)


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"mse: predictions and targets must have the same shape; got predictions \(4, 1\) and targets \(4,\)\. Add the trailing axis",
    ):
        losses.mse(jnp.ones((4, 1)), jnp.ones(4))
    with pytest.raises(ValueError, match="mse: class_weight applies to classification losses only"):
        losses.mse(P, T, class_weight=[1.0, 2.0])
    with pytest.raises(
        ValueError,
        match=r"mae: sample_weight must have shape \(N,\) = \(3,\), one weight per sample; got \(2,\)",
    ):
        losses.mae(P, T, sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="mse: sample_weight must be >= 0; got a minimum of -1.0"):
        losses.mse(P, T, sample_weight=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(
        ValueError, match=r"mse: reduction must be one of \['mean', 'none', 'sum'\]; got 'avg'"
    ):
        losses.mse(P, T, reduction="avg")
    with pytest.raises(ValueError, match="mse: predictions need a batch axis"):
        losses.mse(jnp.float32(1.0), jnp.float32(1.0))
