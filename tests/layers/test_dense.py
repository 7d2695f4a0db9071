import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.layers import Dense


def test_dense_matches_numpy_and_stores_kernel_d_in_by_d_out(key):
    layer = Dense(3, activation="relu")
    shape, params, state = layer.init(key, (-1, 4))
    assert shape == (-1, 3) and state == {}
    assert params["w"].shape == (4, 3) and params["b"].shape == (3,)
    np.testing.assert_array_equal(params["b"], np.zeros(3))
    x = np.arange(8, dtype=np.float32).reshape(2, 4) - 3
    w = np.asarray(params["w"])
    y, _ = layer.apply(params, state, jnp.asarray(x))
    np.testing.assert_allclose(y, np.maximum(x @ w, 0), rtol=1e-6)


def test_dense_over_a_sequence_acts_on_the_last_axis(key):
    layer = Dense(2)
    shape, params, _ = layer.init(key, (-1, 5, 3))
    assert shape == (-1, 5, 2)
    x = jax.random.normal(key, (4, 5, 3))
    y, _ = layer.apply(params, {}, x)
    np.testing.assert_allclose(
        y, np.einsum("ntd,de->nte", x, params["w"]) + params["b"][None, None], rtol=1e-5
    )


def test_dense_without_bias_and_with_initializers(key):
    _, params, _ = Dense(3, use_bias=False, kernel_init="ones").init(key, (-1, 2))
    assert set(params) == {"w"}
    np.testing.assert_array_equal(params["w"], np.ones((2, 3)))

    def constant_init(key, shape, dtype):
        return jnp.full(shape, 0.5, dtype)

    _, params, _ = Dense(2, kernel_init=constant_init, bias_init="ones").init(key, (-1, 2))
    np.testing.assert_array_equal(params["w"], np.full((2, 2), 0.5))
    np.testing.assert_array_equal(params["b"], np.ones(2))


def test_dense_glorot_uniform_default_bounds(key):
    _, params, _ = Dense(300).init(key, (-1, 500))
    limit = np.sqrt(6 / (500 + 300))
    w = np.asarray(params["w"])
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit
    assert params["w"].dtype == jnp.float32


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"units": 0}, ValueError, "Dense 'dense': units must be >= 1; got 0"),
        ({"units": 2.0}, TypeError, "Dense 'dense': units must be a positive int; got float 2.0"),
        ({"units": 2, "activation": "rleu"}, ValueError, "Unknown activation 'rleu'"),
        (
            {"units": 2, "kernel_init": "glorot"},
            ValueError,
            r"Dense 'dense' kernel_init: unknown initializer 'glorot'\. Known initializers: glorot_normal, glorot_uniform",
        ),
        (
            {"units": 2, "bias_init": 0},
            TypeError,
            r"Dense 'dense' bias_init must be a name such as 'glorot_uniform' or a callable; got int 0",
        ),
    ],
)
def test_dense_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        Dense(**kwargs)


def test_dense_shape_errors_name_layer_expected_and_received(key):
    layer = Dense(4, name="hidden")
    with pytest.raises(
        ValueError,
        match=r"Dense 'hidden': input_shape must be \(N, \.\.\., D_in\) .* got \(784,\)\. Add a batch axis, e\.g\. \(-1, 784\)",
    ):
        layer.init(key, (784,))
    _, params, _ = layer.init(key, (-1, 784))
    with pytest.raises(
        ValueError,
        match=r"Dense 'hidden': x must have shape \(N, \.\.\., 784\); got \(784,\)\. Add a batch axis, e\.g\. x\[None\]",
    ):
        layer.apply(params, {}, jnp.ones(784))
    with pytest.raises(
        ValueError, match=r"x must have shape \(N, \.\.\., 784\); got \(2, 28, 28\)"
    ):
        layer.apply(params, {}, jnp.ones((2, 28, 28)))
    with pytest.raises(TypeError, match=r"Dense 'hidden'\.init: key must be a PRNG key"):
        layer.init(0, (-1, 3))
