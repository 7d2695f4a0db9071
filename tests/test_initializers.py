import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import initializers

FAN_IN, FAN_OUT = 400, 300
SHAPE = (FAN_IN, FAN_OUT)

# name -> expected variance for a (fan_in, fan_out) kernel
VARIANCE = {
    "glorot_uniform": 2 / (FAN_IN + FAN_OUT),
    "glorot_normal": 2 / (FAN_IN + FAN_OUT),
    "he_uniform": 2 / FAN_IN,
    "he_normal": 2 / FAN_IN,
    "lecun_uniform": 1 / FAN_IN,
    "lecun_normal": 1 / FAN_IN,
    "normal": 0.05**2,
    "uniform": 0.05**2 / 3,
}


@pytest.mark.parametrize("name", sorted(VARIANCE))
def test_variance_matches_the_rule(name):
    w = np.asarray(initializers.get(name)(jax.random.key(0), SHAPE, jnp.float32))
    assert w.shape == SHAPE and w.dtype == np.float32
    # 120,000 draws: the sample variance is within ~1% of the true one.
    assert abs(w.var() / VARIANCE[name] - 1) < 0.03
    assert abs(w.mean()) < 0.01 * np.sqrt(VARIANCE[name]) * 10


def test_uniform_is_centred_and_bounded():
    w = np.asarray(initializers.get("uniform")(jax.random.key(0), (1000,), jnp.float32))
    assert w.min() >= -0.05 and w.max() <= 0.05 and w.min() < -0.049


def test_aliases_constants_and_orthogonal():
    key = jax.random.key(0)
    a = initializers.get("xavier_uniform")(key, (5, 4), jnp.float32)
    b = initializers.get("glorot_uniform")(key, (5, 4), jnp.float32)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        initializers.get("zeros")(key, (2, 2), jnp.float32), np.zeros((2, 2))
    )
    np.testing.assert_array_equal(initializers.get("ones")(key, (3,), jnp.float32), np.ones(3))
    q = np.asarray(initializers.get("orthogonal")(key, (6, 6), jnp.float32))
    np.testing.assert_allclose(q.T @ q, np.eye(6), atol=1e-5)


def test_lookup_errors():
    with pytest.raises(
        ValueError,
        match=r"initializer: unknown initializer 'xavier'\. Known initializers: glorot_normal, .*zeros",
    ):
        initializers.get("xavier")
    with pytest.raises(
        TypeError,
        match=r"initializer must be a name such as 'glorot_uniform' or a callable; got float 1.0",
    ):
        initializers.get(1.0)
    fn = lambda key, shape, dtype: jnp.zeros(shape, dtype)  # noqa: E731
    assert initializers.get(fn) is fn
    assert initializers.get("He_Normal") is initializers.get("he_normal")
