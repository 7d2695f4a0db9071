import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.layers import BatchNorm, LayerNorm


def np_normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)  # biased
    return (x - mean) / np.sqrt(var + eps)


def test_batchnorm_training_normalises_with_batch_statistics(key):
    bn = BatchNorm(momentum=0.9, epsilon=1e-5)
    _, params, state = bn.init(key, (-1, 3))
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(64, 3)).astype(np.float32)
    y, new_state = bn.apply(params, state, jnp.asarray(x), train=True)
    np.testing.assert_allclose(y, np_normalize(x, 0, 1e-5), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.mean(y, 0), 0, atol=1e-5)
    np.testing.assert_allclose(np.var(y, 0), 1, atol=1e-3)
    # Running statistics: m * old + (1 - m) * batch, biased variance.
    np.testing.assert_allclose(new_state["mean"], 0.1 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(new_state["var"], 0.9 + 0.1 * x.var(0), rtol=1e-5)


def test_batchnorm_evaluation_uses_running_statistics_and_keeps_state(key):
    bn = BatchNorm(epsilon=1e-3)
    _, params, _ = bn.init(key, (-1, 2))
    params = {"gamma": jnp.array([2.0, 0.5]), "beta": jnp.array([1.0, -1.0])}
    state = {"mean": jnp.array([1.0, -2.0]), "var": jnp.array([4.0, 0.25])}
    x = np.array([[3.0, 0.0], [1.0, -2.0]], np.float32)
    y, new_state = bn.apply(params, state, jnp.asarray(x), train=False)
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-3) * [2.0, 0.5] + [1.0, -1.0]
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert new_state is state


def test_batchnorm_on_images_reduces_over_batch_and_space(key):
    bn = BatchNorm(momentum=0.0)
    _, params, state = bn.init(key, (-1, 4, 4, 2))
    x = np.random.default_rng(1).normal(size=(3, 4, 4, 2)).astype(np.float32)
    y, new_state = bn.apply(params, state, jnp.asarray(x), train=True)
    np.testing.assert_allclose(y, np_normalize(x, (0, 1, 2), 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new_state["mean"], x.mean((0, 1, 2)), rtol=1e-5, atol=1e-7)


def test_batchnorm_converges_to_data_statistics(key):
    bn = BatchNorm(momentum=0.5)
    _, params, state = bn.init(key, (-1, 1))
    x = jnp.array([[1.0], [3.0]])  # mean 2, biased var 1
    for _ in range(40):
        _, state = bn.apply(params, state, x, train=True)
    np.testing.assert_allclose(state["mean"], [2.0], rtol=1e-6)
    np.testing.assert_allclose(state["var"], [1.0], rtol=1e-6)


def test_layernorm_matches_numpy(key):
    ln = LayerNorm(epsilon=1e-5)
    _, params, state = ln.init(key, (-1, 3, 4))
    assert state == {} and params["gamma"].shape == (4,)
    params = {"gamma": jnp.array([1.0, 2.0, 3.0, 4.0]), "beta": jnp.array([0.0, 1.0, 0.0, -1.0])}
    x = np.random.default_rng(2).normal(size=(2, 3, 4)).astype(np.float32)
    y, _ = ln.apply(params, state, jnp.asarray(x))
    expected = np_normalize(x, -1, 1e-5) * [1.0, 2.0, 3.0, 4.0] + [0.0, 1.0, 0.0, -1.0]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_normalisation_without_scale_or_bias(key):
    _, params, _ = BatchNorm(use_scale=False, use_bias=False).init(key, (-1, 2))
    assert params == {}
    _, params, _ = LayerNorm(use_scale=False).init(key, (-1, 2))
    assert set(params) == {"beta"}


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: BatchNorm(momentum=1.5),
            r"BatchNorm 'batch_norm': momentum must be in \[0, 1\]; got 1.5",
        ),
        (lambda: BatchNorm(epsilon=0.0), "BatchNorm 'batch_norm': epsilon must be > 0; got 0.0"),
        (lambda: LayerNorm(epsilon=-1.0), "LayerNorm 'layer_norm': epsilon must be > 0; got -1.0"),
    ],
)
def test_constructor_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_shape_errors(key):
    with pytest.raises(
        ValueError, match=r"BatchNorm 'bn': input_shape must be \(N, \.\.\., C\) .* got \(3,\)"
    ):
        BatchNorm(name="bn").init(key, (3,))
    _, params, state = BatchNorm().init(key, (-1, 3))
    with pytest.raises(
        ValueError,
        match=r"BatchNorm 'batch_norm': x must have shape \(N, \.\.\., 3\); got \(2, 4\)",
    ):
        BatchNorm().apply(params, state, jnp.ones((2, 4)), train=True)
    _, params, _ = LayerNorm().init(key, (-1, 3))
    with pytest.raises(
        ValueError,
        match=r"LayerNorm 'layer_norm': x must have shape \(N, \.\.\., 3\); got \(2, 5\)",
    ):
        LayerNorm().apply(params, {}, jnp.ones((2, 5)))
