import math

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

from jaxnn import activations as act

# Inputs away from every kink (0, +-3 for hard_sigmoid, 6 for relu6).
X = np.array([-4.5, -2.7, -1.3, -0.4, 0.35, 1.1, 2.2, 4.1, 7.3])
ERF = np.vectorize(math.erf)
SQRT2 = math.sqrt(2.0)
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softplus(x):
    return np.log1p(np.exp(x))


def normal_pdf(x):
    return np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)


# name -> (forward in NumPy, derivative as documented in the docstring, in NumPy)
REFERENCE = {
    "identity": (lambda x: x, lambda x: np.ones_like(x)),
    "heaviside": (lambda x: (x >= 0).astype(float), lambda x: np.zeros_like(x)),
    "sign": (np.sign, lambda x: np.zeros_like(x)),
    "sigmoid": (np_sigmoid, lambda x: np_sigmoid(x) * (1 - np_sigmoid(x))),
    "hard_sigmoid": (
        lambda x: np.clip(x / 6 + 0.5, 0, 1),
        lambda x: np.where(np.abs(x) < 3, 1 / 6, 0.0),
    ),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "arctan": (np.arctan, lambda x: 1 / (1 + x**2)),
    "arsinh": (lambda x: np.log(x + np.sqrt(x**2 + 1)), lambda x: 1 / np.sqrt(x**2 + 1)),
    "erf": (ERF, lambda x: 2 / math.sqrt(math.pi) * np.exp(-(x**2))),
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    "relu6": (lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)).astype(float)),
    "leaky_relu": (lambda x: np.where(x >= 0, x, 0.01 * x), lambda x: np.where(x > 0, 1.0, 0.01)),
    "elu": (lambda x: np.where(x > 0, x, np.expm1(x)), lambda x: np.where(x > 0, 1.0, np.exp(x))),
    "selu": (
        lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
        lambda x: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(x)),
    ),
    "gelu": (
        lambda x: x / 2 * (1 + ERF(x / SQRT2)),
        lambda x: 0.5 * (1 + ERF(x / SQRT2)) + x * normal_pdf(x),
    ),
    "softplus": (np_softplus, np_sigmoid),
    "softsign": (lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2),
    "silu": (
        lambda x: x * np_sigmoid(x),
        lambda x: np_sigmoid(x) * (1 + x * (1 - np_sigmoid(x))),
    ),
    "mish": (
        lambda x: x * np.tanh(np_softplus(x)),
        lambda x: np.tanh(np_softplus(x)) + x * np_sigmoid(x) * (1 - np.tanh(np_softplus(x)) ** 2),
    ),
}
ELEMENTWISE = sorted(REFERENCE)


def test_every_lecture_activation_is_exported_and_looked_up_by_name():
    required = {
        "identity",
        "heaviside",
        "sign",
        "sigmoid",
        "hard_sigmoid",
        "tanh",
        "arctan",
        "arsinh",
        "erf",
        "relu",
        "relu6",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "softplus",
        "softsign",
        "silu",
        "swish",
        "mish",
        "softmax",
        "log_softmax",
    }
    assert required <= set(act.__all__)
    for name in required:
        assert act.get(name) is getattr(act, name)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_forward_matches_numpy_reference(name):
    forward, _ = REFERENCE[name]
    with jax.enable_x64(True):
        got = getattr(act, name)(jnp.asarray(X, jnp.float64))
    np.testing.assert_allclose(got, forward(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_documented_derivative_matches_jax_grad(name):
    _, derivative = REFERENCE[name]
    with jax.enable_x64(True):
        grad = jax.vmap(jax.grad(getattr(act, name)))(jnp.asarray(X, jnp.float64))
    np.testing.assert_allclose(grad, derivative(X), rtol=1e-10, atol=1e-12)


def test_step_functions_have_zero_gradient_everywhere():
    for fn in (act.heaviside, act.sign):
        grads = jax.vmap(jax.grad(fn))(jnp.linspace(-2.0, 2.0, 9))
        np.testing.assert_array_equal(grads, np.zeros(9))
    np.testing.assert_array_equal(act.heaviside(jnp.array([0.0])), [1.0])  # f(0) = 1 convention


def test_gelu_defaults_to_exact_form_and_swish_is_silu():
    x = jnp.array([-1.5, 0.7])
    np.testing.assert_allclose(
        act.gelu(x), REFERENCE["gelu"][0](np.asarray(x, np.float64)), rtol=1e-6
    )
    assert not np.allclose(act.gelu(x), act.gelu(x, approximate=True), rtol=1e-6, atol=0)
    assert act.swish is act.silu


def test_parameterised_activations():
    x = jnp.array([-2.0, 3.0])
    np.testing.assert_allclose(act.leaky_relu(x, negative_slope=0.3), [-0.6, 3.0], rtol=1e-6)
    np.testing.assert_allclose(act.elu(x, alpha=2.0), [2 * np.expm1(-2.0), 3.0], rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=6),
        elements=st.floats(-1e4, 1e4, width=32),
    )
)
def test_softmax_rows_sum_to_one_and_log_softmax_is_its_log(x):
    s = act.softmax(jnp.asarray(x))
    assert np.all(np.isfinite(s)) and np.all(s >= 0)
    np.testing.assert_allclose(np.sum(s, axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.exp(act.log_softmax(jnp.asarray(x))), s, rtol=1e-4, atol=1e-6)


def test_softmax_over_another_axis_and_its_jacobian():
    x = jnp.array([[1.0, 2.0], [3.0, 5.0]])
    np.testing.assert_allclose(np.sum(act.softmax(x, axis=0), axis=0), [1.0, 1.0], rtol=1e-6)
    with jax.enable_x64(True):
        z = jnp.array([0.3, -1.2, 2.0], jnp.float64)
        f = np.asarray(act.softmax(z))
        np.testing.assert_allclose(
            jax.jacobian(act.softmax)(z), np.diag(f) - np.outer(f, f), atol=1e-12
        )
        np.testing.assert_allclose(
            jax.jacobian(act.log_softmax)(z), np.eye(3) - f[None, :], atol=1e-12
        )


def test_get_errors():
    with pytest.raises(
        ValueError, match=r"Unknown activation 'rleu'\. Known activations: arctan, arsinh, elu"
    ):
        act.get("rleu")
    with pytest.raises(
        TypeError, match="activation must be a name such as 'relu' or a callable; got int 3"
    ):
        act.get(3)
    assert act.get("ReLU") is act.relu
    assert act.names() == sorted(act.names())
