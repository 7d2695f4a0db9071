import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxnn.layers import BatchNorm, LayerNorm
from tests.conftest import rng


def np_normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)  # biased
    return (x - mean) / np.sqrt(var + eps)


def test_batchnorm_training_normalises_with_batch_statistics(key):
    bn = BatchNorm(momentum=0.9, epsilon=1e-5)
    _, params, state = bn.init(key, (-1, 3))
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(64, 3)).astype(np.float32)
    y, new_state = bn.apply(params, state, jnp.asarray(x), train=True)
    np.testing.assert_allclose(y, np_normalize(x, 0, 1e-5), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.mean(y, 0), 0, atol=1e-5)
    np.testing.assert_allclose(np.var(y, 0), 1, atol=1e-3)
    # Running statistics: m * old + (1 - m) * batch, biased variance.
    np.testing.assert_allclose(new_state["mean"], 0.1 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(new_state["var"], 0.9 + 0.1 * x.var(0), rtol=1e-5)


def test_batchnorm_evaluation_uses_running_statistics_and_keeps_state(key):
    bn = BatchNorm(epsilon=1e-3)
    _, params, _ = bn.init(key, (-1, 2))
    params = {"gamma": jnp.array([2.0, 0.5]), "beta": jnp.array([1.0, -1.0])}
    state = {"mean": jnp.array([1.0, -2.0]), "var": jnp.array([4.0, 0.25])}
    x = np.array([[3.0, 0.0], [1.0, -2.0]], np.float32)
    y, new_state = bn.apply(params, state, jnp.asarray(x), train=False)
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-3) * [2.0, 0.5] + [1.0, -1.0]
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert new_state is state


def test_batchnorm_on_images_reduces_over_batch_and_space(key):
    bn = BatchNorm(momentum=0.0)
    _, params, state = bn.init(key, (-1, 4, 4, 2))
    x = np.random.default_rng(1).normal(size=(3, 4, 4, 2)).astype(np.float32)
    y, new_state = bn.apply(params, state, jnp.asarray(x), train=True)
    np.testing.assert_allclose(y, np_normalize(x, (0, 1, 2), 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new_state["mean"], x.mean((0, 1, 2)), rtol=1e-5, atol=1e-7)


def test_batchnorm_converges_to_data_statistics(key):
    bn = BatchNorm(momentum=0.5)
    _, params, state = bn.init(key, (-1, 1))
    x = jnp.array([[1.0], [3.0]])  # mean 2, biased var 1
    for _ in range(40):
        _, state = bn.apply(params, state, x, train=True)
    np.testing.assert_allclose(state["mean"], [2.0], rtol=1e-6)
    np.testing.assert_allclose(state["var"], [1.0], rtol=1e-6)


def test_layernorm_matches_numpy(key):
    ln = LayerNorm(epsilon=1e-5)
    _, params, state = ln.init(key, (-1, 3, 4))
    assert state == {} and params["gamma"].shape == (4,)
    params = {"gamma": jnp.array([1.0, 2.0, 3.0, 4.0]), "beta": jnp.array([0.0, 1.0, 0.0, -1.0])}
    x = np.random.default_rng(2).normal(size=(2, 3, 4)).astype(np.float32)
    y, _ = ln.apply(params, state, jnp.asarray(x))
    expected = np_normalize(x, -1, 1e-5) * [1.0, 2.0, 3.0, 4.0] + [0.0, 1.0, 0.0, -1.0]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_normalisation_without_scale_or_bias(key):
    _, params, _ = BatchNorm(use_scale=False, use_bias=False).init(key, (-1, 2))
    assert params == {}
    _, params, _ = LayerNorm(use_scale=False).init(key, (-1, 2))
    assert set(params) == {"beta"}


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: BatchNorm(momentum=1.5),
            r"BatchNorm 'batch_norm': momentum must be in \[0, 1\]; got 1.5",
        ),
        (lambda: BatchNorm(epsilon=0.0), "BatchNorm 'batch_norm': epsilon must be > 0; got 0.0"),
        (lambda: LayerNorm(epsilon=-1.0), "LayerNorm 'layer_norm': epsilon must be > 0; got -1.0"),
    ],
)
def test_constructor_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_shape_errors(key):
    with pytest.raises(
        ValueError, match=r"BatchNorm 'bn': input_shape must be \(N, \.\.\., C\) .* got \(3,\)"
    ):
        BatchNorm(name="bn").init(key, (3,))
    _, params, state = BatchNorm().init(key, (-1, 3))
    with pytest.raises(
        ValueError,
        match=r"BatchNorm 'batch_norm': x must have shape \(N, \.\.\., 3\); got \(2, 4\)",
    ):
        BatchNorm().apply(params, state, jnp.ones((2, 4)), train=True)
    _, params, _ = LayerNorm().init(key, (-1, 3))
    with pytest.raises(
        ValueError,
        match=r"LayerNorm 'layer_norm': x must have shape \(N, \.\.\., 3\); got \(2, 5\)",
    ):
        LayerNorm().apply(params, {}, jnp.ones((2, 5)))


