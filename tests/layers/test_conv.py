import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.layers import Conv1D, Conv2D, Conv3D
from jaxnn.layers.conv import output_length, resolve_padding


def np_conv(x, w, b, stride, dilation, pads, groups):
    """A direct loop over output positions and kernel offsets (channels-last)."""
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
    kernel, (c_in_g, c_out) = w.shape[:-2], w.shape[-2:]
    spatial = [
        (n - d * (k - 1) - 1) // s + 1
        for n, k, s, d in zip(x.shape[1:-1], kernel, stride, dilation, strict=True)
    ]
    out = np.zeros((x.shape[0], *spatial, c_out))
    per_group = c_out // groups
    for pos in itertools.product(*map(range, spatial)):
        for off in itertools.product(*map(range, kernel)):
            idx = tuple(
                p * s + o * d for p, s, o, d in zip(pos, stride, off, dilation, strict=True)
            )
            for g in range(groups):
                xs = x[(slice(None), *idx, slice(g * c_in_g, (g + 1) * c_in_g))]
                ws = w[(*off, slice(None), slice(g * per_group, (g + 1) * per_group))]
                out[(slice(None), *pos, slice(g * per_group, (g + 1) * per_group))] += xs @ ws
    return out + b


CASES = [
    (Conv1D, (7, 4), dict(filters=6, kernel_size=3)),
    (Conv1D, (9, 4), dict(filters=4, kernel_size=3, strides=2, dilation=2, padding="same")),
    (Conv1D, (8, 2), dict(filters=3, kernel_size=3, padding="causal", dilation=2)),
    (Conv2D, (6, 7, 3), dict(filters=4, kernel_size=(3, 2))),
    (Conv2D, (7, 7, 4), dict(filters=6, kernel_size=3, strides=(2, 1), padding="same", groups=2)),
    (Conv2D, (8, 6, 2), dict(filters=2, kernel_size=2, dilation=(2, 1), padding=[(1, 2), (0, 1)])),
    (Conv2D, (5, 5, 3), dict(filters=3, kernel_size=3, groups=3, padding="same")),  # depthwise
    (Conv3D, (4, 5, 4, 2), dict(filters=3, kernel_size=2, strides=(1, 2, 1))),
]


@pytest.mark.parametrize(("layer_fn", "sample", "kwargs"), CASES)
def test_matches_a_direct_numpy_loop(layer_fn, sample, kwargs):
    layer = layer_fn(**kwargs)
    out_shape, params, _ = layer.init(jax.random.key(0), (-1, *sample))
    params = {"w": params["w"], "b": jax.random.normal(jax.random.key(1), params["b"].shape)}
    x = np.asarray(jax.random.normal(jax.random.key(2), (2, *sample)))
    y, _ = layer.apply(params, {}, jnp.asarray(x))
    rank = len(sample) - 1
    stride = (
        (kwargs.get("strides", 1),) * rank
        if isinstance(kwargs.get("strides", 1), int)
        else kwargs["strides"]
    )
    dilation = (
        (kwargs.get("dilation", 1),) * rank
        if isinstance(kwargs.get("dilation", 1), int)
        else kwargs["dilation"]
    )
    kernel = params["w"].shape[:-2]
    pads = resolve_padding(
        kwargs.get("padding", "valid"), sample[:-1], kernel, stride, dilation, "t"
    )
    expected = np_conv(
        x,
        np.asarray(params["w"]),
        np.asarray(params["b"]),
        stride,
        dilation,
        pads,
        kwargs.get("groups", 1),
    )
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    assert y.shape == (2, *out_shape[1:])


def test_same_and_causal_padding_lengths():
    assert Conv2D(4, 3, padding="same", strides=2).init(jax.random.key(0), (-1, 9, 10, 1))[0] == (
        -1,
        5,
        5,
        4,
    )
    assert Conv1D(2, 5, padding="causal").init(jax.random.key(0), (-1, 12, 1))[0] == (-1, 12, 2)
    # Causal: output t depends on inputs <= t only.
    layer = Conv1D(1, 3, padding="causal", use_bias=False, kernel_init="ones")
    _, params, _ = layer.init(jax.random.key(0), (-1, 5, 1))
    y, _ = layer.apply(params, {}, jnp.arange(5.0).reshape(1, 5, 1))
    assert y[0, :, 0].tolist() == [0.0, 1.0, 3.0, 6.0, 9.0]
    assert output_length(-1, 3, 1, 1, (0, 0)) == -1


def test_errors(key):
    with pytest.raises(
        ValueError,
        match=r"Conv2D 'conv2d': input_shape must be \(N, H, W, C\) channels-last with a batch axis \(4 axes\); got \(-1, 28, 28\)",
    ):
        Conv2D(4, 3).init(key, (-1, 28, 28))
    with pytest.raises(
        ValueError,
        match=r"the dilated kernel \(5\) is larger than the padded input \(4\) on spatial axis 0",
    ):
        Conv2D(4, 5).init(key, (-1, 4, 8, 1))
    with pytest.raises(ValueError, match="Conv1D 'conv1d': strides must be >= 1; got 0"):
        Conv1D(4, 3, strides=0)
    with pytest.raises(
        ValueError,
        match=r"padding must be one of \['causal', 'same', 'valid'\] or \(before, after\) pairs; got 'full'",
    ):
        Conv2D(4, 3, padding="full").init(key, (-1, 8, 8, 1))
    with pytest.raises(
        ValueError, match="input channels \\(3\\) must be known and divisible by groups \\(2\\)"
    ):
        Conv2D(4, 3, groups=2).init(key, (-1, 8, 8, 3))
    with pytest.raises(ValueError, match=r"filters \(5\) must be divisible by groups \(2\)"):
        Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match="padding='causal' is for 1-D convolutions only"):
        Conv2D(4, 3, padding="causal").init(key, (-1, 8, 8, 1))
    _, params, _ = Conv2D(4, 3).init(key, (-1, 8, 8, 3))
    with pytest.raises(
        ValueError, match=r"x must have shape \(N, H, W, 3\) channels-last; got \(2, 3, 8, 8\)"
    ):
        Conv2D(4, 3).apply(params, {}, jnp.ones((2, 3, 8, 8)))
