import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import losses
from tests.conftest import check_fn_grads

Z = np.array([[-2.0], [0.5], [3.0], [-0.3]], np.float32)
Y = np.array([[0.0], [1.0], [0.0], [1.0]], np.float32)


def np_sigmoid_bce(z, y):
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


def np_bce(p, y):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def test_sigmoid_bce_matches_numpy_and_probability_form():
    expected = np_sigmoid_bce(Z.astype(np.float64), Y).mean()
    np.testing.assert_allclose(losses.sigmoid_binary_cross_entropy(Z, Y), expected, rtol=1e-6)
    probs = 1 / (1 + np.exp(-Z))
    np.testing.assert_allclose(losses.binary_cross_entropy(probs, Y), expected, rtol=1e-5)
    np.testing.assert_allclose(
        losses.binary_cross_entropy(Z, Y, from_logits=True), expected, rtol=1e-6
    )


def test_stability_for_extreme_inputs():
    z = jnp.array([-1000.0, 1000.0])
    y = jnp.array([1.0, 0.0])
    np.testing.assert_allclose(losses.sigmoid_binary_cross_entropy(z, y), 1000.0, rtol=1e-6)
    p = jnp.array([0.0, 1.0, 1.0])
    t = jnp.array([1.0, 0.0, 1.0])
    value = losses.binary_cross_entropy(p, t)
    np.testing.assert_allclose(value, np_bce(np.asarray(p), np.asarray(t)).mean(), rtol=1e-3)
    assert np.isfinite(float(value))


def test_class_weights_weigh_by_target_class():
    cw = [1.0, 3.0]
    terms = np_sigmoid_bce(Z.astype(np.float64), Y)[:, 0]
    w = np.where(Y[:, 0] == 1, 3.0, 1.0)
    expected = (w * terms).sum() / w.sum()
    np.testing.assert_allclose(
        losses.sigmoid_binary_cross_entropy(Z, Y, class_weight=cw), expected, rtol=1e-6
    )
    np.testing.assert_allclose(
        losses.sigmoid_binary_cross_entropy(Z, Y, class_weight={1: 3.0}), expected, rtol=1e-6
    )
    # Class weights are sample weights chosen by class.
    np.testing.assert_allclose(
        losses.sigmoid_binary_cross_entropy(Z, Y, class_weight=cw),
        losses.sigmoid_binary_cross_entropy(Z, Y, sample_weight=w),
        rtol=1e-6,
    )
    uniform = losses.binary_cross_entropy(Z, Y, from_logits=True, class_weight=[2.0, 2.0])
    np.testing.assert_allclose(uniform, losses.sigmoid_binary_cross_entropy(Z, Y), rtol=1e-6)


def test_hinge_maps_zero_one_targets_to_minus_one_one():
    scores = np.array([0.5, -2.0, 0.2, 1.5], np.float32)
    t01 = np.array([1.0, 0.0, 0.0, 1.0], np.float32)
    pm = 2 * t01 - 1
    expected = np.maximum(0, 1 - pm * scores).mean()
    np.testing.assert_allclose(losses.hinge(scores, t01), expected, rtol=1e-6)
    np.testing.assert_allclose(losses.hinge(scores, pm), expected, rtol=1e-6)


def test_gradients_match_finite_differences():
    check_fn_grads(lambda z: losses.sigmoid_binary_cross_entropy(z, Y), (Z,), order=2)
    probs = np.array([[0.2], [0.7], [0.4], [0.9]])
    check_fn_grads(lambda p: losses.binary_cross_entropy(p, Y), (probs,), order=2)
    check_fn_grads(lambda s: losses.hinge(s, Y), (Z,))


def test_jitted_with_traced_labels():
    f = jax.jit(losses.sigmoid_binary_cross_entropy)
    np.testing.assert_allclose(f(Z, Y), losses.sigmoid_binary_cross_entropy(Z, Y), rtol=1e-6)


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"sigmoid_binary_cross_entropy: targets must be in \[0, 1\]; got values from -1.0 to 1.0",
    ):
        losses.sigmoid_binary_cross_entropy(jnp.zeros(2), jnp.array([-1.0, 1.0]))
    with pytest.raises(
        ValueError, match=r"hinge: targets must be in \{-1, 1\} or \[0, 1\]; got values from -2.0"
    ):
        losses.hinge(jnp.zeros(2), jnp.array([-2.0, 1.0]))
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy: class_weight must hold one weight per class \(2\) or be a dict \{class: weight\}; got shape \(3,\)",
    ):
        losses.binary_cross_entropy(jnp.full(2, 0.5), jnp.ones(2), class_weight=[1, 2, 3])
    with pytest.raises(
        ValueError, match=r"class_weight keys must be class ids in \[0, 2\); got \[0, 5\]"
    ):
        losses.binary_cross_entropy(jnp.full(2, 0.5), jnp.ones(2), class_weight={0: 1.0, 5: 2.0})
    with pytest.raises(
        ValueError,
        match=r"predictions and targets must have the same shape; got predictions \(4, 1\) and targets \(4,\)",
    ):
        losses.binary_cross_entropy(Z, Y[:, 0])