# ---------------------------------------------------------------------------------------------
# A padded batch: batch_mask marks the real rows


def _padded(real, padding, mask):
    """Rows of ``real`` where ``mask`` is True and rows of ``padding`` elsewhere, in order."""
    rows, it_real, it_pad = [], iter(real), iter(padding)
    for keep in mask:
        rows.append(next(it_real) if keep else next(it_pad))
    return np.stack(rows)


@pytest.mark.parametrize(
    ("real_shape", "mask"),
    [
        ((4, 3), [True, True, True, True, False, False]),  # dense, padding at the end as in fit
        ((3, 2, 3, 2), [True, False, True, True]),  # images, padding in the middle
    ],
)
def test_batchnorm_with_mask_equals_batchnorm_on_the_real_rows(real_shape, mask):
    with jax.enable_x64(True):
        bn = BatchNorm(momentum=0.8, epsilon=1e-3, param_dtype=jnp.float64)
        features = real_shape[-1]
        params = {
            "gamma": jnp.linspace(0.5, 2.0, features),
            "beta": jnp.linspace(-1.0, 1.0, features),
        }
        state = {"mean": jnp.linspace(0.1, 0.3, features), "var": jnp.linspace(1.0, 2.0, features)}
        r = rng(3)
        real = r.normal(2.0, 3.0, size=real_shape)
        padding = 100.0 + r.normal(size=(len(mask) - real_shape[0], *real_shape[1:]))
        x = _padded(real, padding, mask)
        mask_array = jnp.array(mask)

        y, new_state = bn.apply(params, state, jnp.asarray(x), train=True, batch_mask=mask_array)
        y_real, state_real = bn.apply(params, state, jnp.asarray(real), train=True)

        np.testing.assert_allclose(y[mask_array], y_real, rtol=1e-12, atol=1e-12)
        for k in ("mean", "var"):
            np.testing.assert_allclose(new_state[k], state_real[k], rtol=1e-12, atol=1e-12)
        # NumPy reference: biased statistics over the real rows and the spatial axes.
        axes = tuple(range(real.ndim - 1))
        mu, var = real.mean(axes), real.var(axes)
        np.testing.assert_allclose(new_state["mean"], 0.8 * state["mean"] + 0.2 * mu, rtol=1e-12)
        np.testing.assert_allclose(new_state["var"], 0.8 * state["var"] + 0.2 * var, rtol=1e-12)
        # Padding rows are normalised with the real rows' statistics, not dropped.
        expected_pad = (padding - mu) / np.sqrt(var + 1e-3) * np.asarray(
            params["gamma"]
        ) + np.asarray(params["beta"])
        np.testing.assert_allclose(y[~mask_array], expected_pad, rtol=1e-12)
        assert y.shape == x.shape


def test_batchnorm_mask_gradients_match_finite_differences():
    with jax.enable_x64(True):
        bn = BatchNorm(momentum=0.7, param_dtype=jnp.float64)
        _, params, state = bn.init(jax.random.key(0), (-1, 3))
        params = {"gamma": jnp.array([0.5, 1.5, 2.0]), "beta": jnp.array([0.1, -0.2, 0.3])}
        x = jnp.asarray(rng(4).normal(size=(5, 3)))
        mask = jnp.array([True, True, True, False, False])

        def f(p, inputs):
            y, new_state = bn.apply(p, state, inputs, train=True, batch_mask=mask)
            return y, new_state["mean"], new_state["var"]

        check_grads(f, (params, x), order=2, modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)
        # The real rows' outputs do not depend on the padding rows at all.
        padding_grad = jax.grad(lambda inputs: jnp.sum(f(params, inputs)[0][:3] ** 3))(x)[3:]
        np.testing.assert_array_equal(padding_grad, 0.0)


