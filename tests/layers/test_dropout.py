import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.layers import Dropout


def test_identity_in_evaluation_and_needs_no_key():
    x = jnp.arange(6.0).reshape(2, 3)
    y, state = Dropout(0.5).apply({}, {}, x, train=False)
    assert y is x and state == {}


def test_inverted_scaling_and_rate(key):
    rate = 0.3
    x = jnp.ones((1000, 100))
    y, _ = Dropout(rate).apply({}, {}, x, key=key, train=True)
    y = np.asarray(y)
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / (1 - rate), rtol=1e-6)
    # 100,000 Bernoulli(0.7) draws: the kept fraction has std ~0.0014.
    assert abs(kept.mean() - (1 - rate)) < 0.01
    # Mean preservation: E[y] = x.
    assert abs(y.mean() - 1.0) < 0.015


def test_same_key_same_mask_other_key_other_mask():
    x = jnp.ones((4, 50))
    a, _ = Dropout(0.5).apply({}, {}, x, key=jax.random.key(1), train=True)
    b, _ = Dropout(0.5).apply({}, {}, x, key=jax.random.key(1), train=True)
    c, _ = Dropout(0.5).apply({}, {}, x, key=jax.random.key(2), train=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_zero_rate_is_identity_in_training():
    x = jnp.ones((2, 3))
    y, _ = Dropout(0.0).apply({}, {}, x, train=True)
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize(
    ("rate", "error", "match"),
    [
        (
            1.0,
            ValueError,
            r"Dropout 'dropout': drop_rate is the probability of zeroing an element and must be in \[0, 1\); got 1.0",
        ),
        (-0.1, ValueError, r"must be in \[0, 1\); got -0.1"),
        ("0.5", TypeError, r"drop_rate must be a float in \[0, 1\); got str '0.5'"),
    ],
)
def test_rate_errors(rate, error, match):
    with pytest.raises(error, match=match):
        Dropout(rate)


def test_missing_key_in_training_is_a_clear_error():
    with pytest.raises(
        ValueError,
        match=r"Dropout 'drop': apply\(train=True\) needs a key to draw the dropout mask; got key=None",
    ):
        Dropout(0.5, name="drop").apply({}, {}, jnp.ones((2, 2)), train=True)


def test_traced_rates_under_vmap_equal_layers_built_with_each_float():
    x = jnp.arange(1.0, 41.0).reshape(4, 10)
    key = jax.random.key(3)
    rates = (0.0, 0.25, 0.6)

    def train(rate):  # one model's rate, traced
        return Dropout(rate).apply({}, {}, x, key=key, train=True)[0]

    ys = jax.jit(jax.vmap(train))(jnp.array(rates, jnp.float32))
    for rate, y in zip(rates, ys, strict=True):
        want, _ = Dropout(rate).apply({}, {}, x, key=key, train=True)
        np.testing.assert_allclose(y, want, rtol=1e-6)
    np.testing.assert_array_equal(ys[0], x)  # a traced 0 keeps every element, unscaled
    # inverted dropout by hand for 0.25: the kept elements are x / 0.75, the others 0
    kept = np.asarray(ys[1]) != 0
    np.testing.assert_allclose(np.asarray(ys[1])[kept], np.asarray(x)[kept] / 0.75, rtol=1e-6)


def test_traced_rate_keeps_the_input_dtype_and_evaluation_is_the_identity():
    x = jnp.ones((2, 8), jnp.bfloat16)
    y = jax.jit(lambda r: Dropout(r).apply({}, {}, x, key=jax.random.key(0), train=True)[0])(0.5)
    assert y.dtype == jnp.bfloat16 and set(np.asarray(y, np.float32).ravel()) <= {0.0, 2.0}
    same = jax.jit(lambda r: Dropout(r).apply({}, {}, x, train=False)[0])(0.5)
    np.testing.assert_array_equal(same, x)


def test_a_concrete_scalar_array_is_read_as_its_float():
    layer = Dropout(jnp.float32(0.5))
    assert layer.config["drop_rate"] == 0.5 and type(layer.config["drop_rate"]) is float
    with pytest.raises(ValueError, match=r"must be in \[0, 1\); got 1.5"):
        Dropout(jnp.array(1.5))


@pytest.mark.parametrize(
    ("rate", "match"),
    [
        (
            jnp.array([0.1, 0.2]),
            r"a float scalar \(shape \(\)\); got shape \(2,\) and dtype float32",
        ),
        (jnp.array(0, jnp.int32), r"a float scalar .*got shape \(\) and dtype int32"),
    ],
)
def test_an_array_rate_must_be_a_float_scalar(rate, match):
    with pytest.raises(
        TypeError, match=r"Dropout 'dropout': drop_rate given as an array must be " + match
    ):
        Dropout(rate)


def test_a_traced_rate_needs_a_key_in_training():
    with pytest.raises(ValueError, match=r"needs a key to draw the dropout mask; got key=None"):
        jax.jit(lambda r: Dropout(r).apply({}, {}, jnp.ones((2, 2)), train=True)[0])(0.0)
