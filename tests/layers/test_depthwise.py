"""DepthwiseConv2D and SeparableConv2D: Keras 3, a NumPy loop, both routes, gradients, files."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.layers import Conv2D, DepthwiseConv2D, SeparableConv2D
from jaxnn.models.summary import summary
from tests.conftest import check_layer_grads

# Keras' own deprecation warnings are not jaxnn's concern.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")

ALGORITHMS = ["taps", "xla"]


def rng(seed=0):
    return np.random.default_rng(seed)


def to_jaxnn_depthwise(kernel):
    """Keras' depthwise kernel (K_h, K_w, C_in, M) in jaxnn's layout (K_h, K_w, 1, C_in * M)."""
    kh, kw, c_in, m = kernel.shape
    return jnp.asarray(kernel.reshape(kh, kw, 1, c_in * m))


def np_depthwise(x, kernel, bias, stride, dilation, pads):
    """A direct loop; ``kernel`` in Keras' layout (K_h, K_w, C_in, M), output channel c*M + m."""
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
    kh, kw, c_in, m = kernel.shape
    h_out = (x.shape[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    w_out = (x.shape[2] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((x.shape[0], h_out, w_out, c_in * m))
    for i, j, c, q, a, b in itertools.product(
        range(h_out), range(w_out), range(c_in), range(m), range(kh), range(kw)
    ):
        row, col = i * stride[0] + a * dilation[0], j * stride[1] + b * dilation[1]
        y[:, i, j, c * m + q] += x[:, row, col, c] * kernel[a, b, c, q]
    return y + bias


# ------------------------------------------------------------------------------------------------
# Keras 3 with copied weights


@pytest.fixture(scope="module")
def keras():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_BACKEND", "jax")
        keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip(f"Keras runs on the {keras.backend.backend()} backend; these tests need jax.")
    return keras


def keras_numerics():
    """Keras relies on implicit rank promotion, which conftest.py makes an error for jaxnn."""
    return jax.numpy_rank_promotion("allow")


def keras_layer(keras, cls, x, seed, *args, **kwargs):
    """A built Keras layer with weights drawn here; returns (weights, output, count_params)."""
    layer = getattr(keras.layers, cls)(*args, **kwargs)
    with keras_numerics():
        layer.build(x.shape)
        r = rng(seed)
        for w in layer.weights:
            w.assign(r.normal(0.0, 0.5, size=w.shape).astype("float32"))
        y = np.asarray(layer(x))
    return [np.asarray(w) for w in layer.weights], y, layer.count_params()


# (Keras kwargs, jaxnn kwargs): same/valid, stride 2, dilation 2, depth_multiplier 2
KERAS_CASES = {
    "same": (dict(padding="same"), dict(padding="same")),
    "valid_stride_2": (dict(strides=2), dict(strides=2)),
    "dilation_2": (dict(dilation_rate=2, padding="same"), dict(dilation=2, padding="same")),
    "multiplier_2_relu": (
        dict(depth_multiplier=2, strides=(2, 1), padding="same", activation="relu"),
        dict(depth_multiplier=2, strides=(2, 1), padding="same", activation="relu"),
    ),
    "multiplier_2_valid_no_bias": (
        dict(depth_multiplier=2, kernel_size=(3, 2), use_bias=False),
        dict(depth_multiplier=2, kernel_size=(3, 2), use_bias=False),
    ),
}


def split_kernel(kwargs):
    kwargs = dict(kwargs)
    return kwargs.pop("kernel_size", 3), kwargs


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_depthwise_matches_keras(keras, case, algorithm):
    keras_kwargs, kwargs = KERAS_CASES[case]
    x = rng(1).normal(size=(2, 9, 8, 3)).astype("float32")
    kernel_size, keras_kwargs = split_kernel(keras_kwargs)
    weights, expected, count = keras_layer(
        keras, "DepthwiseConv2D", x, 2, kernel_size, **keras_kwargs
    )
    kernel_size, kwargs = split_kernel(kwargs)
    layer = DepthwiseConv2D(kernel_size, algorithm=algorithm, **kwargs)
    out_shape, init_params, _ = layer.init(jax.random.key(0), (-1, *x.shape[1:]))
    params = dict(zip(("w", "b"), [to_jaxnn_depthwise(weights[0]), *weights[1:]], strict=False))
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, init_params)
    y, _ = layer.apply(params, {}, jnp.asarray(x))
    assert y.shape == expected.shape == (2, *out_shape[1:])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert summary(layer, (-1, *x.shape[1:]), print_fn=None).params == count


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_separable_matches_keras(keras, case, algorithm):
    keras_kwargs, kwargs = KERAS_CASES[case]
    x = rng(3).normal(size=(2, 9, 8, 3)).astype("float32")
    kernel_size, keras_kwargs = split_kernel(keras_kwargs)
    weights, expected, count = keras_layer(
        keras, "SeparableConv2D", x, 4, 5, kernel_size, **keras_kwargs
    )
    kernel_size, kwargs = split_kernel(kwargs)
    layer = SeparableConv2D(5, kernel_size, algorithm=algorithm, **kwargs)
    out_shape, init_params, _ = layer.init(jax.random.key(0), (-1, *x.shape[1:]))
    depthwise, pointwise, *bias = weights  # Keras' order: depthwise, pointwise, bias
    params = {
        "depthwise": {"w": to_jaxnn_depthwise(depthwise)},
        "pointwise": dict(zip(("w", "b"), [jnp.asarray(pointwise), *bias], strict=False)),
    }
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, init_params)
    y, _ = layer.apply(params, {}, jnp.asarray(x))
    assert y.shape == expected.shape == (2, *out_shape[1:])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert summary(layer, (-1, *x.shape[1:]), print_fn=None).params == count


def test_output_channel_order_is_keras_order():
    # Input channel c holds the constant c + 1; Keras' kernel W[centre, c, m] = 10 c + m (zero
    # elsewhere), so output channel c * M + m must be (c + 1) * (10 c + m).
    c_in, m = 3, 2
    kernel = np.zeros((3, 3, c_in, m), np.float32)
    kernel[1, 1] = 10 * np.arange(c_in)[:, None] + np.arange(m)[None, :]
    x = jnp.broadcast_to(jnp.arange(1.0, c_in + 1), (1, 4, 4, c_in))
    for algorithm in ALGORITHMS:
        layer = DepthwiseConv2D(3, depth_multiplier=m, use_bias=False, algorithm=algorithm)
        y, _ = layer.apply({"w": to_jaxnn_depthwise(kernel)}, {}, x)
        expected = [(c + 1) * (10 * c + q) for c in range(c_in) for q in range(m)]
        assert y[0, 0, 0].tolist() == expected


# ------------------------------------------------------------------------------------------------
# An independent NumPy loop, explicit pads, Conv2D(groups=C_in)


def test_depthwise_and_separable_match_a_numpy_loop_with_explicit_pads():
    stride, dilation, pads = (2, 1), (1, 2), [(1, 2), (0, 1)]
    r = rng(5)
    x = r.normal(size=(2, 7, 6, 3))
    kernel = r.normal(size=(3, 2, 3, 2))  # Keras' layout, M = 2
    bias = r.normal(size=6)
    expected = np_depthwise(x, kernel, bias, stride, dilation, pads)
    for algorithm in ALGORITHMS:
        layer = DepthwiseConv2D(
            (3, 2), strides=stride, dilation=dilation, padding=pads, depth_multiplier=2,
            algorithm=algorithm,
        )  # fmt: skip
        out_shape, _, _ = layer.init(jax.random.key(0), (-1, 7, 6, 3))
        params = {"w": to_jaxnn_depthwise(kernel), "b": jnp.asarray(bias)}
        y, _ = layer.apply(params, {}, jnp.asarray(x, jnp.float32))
        assert y.shape == expected.shape == (2, *out_shape[1:]) == (2, 4, 5, 6)
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    pointwise, b = r.normal(size=(6, 4)), r.normal(size=4)
    separable = SeparableConv2D(4, (3, 2), strides=stride, dilation=dilation, padding=pads,
                                depth_multiplier=2, activation="tanh")  # fmt: skip
    params = {
        "depthwise": {"w": to_jaxnn_depthwise(kernel)},
        "pointwise": {"w": jnp.asarray(pointwise.reshape(1, 1, 6, 4)), "b": jnp.asarray(b)},
    }
    y, _ = separable.apply(params, {}, jnp.asarray(x, jnp.float32))
    z = np_depthwise(x, kernel, 0.0, stride, dilation, pads)
    np.testing.assert_allclose(y, np.tanh(z @ pointwise + b), rtol=1e-5, atol=1e-5)


def test_depthwise_equals_conv2d_with_one_group_per_channel(key):
    depthwise = DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same")
    grouped = Conv2D(8, 3, strides=2, padding="same", groups=4)
    shape, params, _ = depthwise.init(key, (-1, 7, 7, 4))
    grouped_shape, grouped_params, _ = grouped.init(key, (-1, 7, 7, 4))
    assert shape == grouped_shape == (-1, 4, 4, 8)
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, grouped_params)
    x = jax.random.normal(jax.random.key(1), (2, 7, 7, 4))
    np.testing.assert_allclose(depthwise.apply(params, {}, x)[0], grouped.apply(params, {}, x)[0],
                               rtol=1e-5, atol=1e-5)  # fmt: skip


