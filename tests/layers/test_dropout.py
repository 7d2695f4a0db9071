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
