import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.layers import Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D
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


def _as_tuple(value, rank):
    return (value,) * rank if isinstance(value, int) else tuple(value)


@pytest.mark.parametrize(("layer_fn", "sample", "kwargs"), CASES)
def test_matmul_and_xla_algorithms_agree_in_value_and_gradient(layer_fn, sample, kwargs):
    if kwargs.get("groups", 1) != 1:
        pytest.skip("the matmul algorithm is for groups=1")
    fast, plain = layer_fn(**kwargs, algorithm="matmul"), layer_fn(**kwargs, algorithm="xla")
    _, params, _ = fast.init(jax.random.key(0), (-1, *sample))
    x = jax.random.normal(jax.random.key(2), (3, *sample))

    def loss(layer, p, x):
        y, _ = layer.apply(p, {}, x)
        return jnp.sum(jnp.sin(y))

    np.testing.assert_allclose(fast.apply(params, {}, x)[0], plain.apply(params, {}, x)[0],
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    g_fast = jax.jit(jax.grad(loss, argnums=(1, 2)), static_argnums=0)(fast, params, x)
    g_plain = jax.grad(loss, argnums=(1, 2))(plain, params, x)
    for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    # Forward mode works through the custom JVP and agrees with reverse mode.
    v = jax.random.normal(jax.random.key(3), x.shape)
    _, jvp = jax.jvp(lambda x: loss(fast, params, x), (x,), (v,))
    np.testing.assert_allclose(jvp, jnp.vdot(g_plain[1], v), rtol=1e-4)


def test_auto_uses_matmul_on_cpu_and_falls_back_for_groups():
    assert jax.default_backend() == "cpu"
    x = jnp.ones((1, 6, 6, 2))
    text = jax.jit(lambda p, x: Conv2D(4, 3).apply(p, {}, x)[0]).lower(
        Conv2D(4, 3).init(jax.random.key(0), x.shape)[1], x
    ).as_text()  # fmt: skip
    assert "gather" in text and "convolution" not in text
    grouped = Conv2D(4, 3, groups=2)
    text = jax.jit(lambda p, x: grouped.apply(p, {}, x)[0]).lower(
        grouped.init(jax.random.key(0), x.shape)[1], x
    ).as_text()  # fmt: skip
    assert "convolution" in text


def test_auto_takes_xlas_convolution_when_ynnpack_convolutions_are_off(monkeypatch):
    from jaxnn.layers.conv import CPU_CONV_FLAG, ynn_convolutions_off

    x = jnp.ones((1, 6, 6, 2))
    params = Conv2D(4, 3).init(jax.random.key(0), x.shape)[1]
    for flags, off in [("", False), (CPU_CONV_FLAG, True), ("--xla_cpu_experimental_ynn_fusion_"
                       "type=-individual_dot,-individual_convolution --xla_dump_to=/tmp", True),
                       ("--xla_cpu_experimental_ynn_fusion_type=-individual_dot", False)]:  # fmt: skip
        monkeypatch.setenv("XLA_FLAGS", flags)
        assert ynn_convolutions_off() is off
        layer = Conv2D(4, 3)  # a fresh trace: the route is chosen when apply is traced
        text = (
            jax.jit(lambda p, x, layer=layer: layer.apply(p, {}, x)[0]).lower(params, x).as_text()
        )
        assert ("convolution" in text and "gather" not in text) is off, flags


@pytest.mark.parametrize(
    ("sample", "kwargs"),
    [((5, 2), dict(input_dilation=2)), ((4, 3, 2), dict(input_dilation=(2, 3), padding="same"))],
)
def test_input_dilation_matches_numpy_on_the_spread_input(sample, kwargs):
    layer_fn = Conv1D if len(sample) == 2 else Conv2D
    layer = layer_fn(3, 2, **kwargs)
    out_shape, params, _ = layer.init(jax.random.key(0), (-1, *sample))
    x = np.asarray(jax.random.normal(jax.random.key(1), (2, *sample)))
    rank = len(sample) - 1
    d = _as_tuple(kwargs["input_dilation"], rank)
    spread = np.zeros(
        (2, *[(n - 1) * e + 1 for n, e in zip(sample[:-1], d, strict=True)], sample[-1])
    )
    spread[(slice(None), *[slice(None, None, e) for e in d])] = x
    pads = resolve_padding(kwargs.get("padding", "valid"), spread.shape[1:-1], (2,) * rank,
                           (1,) * rank, (1,) * rank, "t")  # fmt: skip
    expected = np_conv(spread, np.asarray(params["w"]), np.asarray(params["b"]),
                       (1,) * rank, (1,) * rank, pads, 1)  # fmt: skip
    y, _ = layer.apply(params, {}, jnp.asarray(x))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert y.shape[1:] == out_shape[1:]


def np_conv_transpose(x, w, b, stride, dilation, crops):
    """The scatter form: y[i s + k d - c0] += x[i] @ W[k], cropped (channels-last)."""
    kernel = w.shape[:-2]
    full = [
        (n - 1) * s + d * (k - 1) + 1
        for n, s, d, k in zip(x.shape[1:-1], stride, dilation, kernel, strict=True)
    ]
    extra = [
        max(s - (d * (k - 1) + 1), 0) for s, d, k in zip(stride, dilation, kernel, strict=True)
    ]
    y = np.zeros((x.shape[0], *[f + e for f, e in zip(full, extra, strict=True)], w.shape[-1]))
    for pos in itertools.product(*map(range, x.shape[1:-1])):
        for off in itertools.product(*map(range, kernel)):
            idx = tuple(
                p * s + o * d for p, s, o, d in zip(pos, stride, off, dilation, strict=True)
            )
            y[(slice(None), *idx, slice(None))] += x[(slice(None), *pos, slice(None))] @ w[off]
    if crops is not None:  # explicit crops never keep the "valid" extra tail
        y = y[(slice(None), *[slice(c0, f - c1) for (c0, c1), f in zip(crops, full, strict=True)])]
    return y + b


@pytest.mark.parametrize(
    ("layer_fn", "sample", "kwargs", "crops"),
    [
        (Conv1DTranspose, (4, 2), dict(filters=3, kernel_size=3, strides=2), None),
        (Conv1DTranspose, (4, 2), dict(filters=2, kernel_size=2, strides=3), None),  # s > k
        (Conv1DTranspose, (5, 1), dict(filters=2, kernel_size=3, dilation=2, padding=[(1, 2)]),
         [(1, 2)]),
        (Conv2DTranspose, (3, 4, 2), dict(filters=3, kernel_size=(3, 2), strides=(2, 1)), None),
        (Conv2DTranspose, (3, 3, 2), dict(filters=2, kernel_size=3, strides=2,
                                          padding=[(1, 0), (0, 2)]), [(1, 0), (0, 2)]),
    ],
)  # fmt: skip
def test_conv_transpose_matches_the_numpy_scatter_form(layer_fn, sample, kwargs, crops):
    layer = layer_fn(**kwargs)
    out_shape, params, _ = layer.init(jax.random.key(0), (-1, *sample))
    params = {"w": params["w"], "b": jax.random.normal(jax.random.key(1), params["b"].shape)}
    x = np.asarray(jax.random.normal(jax.random.key(2), (2, *sample)))
    rank = len(sample) - 1
    expected = np_conv_transpose(
        x, np.asarray(params["w"]), np.asarray(params["b"]),
        _as_tuple(kwargs.get("strides", 1), rank), _as_tuple(kwargs.get("dilation", 1), rank),
        crops,
    )  # fmt: skip
    y, _ = layer.apply(params, {}, jnp.asarray(x))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert y.shape[1:] == out_shape[1:]


def test_conv_transpose_same_upsamples_by_the_stride_and_inverts_conv_shapes():
    up = Conv2DTranspose(5, 3, strides=2, padding="same")
    assert up.init(jax.random.key(0), (-1, 7, 4, 3))[0] == (-1, 14, 8, 5)
    down = Conv2D(3, 3, strides=2, padding="same")
    assert down.init(jax.random.key(0), (-1, 14, 8, 5))[0] == (-1, 7, 4, 3)
    # A strided "valid" convolution's input gradient is a transposed convolution.
    conv = Conv1D(1, 3, strides=2, use_bias=False)
    _, p, _ = conv.init(jax.random.key(0), (-1, 9, 1))
    g = jax.random.normal(jax.random.key(1), (1, 4, 1))
    _, vjp = jax.vjp(lambda x: conv.apply(p, {}, x)[0], jnp.ones((1, 9, 1)))
    transpose = Conv1DTranspose(1, 3, strides=2, use_bias=False)
    np.testing.assert_allclose(vjp(g)[0], transpose.apply(p, {}, g)[0], rtol=1e-6)


def test_algorithm_and_transpose_errors(key):
    with pytest.raises(
        ValueError, match=r"algorithm must be one of \['auto', 'matmul', 'xla'\]; got 'fft'"
    ):
        Conv2D(4, 3, algorithm="fft")
    with pytest.raises(
        ValueError, match="algorithm='matmul' needs groups=1 and input_dilation=1; got groups=2"
    ):
        Conv2D(4, 3, groups=2, algorithm="matmul")
    with pytest.raises(
        ValueError,
        match=r"Conv2DTranspose 'conv2d_transpose': padding must be 'same', 'valid' or \(before, after\) crop pairs; got 'causal'",
    ):
        Conv2DTranspose(4, 3, padding="causal")
    with pytest.raises(
        ValueError,
        match=r"explicit padding must be 1 \(before, after\) crop pairs of ints in \[0, span - 1\] with spans \[3\]; got \[\(3, 0\)\]",
    ):
        Conv1DTranspose(4, 3, padding=[(3, 0)])
    with pytest.raises(
        ValueError, match="Conv1DTranspose 'conv1d_transpose': strides must be >= 1; got 0"
    ):
        Conv1DTranspose(4, 3, strides=0)
    with pytest.raises(ValueError, match=r"input_shape must be \(N, H, W, C\) channels-last"):
        Conv2DTranspose(4, 3).init(key, (-1, 5, 5))