# ------------------------------------------------------------------------------------------------
# The two routes, gradients, generic properties

ROUTE_CASES = [
    ((6, 7, 3), dict(kernel_size=3, padding="same")),
    ((7, 6, 2), dict(kernel_size=(3, 2), strides=2, depth_multiplier=3)),
    ((8, 8, 2), dict(kernel_size=3, dilation=2, padding=[(2, 1), (0, 3)], depth_multiplier=2)),
]


def loss(layer, params, x):
    return jnp.sum(jnp.sin(layer.apply(params, {}, x)[0]))


@pytest.mark.parametrize(("sample", "kwargs"), ROUTE_CASES)
def test_taps_and_xla_routes_agree_in_value_and_gradients(sample, kwargs):
    kernel_size = kwargs.pop("kernel_size")
    taps = DepthwiseConv2D(kernel_size, algorithm="taps", **kwargs)
    plain = DepthwiseConv2D(kernel_size, algorithm="xla", **kwargs)
    _, params, _ = taps.init(jax.random.key(0), (-1, *sample))
    params = jax.tree.map(lambda p: p + 0.1, params)  # a nonzero bias
    x = jax.random.normal(jax.random.key(2), (3, *sample))
    np.testing.assert_allclose(taps.apply(params, {}, x)[0], plain.apply(params, {}, x)[0],
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    g_taps = jax.jit(jax.grad(loss, argnums=(1, 2)), static_argnums=0)(taps, params, x)
    g_plain = jax.grad(loss, argnums=(1, 2))(plain, params, x)
    for a, b in zip(jax.tree.leaves(g_taps), jax.tree.leaves(g_plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    v = jax.random.normal(jax.random.key(3), x.shape)
    _, jvp = jax.jvp(lambda x: loss(taps, params, x), (x,), (v,))
    np.testing.assert_allclose(jvp, jnp.vdot(g_plain[1], v), rtol=1e-4)


def test_auto_route_is_taps_on_cpu():
    assert jax.default_backend() == "cpu"
    x = jnp.ones((1, 6, 6, 2))

    def hlo(layer):
        params = layer.init(jax.random.key(0), x.shape)[1]
        return jax.jit(lambda p, x: layer.apply(p, {}, x)[0]).lower(params, x).as_text()

    assert "convolution" not in hlo(DepthwiseConv2D(3))
    assert "convolution" in hlo(DepthwiseConv2D(3, algorithm="xla"))
    assert "convolution" not in hlo(SeparableConv2D(4, 3))  # pointwise: patches + matmul
    assert "convolution" in hlo(SeparableConv2D(4, 3, algorithm="xla"))


@pytest.mark.parametrize(
    "make",
    [
        lambda: DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, algorithm="taps"),
        lambda: DepthwiseConv2D((2, 3), dilation=(2, 1), activation="tanh", algorithm="xla"),
        lambda: SeparableConv2D(3, 3, padding="same", depth_multiplier=2, activation="tanh"),
        lambda: SeparableConv2D(2, 2, strides=2, use_bias=False, algorithm="xla"),
    ],
    ids=["depthwise_taps", "depthwise_xla", "separable_taps", "separable_xla"],
)
def test_gradients_match_finite_differences(make):
    layer = make()
    _, params, state = layer.init(jax.random.key(0), (-1, 5, 5, 2))
    params = jax.tree.map(lambda p: p + 0.1, params)
    x = jax.random.normal(jax.random.key(1), (2, 5, 5, 2))
    check_layer_grads(layer, params, state, x, order=1)


@pytest.mark.parametrize(
    "layer",
    [DepthwiseConv2D(3, strides=(1, 2), depth_multiplier=2), SeparableConv2D(4, 3, padding="same")],
    ids=["depthwise", "separable"],
)
def test_init_shape_jit_and_batch_rows(layer, key):
    out_shape, params, state = layer.init(key, (-1, 6, 7, 3))
    assert state == {}
    x = jax.random.normal(jax.random.key(1), (3, 6, 7, 3))
    y, new_state = layer.apply(params, state, x)
    assert new_state == {} and y.shape == (3, *out_shape[1:])
    np.testing.assert_allclose(jax.jit(layer.apply)(params, state, x)[0], y, rtol=1e-6, atol=1e-6)
    rows = jnp.concatenate([layer.apply(params, state, x[i : i + 1])[0] for i in range(3)])
    np.testing.assert_allclose(rows, y, rtol=1e-6, atol=1e-6)
    other = layer.init(jax.random.key(7), (-1, 6, 7, 3))[1]
    assert all(
        not np.allclose(a, b)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(other), strict=True)
        if a.ndim > 1  # the kernels (biases start at zero)
    )


def test_glorot_limit_uses_fan_in_kh_kw_as_keras_when_the_multiplier_is_1(key):
    # Keras' (3, 3, 16, 1) kernel: fan_in 9 * 16, fan_out 9; ours (3, 3, 1, 16): 9 and 9 * 16.
    _, params, _ = DepthwiseConv2D(3).init(key, (-1, 5, 5, 16))
    limit = math.sqrt(6 / (9 + 9 * 16))
    assert 0.9 * limit < float(jnp.abs(params["w"]).max()) <= limit


# ------------------------------------------------------------------------------------------------
# Files, summary


def test_config_round_trips_through_a_model_file(tmp_path, key):
    model = jaxnn.serial(
        DepthwiseConv2D((3, 2), strides=2, padding=[(1, 1), (0, 1)], depth_multiplier=2,
                        activation="relu", name="dw"),
        SeparableConv2D(4, 3, dilation=2, padding="same", use_bias=False, algorithm="xla"),
    )  # fmt: skip
    _, params, state = model.init(key, (-1, 9, 9, 2))
    x = jax.random.normal(jax.random.key(1), (2, 9, 9, 2))
    y, _ = model.apply(params, state, x)
    path = jaxnn.save_model(tmp_path / "m.jaxnn", model, (params, state), input_shape=(-1, 9, 9, 2))
    loaded = jaxnn.load_model(path)
    assert loaded.model.config == model.config
    dw, sep = loaded.model.config["layers"]
    assert (dw["type"], dw["depth_multiplier"], dw["padding"]) == (
        "DepthwiseConv2D", 2, [[1, 1], [0, 1]],
    )  # fmt: skip
    assert (sep["type"], sep["filters"], sep["dilation"], sep["algorithm"]) == (
        "SeparableConv2D", 4, [2, 2], "xla",
    )  # fmt: skip
    y_loaded, _ = loaded.model.apply(loaded.train_state.params, loaded.train_state.state, x)
    np.testing.assert_array_equal(y_loaded, y)


def in_bounds_taps(size, k):
    """How many (output, tap) pairs of a stride-1 "same" convolution fall inside the input."""
    before = (k - 1) // 2
    return sum(1 for i in range(size) for t in range(k) if 0 <= i - before + t < size)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_summary_flops_are_close_to_the_analytic_count(algorithm, padding):
    n, h, w, c_in, m, kh, kw, filters = 2, 8, 7, 3, 2, 3, 3, 5
    h_out, w_out = (h, w) if padding == "same" else (h - kh + 1, w - kw + 1)
    taps = h_out * w_out * kh * kw
    if padding == "same" and algorithm == "xla":
        # XLA's cost analysis counts only the taps that land inside the input, not the padding.
        taps = in_bounds_taps(h, kh) * in_bounds_taps(w, kw)
    depthwise = 2 * n * taps * c_in * m
    pointwise = 2 * n * h_out * w_out * c_in * m * filters
    layer = DepthwiseConv2D((kh, kw), padding=padding, depth_multiplier=m, algorithm=algorithm)
    s = summary(layer, (-1, h, w, c_in), batch_size=n, print_fn=None)
    assert 0.9 * depthwise <= s.flops <= 1.1 * depthwise
    layer = SeparableConv2D(filters, (kh, kw), padding=padding, depth_multiplier=m,
                            algorithm=algorithm)  # fmt: skip
    s = summary(layer, (-1, h, w, c_in), batch_size=n, print_fn=None)
    assert 0.9 * (depthwise + pointwise) <= s.flops <= 1.1 * (depthwise + pointwise)
    assert s.params == kh * kw * c_in * m + c_in * m * filters + filters


# ------------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: DepthwiseConv2D(3, depth_multiplier=0), ValueError,
         "DepthwiseConv2D 'depthwise_conv2d': depth_multiplier must be >= 1; got 0"),
        (lambda: DepthwiseConv2D(3, depth_multiplier=1.5), TypeError,
         "depth_multiplier must be a positive int; got float 1.5"),
        (lambda: DepthwiseConv2D(3, strides=0, name="dw"), ValueError,
         "DepthwiseConv2D 'dw': strides must be >= 1; got 0"),
        (lambda: DepthwiseConv2D((3, 3, 3)), ValueError,
         r"kernel_size must be an int or 2 ints; got \(3, 3, 3\)"),
        (lambda: DepthwiseConv2D(3, dilation=0), ValueError, "dilation must be >= 1; got 0"),
        (lambda: DepthwiseConv2D(3, algorithm="fft"), ValueError,
         r"algorithm must be one of \['auto', 'taps', 'xla'\]; got 'fft'\.$"),
        (lambda: DepthwiseConv2D(3, algorithm="matmul"), ValueError,
         r"got 'matmul' \(a depthwise convolution has no matrix product; 'taps' is its CPU route\)"),
        (lambda: DepthwiseConv2D(3, activation="rleu"), ValueError, "rleu"),
        (lambda: DepthwiseConv2D(3, kernel_init="glorot"), ValueError,
         "DepthwiseConv2D 'depthwise_conv2d' kernel_init"),
        (lambda: SeparableConv2D(0, 3), ValueError,
         "SeparableConv2D 'separable_conv2d': filters must be >= 1; got 0"),
        (lambda: SeparableConv2D(4, 3, depth_multiplier=0), ValueError,
         "SeparableConv2D 'separable_conv2d': depth_multiplier must be >= 1; got 0"),
        (lambda: SeparableConv2D(4, 3, depthwise_init="nope"), ValueError,
         "SeparableConv2D 'separable_conv2d' depthwise_init"),
        (lambda: SeparableConv2D(4, 3, pointwise_init="nope"), ValueError,
         "SeparableConv2D 'separable_conv2d' pointwise_init"),
        (lambda: SeparableConv2D(4, 3, algorithm="matmul"), ValueError,
         r"SeparableConv2D 'separable_conv2d': algorithm must be one of \['auto', 'taps', 'xla'\]"),
    ],
)  # fmt: skip
def test_construction_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("make", [lambda: DepthwiseConv2D(3), lambda: SeparableConv2D(4, 3)])
@pytest.mark.parametrize(
    "kwargs, input_shape, message",
    [
        ({}, (-1, 8, 8), r"input_shape must be \(N, H, W, C\) channels-last with a batch axis "
         r"\(4 axes\); got \(-1, 8, 8\)\. For NCHW data, move the channel axis last"),
        ({}, (-1, 8, 8, -1), r"input channels must be known \(>= 1\); got \(-1, 8, 8, -1\)"),
        ({}, (-1, 2, 8, 3), r"the dilated kernel \(3\) is larger than the padded input \(2\) on "
         r"spatial axis 0; input_shape \(-1, 2, 8, 3\)"),
        ({"dilation": 3}, (-1, 8, 6, 3), r"the dilated kernel \(7\) is larger than the padded "
         r"input \(6\) on spatial axis 1"),
        ({"padding": "full"}, (-1, 8, 8, 3),
         r"padding must be one of \['causal', 'same', 'valid'\] or \(before, after\) pairs; got 'full'"),
        ({"padding": "causal"}, (-1, 8, 8, 3), "padding='causal' is for 1-D convolutions only"),
        ({"padding": [(1, 1)]}, (-1, 8, 8, 3),
         r"explicit padding must be 2 \(before, after\) pairs of ints >= 0; got \[\(1, 1\)\]"),
    ],
)  # fmt: skip
def test_init_errors(make, kwargs, input_shape, message, key):
    base = make()
    layer = (
        DepthwiseConv2D(3, **kwargs)
        if base.config["type"] == "DepthwiseConv2D"
        else SeparableConv2D(4, 3, **kwargs)
    )
    with pytest.raises(ValueError, match=f"{base.config['type']} '{base.name}': {message}"):
        layer.init(key, input_shape)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_apply_errors_name_the_expected_and_received_channels(algorithm, key):
    layer = DepthwiseConv2D(3, depth_multiplier=2, algorithm=algorithm)
    _, params, _ = layer.init(key, (-1, 8, 8, 3))
    with pytest.raises(
        ValueError,
        match=r"DepthwiseConv2D 'depthwise_conv2d': x must have shape \(N, H, W, 3\) "
        r"channels-last, with the 3 input channels of init; got \(2, 8, 8, 4\)\.",
    ):
        layer.apply(params, {}, jnp.ones((2, 8, 8, 4)))
    with pytest.raises(ValueError, match=r"x must have shape \(N, H, W, 3\) .*got \(2, 3, 8, 8\)"):
        layer.apply(params, {}, jnp.ones((2, 3, 8, 8)))  # NCHW
    with pytest.raises(ValueError, match=r"the dilated kernel \(3\) is larger than the padded"):
        layer.apply(params, {}, jnp.ones((2, 2, 8, 3)))
    separable = SeparableConv2D(4, 3, name="sep", algorithm=algorithm)
    _, params, _ = separable.init(key, (-1, 8, 8, 3))
    with pytest.raises(
        ValueError,
        match=r"SeparableConv2D 'sep': x must have shape \(N, H, W, 3\) channels-last, with the 3 "
        r"input channels of init; got \(2, 8, 8, 5\)\.",
    ):
        separable.apply(params, {}, jnp.ones((2, 8, 8, 5)))