def test_batchnorm_mask_all_true_equals_no_mask(key):
    bn = BatchNorm(momentum=0.9)
    _, params, state = bn.init(key, (-1, 2, 2, 3))
    x = jnp.asarray(rng(5).normal(1.0, 2.0, size=(4, 2, 2, 3)).astype(np.float32))
    y_none, state_none = bn.apply(params, state, x, train=True)
    y_true, state_true = bn.apply(params, state, x, train=True, batch_mask=jnp.ones(4, bool))
    np.testing.assert_allclose(y_true, y_none, rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), state_true, state_none)


def test_batchnorm_evaluation_ignores_the_mask(key):
    bn = BatchNorm()
    _, params, _ = bn.init(key, (-1, 2))
    state = {"mean": jnp.array([1.0, -1.0]), "var": jnp.array([2.0, 0.5])}
    x = jnp.array([[0.0, 1.0], [2.0, 3.0], [50.0, 60.0]])
    mask = jnp.array([True, False, False])
    y_masked, state_masked = bn.apply(params, state, x, train=False, batch_mask=mask)
    y_plain, _ = bn.apply(params, state, x, train=False)
    np.testing.assert_array_equal(y_masked, y_plain)
    assert state_masked is state


def test_batchnorm_all_padding_leaves_the_running_statistics_alone(key):
    bn = BatchNorm(momentum=0.5, epsilon=1e-3)
    _, params, _ = bn.init(key, (-1, 2))
    state = {"mean": jnp.array([1.0, -1.0]), "var": jnp.array([4.0, 0.25])}
    x = jnp.array([[3.0, 0.0], [1.0, -2.0]])
    y, new_state = jax.jit(lambda x, m: bn.apply(params, state, x, train=True, batch_mask=m))(
        x, jnp.zeros(2, bool)
    )
    jax.tree.map(np.testing.assert_array_equal, new_state, state)
    expected = (np.asarray(x) - [1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-3)
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert np.all(np.isfinite(y))


def test_batchnorm_mask_works_under_jit(key):
    bn = BatchNorm(momentum=0.0)
    _, params, state = bn.init(key, (-1, 1))
    x = jnp.array([[1.0], [3.0], [1.0]])
    run = jax.jit(lambda x, m: bn.apply(params, state, x, train=True, batch_mask=m))
    y, new_state = run(x, jnp.array([True, True, False]))
    # Real rows 1 and 3: mean 2, biased variance 1.
    np.testing.assert_allclose(new_state["mean"], [2.0], rtol=1e-6)
    np.testing.assert_allclose(new_state["var"], [1.0], rtol=1e-6)
    np.testing.assert_allclose(y[:, 0], np.array([-1.0, 1.0, -1.0]) / np.sqrt(1.001), rtol=1e-5)


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        (
            jnp.array([1.0, 0.0, 1.0]),
            TypeError,
            r"BatchNorm 'bn': batch_mask must be a boolean array of shape \(N,\) = \(3,\), True "
            r"for the real rows; got float32 array of shape \(3,\)\. Convert a 0/1 row mask",
        ),
        (
            [True, True, False],
            TypeError,
            r"BatchNorm 'bn': batch_mask must be a boolean array .* got list\.",
        ),
        (
            jnp.array([True, False]),
            ValueError,
            r"BatchNorm 'bn': batch_mask must have shape \(N,\) = \(3,\), one entry per row of x; "
            r"got \(2,\)",
        ),
        (
            jnp.ones((3, 1), bool),
            ValueError,
            r"BatchNorm 'bn': batch_mask must have shape \(N,\) = \(3,\).* got \(3, 1\)",
        ),
    ],
)
def test_batchnorm_mask_errors(key, mask, error, match):
    bn = BatchNorm(name="bn")
    _, params, state = bn.init(key, (-1, 2))
    with pytest.raises(error, match=match):
        bn.apply(params, state, jnp.ones((3, 2)), train=True, batch_mask=mask)
