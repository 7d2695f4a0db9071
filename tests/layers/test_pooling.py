import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.layers import AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPool, UpSampling


def np_pool(x, window, stride, reduce):
    n, h, w, c = x.shape
    ho, wo = (h - window) // stride + 1, (w - window) // stride + 1
    out = np.zeros((n, ho, wo, c))
    for i in range(ho):
        for j in range(wo):
            out[:, i, j] = reduce(
                x[:, i * stride : i * stride + window, j * stride : j * stride + window],
                axis=(1, 2),
            )
    return out


@pytest.mark.parametrize(("window", "stride"), [(2, 2), (3, 1), (3, 2)])
def test_max_and_avg_pool_match_numpy(window, stride):
    x = np.asarray(jax.random.normal(jax.random.key(0), (2, 7, 8, 3)))
    for layer_fn, reduce in ((MaxPool, np.max), (AvgPool, np.mean)):
        layer = layer_fn(window, strides=stride)
        shape, _, _ = layer.init(jax.random.key(0), (-1, 7, 8, 3))
        y, _ = layer.apply({}, {}, jnp.asarray(x))
        np.testing.assert_allclose(y, np_pool(x, window, stride, reduce), rtol=1e-6, atol=1e-6)
        assert y.shape[1:] == shape[1:]


def test_same_padding_counts_only_real_elements():
    x = jnp.ones((1, 5, 1))
    y, _ = AvgPool(2, padding="same").apply({}, {}, x)
    assert y[0, :, 0].tolist() == [1.0, 1.0, 1.0]  # the padded last window averages one element
    y, _ = MaxPool(2, padding="same").apply({}, {}, -x)
    assert y[0, :, 0].tolist() == [-1.0, -1.0, -1.0]  # padding never wins a max


def test_global_pools_and_upsampling():
    x = jax.random.normal(jax.random.key(1), (2, 3, 4, 5))
    np.testing.assert_allclose(
        GlobalAvgPool().apply({}, {}, x)[0], np.asarray(x).mean(axis=(1, 2)), rtol=1e-6
    )
    np.testing.assert_allclose(GlobalMaxPool().apply({}, {}, x)[0], np.asarray(x).max(axis=(1, 2)))
    assert GlobalAvgPool().init(jax.random.key(0), (-1, 3, 4, 5))[0] == (-1, 5)
    up = UpSampling((2, 3))
    assert up.init(jax.random.key(0), (-1, 3, 4, 5))[0] == (-1, 6, 12, 5)
    y, _ = up.apply({}, {}, x)
    np.testing.assert_array_equal(y, np.repeat(np.repeat(np.asarray(x), 2, axis=1), 3, axis=2))


def test_errors(key):
    with pytest.raises(
        ValueError,
        match=r"MaxPool 'max_pool': the window \(4\) is larger than the input \(3\) on spatial axis 0",
    ):
        MaxPool(4).init(key, (-1, 3, 8, 1))
    with pytest.raises(
        ValueError, match="AvgPool 'avg_pool': padding must be 'valid' or 'same'; got 'causal'"
    ):
        AvgPool(2, padding="causal")
    with pytest.raises(
        ValueError,
        match=r"input_shape must be \(N, \*spatial, C\) channels-last with at least one spatial axis; got \(-1, 8\)",
    ):
        GlobalMaxPool().init(key, (-1, 8))
    with pytest.raises(
        ValueError,
        match=r"MaxPool 'max_pool': window must be an int or 2 ints for this input; got \(2, 2, 2\)",
    ):
        MaxPool((2, 2, 2)).init(key, (-1, 8, 8, 1))
