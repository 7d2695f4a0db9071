"""RMSNorm and GroupNorm: NumPy references, identities, Keras 3 numerics, dtypes, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.layers import BatchNorm, GroupNorm, LayerNorm, RMSNorm
from jaxnn.models.summary import summary
from tests.conftest import check_fn_grads, rng

ATOL = 1e-5
BF16_RTOL = 2.0**-8  # one unit in the last place of bfloat16's 8-bit significand
F16_RTOL = 2.0**-11


def np_rms(x, axes, eps, gamma=None):
    x = np.asarray(x, np.float64)
    y = x / np.sqrt((x**2).mean(axis=axes, keepdims=True) + eps)
    if gamma is not None:
        shape = [1] * x.ndim
        for a, d in zip(sorted(axes), np.shape(gamma), strict=True):
            shape[a] = d
        y = y * np.reshape(gamma, shape)
    return y


def np_group_norm(x, groups, eps, gamma=None, beta=None):
    """Loops over samples and groups: an independent spelling of the reshape in the layer."""
    x = np.asarray(x, np.float64)
    y, size = np.empty_like(x), x.shape[-1] // groups
    for n in range(x.shape[0]):
        for g in range(groups):
            block = x[n, ..., g * size : (g + 1) * size]
            mean, var = block.mean(), ((block - block.mean()) ** 2).mean()  # biased
            y[n, ..., g * size : (g + 1) * size] = (block - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * np.asarray(gamma)
    if beta is not None:
        y = y + np.asarray(beta)
    return y


def run(layer, params, x):
    """``layer.apply`` in evaluation, jitted: one compile instead of one per operation."""
    return jax.jit(layer.apply)(params, {}, jnp.asarray(x))[0]


def init_params(layer, input_shape, seed=0):
    """init, then params moved off 1 and 0 so that every path of the affine part is seen."""
    out_shape, params, state = layer.init(jax.random.key(0), input_shape)
    r = rng(seed)
    params = {k: v + jnp.asarray(r.normal(0, 0.3, v.shape), v.dtype) for k, v in params.items()}
    return out_shape, params, state


# ---------------------------------------------------------------------------------------------
# RMSNorm against NumPy


def test_rms_norm_by_hand(key):
    rms = RMSNorm(epsilon=1e-6)
    _, params, state = rms.init(key, (-1, 2))
    y, new_state = rms.apply(params, state, jnp.array([[3.0, 4.0], [0.0, 0.0]]))
    # row 0: mean of squares (9 + 16) / 2 = 12.5; row 1: 0 / sqrt(eps) = 0, no NaN
    np.testing.assert_allclose(y, [[3 / 12.5**0.5, 4 / 12.5**0.5], [0.0, 0.0]], rtol=1e-6)
    assert new_state == {} and state == {}


@pytest.mark.parametrize(
    "axis, shape",
    [(-1, (2, 3, 4)), ((-2, -1), (2, 3, 4)), ((-1, -3), (2, 3, 2, 4)), (-2, (3, 5, 2))],
)
def test_rms_norm_matches_numpy(axis, shape):
    layer = RMSNorm(epsilon=1e-5, axis=axis)
    axes = tuple(sorted(axis)) if isinstance(axis, tuple) else (axis,)
    out_shape, params, state = init_params(layer, (-1, *shape[1:]))
    assert out_shape == (-1, *shape[1:])
    assert params["gamma"].shape == tuple(shape[a] for a in axes)  # sizes of the axes, in order
    x = rng(1).normal(0.5, 2.0, size=shape).astype(np.float32)
    y = run(layer, params, x)
    expected = np_rms(x, axes, 1e-5, np.asarray(params["gamma"]))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=ATOL)
    assert not np.allclose(y, x)  # sanity: the layer did something


def test_rms_norm_does_not_centre_unlike_layer_norm(key):
    x = jnp.array([[1.0, 3.0]])  # mean 2: LayerNorm gives [-1, 1], RMSNorm keeps the signs
    rms, _ = RMSNorm().apply(RMSNorm().init(key, (-1, 2))[1], {}, x)
    np.testing.assert_allclose(rms, [[1 / 5**0.5, 3 / 5**0.5]], rtol=1e-5)  # RMS = sqrt(5)


def test_rms_norm_without_scale_and_params_dtype(key):
    _, params, _ = RMSNorm(use_scale=False).init(key, (-1, 3))
    assert params == {}
    x = rng(2).normal(size=(4, 3)).astype(np.float32)
    y, _ = RMSNorm(use_scale=False).apply(params, {}, jnp.asarray(x))
    np.testing.assert_allclose(y, np_rms(x, (-1,), 1e-6), rtol=1e-5, atol=ATOL)
    _, params, _ = RMSNorm(param_dtype=jnp.bfloat16).init(key, (-1, 3))
    assert params["gamma"].dtype == jnp.bfloat16
    assert RMSNorm().apply(params, {}, jnp.asarray(x))[0].dtype == jnp.float32  # x's dtype
    # A compute dtype: the output is in it, the statistics still in float32.
    y16, _ = RMSNorm(dtype=jnp.bfloat16).apply({"gamma": jnp.ones(3)}, {}, jnp.asarray(x))
    assert y16.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.float32(y16), np_rms(x, (-1,), 1e-6), rtol=1e-2, atol=1e-2)


# ---------------------------------------------------------------------------------------------
# GroupNorm against NumPy, and its two identities


@pytest.mark.parametrize(
    "groups, shape", [(3, (2, 4, 4, 6)), (2, (3, 4)), (4, (2, 5, 8)), (1, (2, 3, 3, 2))]
)
def test_group_norm_matches_numpy(groups, shape):
    layer = GroupNorm(groups, epsilon=1e-3)
    out_shape, params, state = init_params(layer, (-1, *shape[1:]))
    assert out_shape == (-1, *shape[1:]) and state == {}
    assert jax.tree.map(jnp.shape, params) == {"gamma": shape[-1:], "beta": shape[-1:]}
    x = rng(3).normal(1.0, 3.0, size=shape).astype(np.float32)
    y = run(layer, params, x)
    expected = np_group_norm(x, groups, 1e-3, params["gamma"], params["beta"])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=ATOL)


def test_group_norm_by_hand(key):
    gn = GroupNorm(2, epsilon=1e-3)
    _, params, state = gn.init(key, (-1, 2, 4))
    x = jnp.arange(8.0).reshape(1, 2, 4)
    y, _ = gn.apply(params, state, x)
    # group 0 holds channels 0, 1 at both positions: {0, 1, 4, 5}, mean 2.5,
    # variance (2.5^2 + 1.5^2 + 1.5^2 + 2.5^2) / 4 = 4.25; group 1 {2, 3, 6, 7}: mean 4.5, 4.25
    s = np.sqrt(4.25 + 1e-3)
    row0 = [(0 - 2.5) / s, (1 - 2.5) / s, (2 - 4.5) / s, (3 - 4.5) / s]
    np.testing.assert_allclose(y[0, 0], row0, rtol=1e-5)


def test_group_norm_with_one_group_is_layer_norm_over_all_non_batch_axes(key):
    x = rng(4).normal(2.0, 1.5, size=(3, 4, 5, 6)).astype(np.float32)
    _, params, state = GroupNorm(1).init(key, (-1, 4, 5, 6))  # gamma 1, beta 0
    y = run(GroupNorm(1), params, x)
    flat = x.reshape(3, -1)
    ln = LayerNorm(use_scale=False, use_bias=False)
    expected = run(ln, {}, flat)
    np.testing.assert_allclose(y, np.asarray(expected).reshape(x.shape), rtol=1e-5, atol=ATOL)
    # ... and on (N, C) features it is LayerNorm itself, gamma and beta included
    _, params, _ = init_params(GroupNorm(1), (-1, 6))
    y2 = run(GroupNorm(1), params, flat[:, :6])
    np.testing.assert_allclose(y2, run(LayerNorm(), params, flat[:, :6]), rtol=1e-5, atol=ATOL)


def test_group_norm_with_one_group_per_channel_is_instance_norm(key):
    x = rng(5).normal(-1.0, 2.0, size=(3, 4, 5, 6)).astype(np.float32)
    gn = GroupNorm(6)
    _, params, _ = init_params(gn, (-1, 4, 5, 6))
    y = run(gn, params, x)
    # instance norm: each sample and channel over its H x W positions
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-3) * np.asarray(params["gamma"]) + np.asarray(
        params["beta"]
    )
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=ATOL)
    # ... which is BatchNorm's training statistics on a batch of one sample
    bn = BatchNorm()
    _, _, bn_state = bn.init(key, (-1, 4, 5, 6))
    rows = [bn.apply(params, bn_state, jnp.asarray(x[i : i + 1]), train=True)[0] for i in range(3)]
    np.testing.assert_allclose(y, np.concatenate(rows), rtol=1e-5, atol=ATOL)


# ---------------------------------------------------------------------------------------------
# Generic layer checks (shapes, jit, no batch coupling) and gradients

LAYERS = {
    "rms": (lambda: RMSNorm(), (3, 4)),
    "rms_two_axes": (lambda: RMSNorm(axis=(-2, -1), epsilon=1e-3), (3, 4)),
    "group": (lambda: GroupNorm(2), (3, 3, 4)),
    "group_no_affine": (lambda: GroupNorm(2, use_scale=False, use_bias=False), (3, 4)),
}


def build(name, n=4):
    factory, sample = LAYERS[name]
    layer = factory()
    out_shape, params, state = init_params(layer, (-1, *sample))
    x = jax.random.normal(jax.random.key(1), (n, *sample)) + 0.5
    return layer, out_shape, params, state, x


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_shapes_jit_and_rows_are_independent(name):
    layer, out_shape, params, state, x = build(name)
    eager, _ = layer.apply(params, state, x)
    assert eager.shape == (4, *out_shape[1:])
    jitted = jax.jit(layer.apply, static_argnames="train")
    for train in (False, True):  # no state and no mode: both give the same
        y, new_state = jitted(params, state, x, train=train)
        assert new_state == {}
        np.testing.assert_allclose(y, eager, rtol=2e-6, atol=2e-6)
    rows = [jitted(params, state, x[i : i + 1])[0][0] for i in range(4)]
    np.testing.assert_allclose(eager, np.stack(rows), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["rms_two_axes", "group"])
def test_gradients_match_finite_differences(name):
    layer, _, params, state, x = build(name, n=2)
    # jitted (in float64 inside the helper): the finite differences then run compiled
    check_fn_grads(jax.jit(lambda p, x: layer.apply(p, state, x)[0]), (params, x), order=1)


# ---------------------------------------------------------------------------------------------
# Half precision: statistics in float32


def f32_reference(layer, params, x_half):
    """The layer on the same values in float32: what half inputs must match, rounded."""
    return np.asarray(run(layer, params, jnp.asarray(x_half, jnp.float32)))


@pytest.mark.parametrize("dtype, rtol", [(jnp.bfloat16, BF16_RTOL), (jnp.float16, F16_RTOL)])
def test_group_norm_statistics_run_in_float32(dtype, rtol):
    # A large offset: in half precision the mean (about 64.2) rounds by ~0.1-0.25, which
    # would shift every normalised value by that much over a standard deviation of 1.
    x = (64.2 + rng(6).normal(size=(2, 4, 4, 6))).astype(dtype)
    layer = GroupNorm(3)
    _, params, _ = init_params(layer, (-1, 4, 4, 6))
    y = run(layer, params, x)
    assert y.dtype == dtype
    expected = f32_reference(layer, params, x)
    np.testing.assert_allclose(np.asarray(y, np.float32), expected, rtol=rtol, atol=4 * rtol)
    # the input discriminates: the same statistics taken in half precision miss by far more
    xh = jnp.asarray(x).reshape(2, 4, 4, 3, 2)
    mean = jnp.mean(xh, axis=(1, 2, 4), keepdims=True, dtype=dtype)
    naive = (xh - mean) / jnp.sqrt(jnp.mean(jnp.square(xh - mean), axis=(1, 2, 4), keepdims=True))
    naive = np.asarray(naive.reshape(x.shape), np.float32) * np.asarray(params["gamma"])
    assert np.abs(naive + np.asarray(params["beta"]) - expected).max() > 20 * rtol


def test_rms_norm_statistics_run_in_float32():
    # float16: 300^2 = 90000 overflows float16 (max 65504); in float32 it does not.
    x = (300.0 + 10.0 * rng(7).normal(size=(3, 8))).astype(np.float16)
    layer = RMSNorm()
    _, params, _ = init_params(layer, (-1, 8))
    y = run(layer, params, x)
    assert y.dtype == jnp.float16 and np.isfinite(np.asarray(y, np.float32)).all()
    expected = f32_reference(layer, params, x)
    np.testing.assert_allclose(np.asarray(y, np.float32), expected, rtol=F16_RTOL, atol=1e-3)
    assert np.square(x.astype(np.float32)).max() > np.finfo(np.float16).max  # out of float16
    # bfloat16: the result rounds the float32 one
    xb = rng(8).normal(size=(3, 5, 8)).astype(jnp.bfloat16)
    yb = run(layer, params, xb)
    assert yb.dtype == jnp.bfloat16
    np.testing.assert_allclose(
        np.asarray(yb, np.float32), f32_reference(layer, params, xb), rtol=BF16_RTOL, atol=1e-2
    )


# ---------------------------------------------------------------------------------------------
# Keras 3 with copied weights


@pytest.fixture(scope="module")
def keras():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_BACKEND", "jax")
        keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip(f"Keras runs on the {keras.backend.backend()} backend; these tests need jax.")
    return keras


def keras_call(layer, x):
    """Keras relies on implicit rank promotion, which conftest.py makes an error for jaxnn."""
    with jax.numpy_rank_promotion("allow"):
        return np.asarray(layer(x), np.float32)


@pytest.mark.parametrize(
    "axis, shape, epsilon", [(-1, (4, 5, 8), 1e-6), ((-2, -1), (3, 5, 4), 0.5)]
)
def test_rms_norm_matches_keras(keras, axis, shape, epsilon):
    k_axis = list(axis) if isinstance(axis, tuple) else axis
    k_layer = keras.layers.RMSNormalization(axis=k_axis, epsilon=epsilon)
    k_layer.build((None, *shape[1:]))
    assert keras.layers.RMSNormalization().epsilon == 1e-6 == RMSNorm().config["epsilon"]
    layer = RMSNorm(axis=axis, epsilon=epsilon)
    _, params, state = init_params(layer, (-1, *shape[1:]))
    k_layer.scale.assign(np.asarray(params["gamma"]))
    x = rng(9).normal(0.3, 2.0, size=shape).astype(np.float32)
    y = run(layer, params, x)
    np.testing.assert_allclose(y, keras_call(k_layer, x), rtol=1e-5, atol=ATOL)
    xb = x.astype(jnp.bfloat16)  # mixed precision: both take float32 statistics
    yb = run(layer, params, xb)
    np.testing.assert_allclose(
        np.asarray(yb, np.float32), keras_call(k_layer, xb), rtol=BF16_RTOL, atol=2e-2
    )


@pytest.mark.parametrize(
    "groups, shape, epsilon",
    [(3, (2, 5, 5, 6), 1e-3), (4, (5, 4), 0.3)],  # an image, and features with a large epsilon
)
def test_group_norm_matches_keras(keras, groups, shape, epsilon):
    k_layer = keras.layers.GroupNormalization(groups=groups, epsilon=epsilon)
    k_layer.build((None, *shape[1:]))
    assert keras.layers.GroupNormalization().epsilon == 1e-3 == GroupNorm().config["epsilon"]
    layer = GroupNorm(groups, epsilon=epsilon)
    _, params, state = init_params(layer, (-1, *shape[1:]))
    k_layer.gamma.assign(np.asarray(params["gamma"]))
    k_layer.beta.assign(np.asarray(params["beta"]))
    x = rng(10).normal(1.0, 2.0, size=shape).astype(np.float32)
    y = run(layer, params, x)
    np.testing.assert_allclose(y, keras_call(k_layer, x), rtol=1e-5, atol=ATOL)
    xb = (x + 30.0).astype(jnp.bfloat16)  # an offset that half-precision statistics would miss
    yb = run(layer, params, xb)
    np.testing.assert_allclose(
        np.asarray(yb, np.float32), keras_call(k_layer, xb), rtol=BF16_RTOL, atol=2e-2
    )


# ---------------------------------------------------------------------------------------------
# Model files, summary, errors


def test_config_round_trips_through_a_model_file(tmp_path, key):
    model = jaxnn.serial(
        RMSNorm(axis=(-2, -1), epsilon=1e-4, name="rms"),
        GroupNorm(2, epsilon=0.01, use_bias=False, name="gn"),
        RMSNorm(use_scale=False),
    )
    _, params, state = model.init(key, (-1, 3, 4))
    params = jax.tree.map(lambda p: p + 0.25, params)
    x = jnp.asarray(rng(11).normal(size=(2, 3, 4)), jnp.float32)
    y, _ = model.apply(params, state, x)
    path = jaxnn.save_model(tmp_path / "m.jaxnn", model, (params, state), input_shape=(-1, 3, 4))
    loaded = jaxnn.load_model(path)
    assert loaded.model.config == model.config
    rms = loaded.model.config["layers"][0]
    assert rms["type"] == "RMSNorm" and rms["axis"] == (-2, -1) and rms["epsilon"] == 1e-4
    assert loaded.model.config["layers"][1]["groups"] == 2
    y_loaded, _ = loaded.model.apply(loaded.train_state.params, loaded.train_state.state, x)
    np.testing.assert_array_equal(y_loaded, y)


def test_summary_flops_are_close_to_the_analytic_count():
    n, c = 5, 8
    s = summary(RMSNorm(), (-1, c), batch_size=n, print_fn=None)
    m = n * c  # per element: square, sum, normalise, scale; per row: 1/C and + epsilon
    assert 4 * m <= s.flops <= 4 * m + 2 * n and s.params == c
    assert s.rows[0].transcendentals == n  # one rsqrt per row
    g, hw = 2, 3
    s = summary(GroupNorm(g), (-1, hw, c), batch_size=n, print_fn=None)
    m, rows = n * hw * c, n * g
    # per element: sum, centre, square, sum, normalise, scale, shift (7); per group: the two
    # divisions and + epsilon. XLA recomputes the centring in a second fusion: up to M + NG more.
    assert 7 * m + 3 * rows <= s.flops <= 8 * m + 4 * rows and s.params == 2 * c
    assert s.rows[0].transcendentals == rows


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: RMSNorm(epsilon=0.0), ValueError, "RMSNorm 'rms_norm': epsilon must be > 0; got 0.0"),
        (lambda: GroupNorm(epsilon=-1e-3), ValueError, "GroupNorm 'group_norm': epsilon must be > 0; got -0.001"),
        (lambda: GroupNorm(0), ValueError, "GroupNorm 'group_norm': groups must be >= 1; got 0"),
        (lambda: GroupNorm(-1), ValueError, "GroupNorm 'group_norm': groups must be >= 1; got -1"),
        (lambda: GroupNorm(2.0), TypeError, "GroupNorm 'group_norm': groups must be a positive int; got float 2.0"),
        (lambda: RMSNorm(axis=1), ValueError, r"RMSNorm 'rms_norm': axis must hold distinct negative ints.*; got 1\."),
        (lambda: RMSNorm(axis=(-1, -1)), ValueError, r"axis must hold distinct negative ints.*got \(-1, -1\)"),
        (lambda: RMSNorm(axis="last"), TypeError, "RMSNorm 'rms_norm': axis must be a negative int or a non-empty tuple of them, such as -1 or \\(-2, -1\\); got str 'last'"),
        (lambda: RMSNorm(axis=()), TypeError, r"axis must be a negative int .*; got tuple \(\)"),
    ],
)  # fmt: skip
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_groups_must_divide_the_channels(key):
    match = (
        r"GroupNorm 'gn': groups=4 must divide the number of channels C=6; got C % groups = 2\. "
        r"Choose groups among \[1, 2, 3, 6\]\."
    )
    with pytest.raises(ValueError, match=match):
        GroupNorm(4, name="gn").init(key, (-1, 5, 6))
    with pytest.raises(ValueError, match=match):  # without params, apply checks it too
        GroupNorm(4, use_scale=False, use_bias=False, name="gn").apply({}, {}, jnp.ones((2, 6)))


def test_input_shape_errors(key):
    with pytest.raises(
        ValueError,
        match=r"GroupNorm 'group_norm': input_shape must be \(N, \.\.\., C\) with a batch axis .*got \(6,\)",
    ):
        GroupNorm(2).init(key, (6,))
    with pytest.raises(
        ValueError,
        match=r"RMSNorm 'rms_norm': input_shape must be \(N, \.\.\., C\) with a batch axis first and known sizes C on axis=-1; got \(4,\)",
    ):
        RMSNorm().init(key, (4,))
    with pytest.raises(
        ValueError,
        match=r"RMSNorm 'r': input_shape must be \(N, \.\.\., C1, \*, C2\) .* on axis=\(-3, -1\); got \(-1, 3, 4\)",
    ):
        RMSNorm(axis=(-3, -1), name="r").init(key, (-1, 3, 4))
    with pytest.raises(ValueError, match=r"known sizes C on axis=-2; got \(-1, -1, 4\)"):
        RMSNorm(axis=-2).init(key, (-1, -1, 4))  # gamma needs the size


def test_apply_errors(key):
    _, params, _ = GroupNorm(2).init(key, (-1, 4))
    with pytest.raises(
        ValueError,
        match=r"GroupNorm 'group_norm': x must have shape \(N, \.\.\., 4\); got \(2, 6\)",
    ):
        GroupNorm(2).apply(params, {}, jnp.ones((2, 6)))
    with pytest.raises(ValueError, match=r"x must have shape \(N, \.\.\., 4\); got \(4,\)"):
        GroupNorm(2).apply(params, {}, jnp.ones(4))  # no batch axis
    _, params, _ = RMSNorm().init(key, (-1, 4))
    with pytest.raises(
        ValueError, match=r"RMSNorm 'rms_norm': x must have shape \(N, \.\.\., 4\); got \(2, 5\)"
    ):
        RMSNorm().apply(params, {}, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"x must have shape \(N, \.\.\., 4\); got \(4,\)"):
        RMSNorm().apply(params, {}, jnp.ones(4))
    layer = RMSNorm(axis=(-3, -1))
    _, params, _ = layer.init(key, (-1, 3, 2, 4))
    with pytest.raises(
        ValueError, match=r"x must have shape \(N, \.\.\., 3, \*, 4\); got \(2, 3, 2, 5\)"
    ):
        layer.apply(params, {}, jnp.ones((2, 3, 2, 5)))
    with pytest.raises(ValueError, match=r"x must have shape \(N, \.\.\., \*\); got \(3,\)"):
        RMSNorm(use_scale=False).apply({}, {}, jnp.ones(3))
