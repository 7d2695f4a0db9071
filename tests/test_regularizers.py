import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn import regularizers
from jaxnn.layers import BatchNorm, Dense


def params(seed=0):
    model = jaxnn.serial(Dense(3), BatchNorm(), Dense(2, name="head"))
    return model.init(jax.random.key(seed), (-1, 4))[1]


def test_default_penalises_kernels_only():
    p = params()
    w = [np.asarray(p["dense"]["w"]), np.asarray(p["head"]["w"])]
    np.testing.assert_allclose(
        regularizers.l2(0.1)(p), 0.1 * sum((a**2).sum() for a in w), rtol=1e-6
    )
    np.testing.assert_allclose(
        regularizers.l1(0.1)(p), 0.1 * sum(np.abs(a).sum() for a in w), rtol=1e-6
    )
    both = regularizers.l1_l2(0.1, 0.2)(p)
    np.testing.assert_allclose(both, regularizers.l1(0.1)(p) + regularizers.l2(0.2)(p), rtol=1e-6)


def test_include_and_exclude_patterns():
    p = params()
    head = np.asarray(p["head"]["w"])
    np.testing.assert_allclose(
        regularizers.l2(1.0, include=["head/*"], exclude=["b"])(p), (head**2).sum(), rtol=1e-6
    )
    gamma = np.asarray(p["batch_norm"]["gamma"])
    np.testing.assert_allclose(
        regularizers.l1(1.0, include=["gamma"])(p), np.abs(gamma).sum(), rtol=1e-6
    )


def test_gradient_of_l2_is_two_lambda_w():
    p = params()
    grads = jax.grad(regularizers.l2(0.5))(p)
    np.testing.assert_allclose(grads["dense"]["w"], 2 * 0.5 * p["dense"]["w"], rtol=1e-6)
    np.testing.assert_array_equal(grads["dense"]["b"], np.zeros(3))
    np.testing.assert_allclose(jax.jit(regularizers.l2(0.5))(p), regularizers.l2(0.5)(p), rtol=1e-6)


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"l1_l2: include=\['kernel'\] exclude=\[\] select no parameter; the parameter paths are \['batch_norm/beta'",
    ):
        regularizers.l2(include=["kernel"])(params())
    with pytest.raises(ValueError, match="l1_l2: the scale must be >= 0; got -0.1"):
        regularizers.l2(-0.1)
    assert float(regularizers.l2(0.0)({"d": {"w": jnp.ones(2)}})) == 0.0
