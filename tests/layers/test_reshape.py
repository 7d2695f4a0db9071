import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.layers import Flatten, Reshape


def test_flatten_is_row_major_like_numpy(key):
    shape, _, _ = Flatten().init(key, (-1, 2, 3, 4))
    assert shape == (-1, 24)
    x = np.arange(48, dtype=np.float32).reshape(2, 2, 3, 4)
    y, _ = Flatten().apply({}, {}, jnp.asarray(x))
    np.testing.assert_array_equal(y, x.reshape(2, 24))
    assert Flatten().init(key, (5,))[0] == (5, 1)


def test_reshape_keeps_batch_and_resolves_minus_one(key):
    assert Reshape((28, 28, 1)).init(key, (-1, 784))[0] == (-1, 28, 28, 1)
    assert Reshape((-1, 4)).init(key, (7, 2, 6))[0] == (7, 3, 4)
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    y, _ = Reshape((3, 2)).apply({}, {}, jnp.asarray(x))
    np.testing.assert_array_equal(y, x.reshape(2, 3, 2))


def test_reshape_errors(key):
    with pytest.raises(
        ValueError,
        match=r"Reshape 'reshape': target_shape may hold at most one -1 and no zeros; got \(-1, -1\)",
    ):
        Reshape((-1, -1))
    with pytest.raises(
        ValueError,
        match=r"cannot reshape input \(-1, 10\) \(10 values per sample\) to \(3, 3\) \(9 values\)",
    ):
        Reshape((3, 3)).init(key, (-1, 10))
    with pytest.raises(ValueError, match="10 is not a multiple of 4"):
        Reshape((4, -1)).init(key, (-1, 10))
    with pytest.raises(
        ValueError,
        match=r"Flatten 'flatten': every axis but the batch axis must be known; got \(-1, -1\)",
    ):
        Flatten().init(key, (-1, -1))
