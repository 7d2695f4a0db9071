import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn import paths
from jaxnn.layers import BatchNorm, Dense, Dropout


def test_serial_names_are_unique_and_nest_params(key):
    model = jaxnn.serial(Dense(3), jnp.tanh, Dense(3), jnp.tanh, Dense(1, name="head"))
    shape, params, state = model.init(key, (-1, 2))
    assert shape == (-1, 1)
    assert list(params) == ["dense", "tanh", "dense_1", "tanh_1", "head"]
    assert params["tanh"] == {} and state["dense"] == {}
    assert params["dense_1"]["w"].shape == (3, 3)
    assert [p for p, _ in paths.leaves_with_paths(params)] == [
        "dense/b",
        "dense/w",
        "dense_1/b",
        "dense_1/w",
        "head/b",
        "head/w",
    ]


def test_nested_combinators_give_paths_through_names(key):
    encoder = jaxnn.serial(Dense(4), jnp.tanh, Dense(2), name="encoder")
    model = jaxnn.serial(encoder, Dense(1))
    _, params, _ = model.init(key, (-1, 3))
    assert params["encoder"]["dense_1"]["w"].shape == (4, 2)


def test_serial_apply_matches_numpy_forward(key):
    model = jaxnn.serial(Dense(4), jnp.tanh, Dense(2))
    _, params, state = model.init(key, (-1, 3))
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 5
    p = jax.tree.map(np.asarray, params)
    expected = (
        np.tanh(x @ p["dense"]["w"] + p["dense"]["b"]) @ p["dense_1"]["w"] + p["dense_1"]["b"]
    )
    y, _ = model.apply(params, state, jnp.asarray(x))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_each_child_gets_its_own_key(key):
    model = jaxnn.serial(Dense(5), Dense(5))
    _, params, _ = model.init(key, (-1, 5))
    assert not np.allclose(params["dense"]["w"], params["dense_1"]["w"])
    # Two dropouts given one apply key draw different masks.
    drops = jaxnn.parallel(Dropout(0.5), Dropout(0.5))
    _, p, s = drops.init(key, (-1, 200))
    y, _ = drops.apply(p, s, jnp.ones((1, 200)), key=key, train=True)
    assert not np.array_equal(y[:, :200] == 0, y[:, 200:] == 0)


def test_same_key_same_params_different_key_different_params():
    model = jaxnn.serial(Dense(4), Dense(2))
    _, a, _ = model.init(jax.random.key(1), (-1, 3))
    _, b, _ = model.init(jax.random.key(1), (-1, 3))
    _, c, _ = model.init(jax.random.key(2), (-1, 3))
    jax.tree.map(np.testing.assert_array_equal, a, b)
    assert not np.allclose(a["dense"]["w"], c["dense"]["w"])


def test_legacy_prngkey_works_everywhere():
    model = jaxnn.serial(Dense(4), Dropout(0.5), Dense(1))
    _, params, state = model.init(jax.random.PRNGKey(0), (-1, 3))
    y, _ = model.apply(params, state, jnp.ones((2, 3)), key=jax.random.PRNGKey(1), train=True)
    assert y.shape == (2, 1)


def test_state_is_threaded_and_unchanged_in_evaluation(key):
    model = jaxnn.serial(Dense(3), BatchNorm(momentum=0.5))
    _, params, state = model.init(key, (-1, 2))
    x = jnp.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]])
    _, new_state = model.apply(params, state, x, train=True)
    p = jax.tree.map(np.asarray, params)
    h = np.asarray(x) @ p["dense"]["w"] + p["dense"]["b"]
    np.testing.assert_allclose(
        new_state["batch_norm"]["mean"], 0.5 * h.mean(0), rtol=1e-5, atol=1e-7
    )
    _, eval_state = model.apply(params, new_state, x, train=False)
    jax.tree.map(np.testing.assert_array_equal, eval_state, new_state)


def test_serial_errors_name_the_child(key):
    model = jaxnn.serial(Dense(3), Dense(2, name="head"))
    with pytest.raises(
        ValueError,
        match=r"serial 'serial', layer 0 \('dense'\): Dense 'dense': input_shape must be",
    ):
        model.init(key, (784,))
    _, params, state = model.init(key, (-1, 4))
    with pytest.raises(
        ValueError,
        match=r"Dense 'dense': x must have shape \(N, \.\.\., 4\); got \(5,\)\. Add a batch axis",
    ):
        model.apply(params, state, jnp.ones(5))
    with pytest.raises(
        ValueError,
        match=r"params must be a dict with one entry per layer, \['dense', 'head'\]; got \['dense'\]",
    ):
        model.apply({"dense": params["dense"]}, state, jnp.ones((1, 4)))
    with pytest.raises(ValueError, match="needs at least one layer"):
        jaxnn.serial()
    with pytest.raises(
        TypeError,
        match=r"serial 'serial': each layer must be a jaxnn Layer or a callable .* got int 3",
    ):
        jaxnn.serial(Dense(2), 3)


def test_residual_adds_the_input(key):
    block = jaxnn.residual(Dense(3), jnp.tanh)
    shape, params, state = block.init(key, (-1, 3))
    assert shape == (-1, 3)
    x = jnp.array([[0.1, -0.2, 0.3]])
    p = jax.tree.map(np.asarray, params)
    expected = np.asarray(x) + np.tanh(np.asarray(x) @ p["dense"]["w"] + p["dense"]["b"])
    np.testing.assert_allclose(block.apply(params, state, x)[0], expected, rtol=1e-6, atol=1e-6)


def test_residual_shape_mismatch_is_explained(key):
    with pytest.raises(
        ValueError, match=r"residual 'residual': the body maps input shape \(-1, 3\) to \(-1, 2\)"
    ):
        jaxnn.residual(Dense(2)).init(key, (-1, 3))


def test_parallel_concat_and_sum(key):
    both = jaxnn.parallel(Dense(2), Dense(3))
    shape, params, state = both.init(key, (-1, 4))
    assert shape == (-1, 5)
    x = jnp.ones((2, 4))
    y, _ = both.apply(params, state, x)
    p = jax.tree.map(np.asarray, params)
    np.testing.assert_allclose(
        y[:, :2], np.asarray(x) @ p["dense"]["w"] + p["dense"]["b"], rtol=1e-6
    )
    np.testing.assert_allclose(
        y[:, 2:], np.asarray(x) @ p["dense_1"]["w"] + p["dense_1"]["b"], rtol=1e-6
    )

    summed = jaxnn.parallel(Dense(3), lambda x: x[:, :3] * 2, combine="sum")
    shape, params, state = summed.init(key, (-1, 4))
    assert shape == (-1, 3)
    y, _ = summed.apply(params, state, x)
    p = jax.tree.map(np.asarray, params)
    np.testing.assert_allclose(
        y, np.asarray(x) @ p["dense"]["w"] + p["dense"]["b"] + 2.0, rtol=1e-6
    )


def test_parallel_errors(key):
    with pytest.raises(ValueError, match=r"combine must be one of \['concat', 'sum'\]; got 'max'"):
        jaxnn.parallel(Dense(2), combine="max")
    with pytest.raises(
        ValueError,
        match=r"combine='sum' needs every branch to give the same shape; got 'dense': \(-1, 2\), 'dense_1': \(-1, 3\)",
    ):
        jaxnn.parallel(Dense(2), Dense(3), combine="sum").init(key, (-1, 4))
    with pytest.raises(
        ValueError, match="combine='concat' on axis 0 needs every other axis to agree"
    ):
        jaxnn.parallel(Dense(2), Dense(3), axis=0).init(key, (-1, 4))


def test_jit_apply_equals_apply_for_a_model(key):
    model = jaxnn.serial(Dense(8), jax.nn.relu, BatchNorm(), Dropout(0.2), Dense(3))
    _, params, state = model.init(key, (-1, 5))
    x = jax.random.normal(key, (6, 5))
    k = jax.random.key(3)
    eager = model.apply(params, state, x, key=k, train=True)
    jitted = jax.jit(lambda p, s, x, k: model.apply(p, s, x, key=k, train=True))(
        params, state, x, k
    )
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), eager, jitted)


# ---------------------------------------------------------------------------------------------
# batch_mask: combinators forward it to the children that declare it


def _recorder(calls, name, *, declares):
    """A hand-written identity layer that records the keyword arguments it receives."""

    def init(key, input_shape):
        return input_shape, {}, {}

    if declares:

        def apply(params, state, x, *, key=None, train=False, batch_mask=None):
            calls.append((name, batch_mask))
            return x, state

    else:

        def apply(params, state, x, *, key=None, train=False):  # strict: no batch_mask
            calls.append((name, "no keyword"))
            return x, state

    return jaxnn.Layer(init, apply, name)


def _masked_model():
    return jaxnn.serial(
        Dense(3),
        jaxnn.parallel(BatchNorm(momentum=0.5), Dense(2)),
        jaxnn.residual(Dense(5), BatchNorm(momentum=0.9)),
        jax.nn.relu,
        BatchNorm(momentum=0.0),
    )


def test_batch_mask_reaches_batchnorm_nested_in_serial_parallel_residual(key):
    model = _masked_model()
    _, params, state = model.init(key, (-1, 2))
    real = jnp.asarray(np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32))
    padded = jnp.concatenate([real, real[:1], real[:1]])  # padding repeats row 0, as in fit
    mask = jnp.array([True] * 4 + [False] * 2)

    y_real, state_real = model.apply(params, state, real, train=True)
    y_masked, state_masked = model.apply(params, state, padded, train=True, batch_mask=mask)
    np.testing.assert_allclose(y_masked[:4], y_real, rtol=1e-5, atol=1e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        state_masked,
        state_real,
    )
    # Without the mask the padding rows shift every BatchNorm's statistics.
    _, state_unmasked = model.apply(params, state, padded, train=True)
    for path in (("parallel", "batch_norm"), ("residual", "batch_norm"), ("batch_norm",)):
        got = functools.reduce(lambda tree, k: tree[k], path, state_unmasked)
        want = functools.reduce(lambda tree, k: tree[k], path, state_real)
        assert not np.allclose(got["mean"], want["mean"], rtol=1e-4), path

    # jit gives the same numbers.
    jitted = jax.jit(lambda x, m: model.apply(params, state, x, train=True, batch_mask=m))
    y_jit, _ = jitted(padded, mask)
    np.testing.assert_allclose(y_jit, y_masked, rtol=1e-5, atol=1e-6)


def test_combinators_pass_the_mask_only_to_children_that_declare_it(key):
    calls = []
    model = jaxnn.serial(
        _recorder(calls, "a", declares=True),
        _recorder(calls, "b", declares=False),
        jaxnn.parallel(_recorder(calls, "c", declares=True), _recorder(calls, "d", declares=False)),
        jaxnn.residual(_recorder(calls, "e", declares=True), _recorder(calls, "f", declares=False)),
        jnp.tanh,  # a lifted function does not declare it either
    )
    _, params, state = model.init(key, (-1, 2))
    mask = jnp.array([True, False, True])
    model.apply(params, state, jnp.ones((3, 2)), train=True, batch_mask=mask)
    names = [name for name, _ in calls]
    assert names == ["a", "b", "c", "d", "e", "f"]
    for name, received in calls:
        if name in "ace":
            np.testing.assert_array_equal(received, [True, False, True])
        else:
            assert received == "no keyword"
    # No mask: the declaring layers get their default, None.
    calls.clear()
    model.apply(params, state, jnp.ones((3, 2)))
    assert [received for name, received in calls if name in "ace"] == [None, None, None]


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: jaxnn.serial(Dense(2)),
            r"serial 'serial': batch_mask must have shape \(N,\) = \(3,\), one entry per row of x; "
            r"got \(2,\)",
        ),
        (
            lambda: jaxnn.parallel(Dense(2), Dense(2), name="heads"),
            r"parallel 'heads': batch_mask must have shape \(N,\) = \(3,\).* got \(2,\)",
        ),
        (
            lambda: jaxnn.residual(Dense(2), name="skip"),
            r"residual 'skip': batch_mask must have shape \(N,\) = \(3,\).* got \(2,\)",
        ),
    ],
)
def test_combinators_check_the_mask_shape(key, build, match):
    model = build()
    _, params, state = model.init(key, (-1, 2))
    with pytest.raises(ValueError, match=match):
        model.apply(params, state, jnp.ones((3, 2)), train=True, batch_mask=jnp.ones(2, bool))


def test_mask_errors_name_the_combinator_or_the_child(key):
    model = jaxnn.serial(Dense(2), jaxnn.serial(BatchNorm(), name="inner"))
    _, params, state = model.init(key, (-1, 2))
    # The outermost combinator checks the mask before any child runs.
    with pytest.raises(
        TypeError,
        match=r"serial 'serial': batch_mask must be a boolean array of shape \(N,\) = \(3,\), "
        r"True for the real rows; got float32 array of shape \(3,\)",
    ):
        model.apply(params, state, jnp.ones((3, 2)), train=True, batch_mask=jnp.ones(3))
    # A child that changes the batch axis gets a mask that no longer fits: BatchNorm says so.
    halves = jaxnn.serial(lambda x: x[:2], BatchNorm())
    _, params, state = halves.init(key, (4, 2))
    with pytest.raises(
        ValueError,
        match=r"serial 'serial', layer 1 \('batch_norm'\): BatchNorm 'batch_norm': batch_mask "
        r"must have shape \(N,\) = \(2,\), one entry per row of x; got \(4,\)",
    ):
        halves.apply(params, state, jnp.ones((4, 2)), train=True, batch_mask=jnp.ones(4, bool))


# ---------------------------------------------------------------------------------------------
# Pytree outputs: a layer may return a tuple or a dict, and the next layer receives it


def _concrete(shape_tree, n):
    """Replaces -1 by the batch size ``n`` in every shape of a pytree of shapes."""
    return jax.tree.map(
        lambda s: tuple(n if d == -1 else d for d in s),
        shape_tree,
        is_leaf=lambda s: isinstance(s, tuple) and all(isinstance(d, int) for d in s),
    )


def test_serial_passes_a_tuple_to_the_next_layer(key):
    model = jaxnn.serial(lambda x: (x, 2 * x), lambda t: t[0] + t[1])
    shape, params, state = model.init(key, (-1, 3))
    assert shape == (-1, 3)
    x = jnp.arange(6.0).reshape(2, 3)
    y, _ = model.apply(params, state, x)
    np.testing.assert_array_equal(y, 3 * np.arange(6.0).reshape(2, 3))
    # Stopping after the first layer, init gives the tuple of shapes apply returns.
    pair = jaxnn.serial(lambda x: (x, x.sum(axis=1)))
    shape, params, state = pair.init(key, (-1, 3))
    assert shape == ((-1, 3), (-1,))
    out, _ = pair.apply(params, state, x)
    assert jax.tree.map(jnp.shape, out) == _concrete(shape, 2)
    np.testing.assert_array_equal(out[1], [3.0, 12.0])


def test_a_dict_output_feeds_a_nested_serial_and_a_dense_layer(key):
    split = jaxnn.serial(lambda x: {"left": x[:, :2], "right": x[:, 2:]}, name="split")
    head = jaxnn.serial(lambda d: d["left"] * d["right"], Dense(1, name="out"), name="head")
    model = jaxnn.serial(split, head)
    shape, params, state = model.init(key, (-1, 4))
    assert shape == (-1, 1)
    assert split.init(key, (-1, 4))[0] == {"left": (-1, 2), "right": (-1, 2)}
    x = np.arange(8.0, dtype=np.float32).reshape(2, 4)
    w, b = (np.asarray(params["head"]["out"][k]) for k in ("w", "b"))
    expected = (x[:, :2] * x[:, 2:]) @ w + b
    y, _ = model.apply(params, state, jnp.asarray(x))
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    y_jit, _ = jax.jit(model.apply)(params, state, jnp.asarray(x))
    np.testing.assert_allclose(y_jit, expected, rtol=1e-6)


def test_serial_init_takes_a_pytree_of_shapes_or_of_example_arrays(key):
    model = jaxnn.serial(lambda t: t[0] @ t[1], jnp.tanh)
    assert model.init(key, ((-1, 3), (3, 5)))[0] == (-1, 5)
    assert model.init(key, (np.zeros((4, 3)), np.zeros((3, 5))))[0] == (4, 5)


def test_a_layer_that_cannot_take_a_tuple_says_which_child(key):
    with pytest.raises(
        TypeError,
        match=r"serial 'serial', layer 1 \('dense'\): Dense 'dense'.init: input_shape must "
        r"contain only ints; got \(\(-1, 3\), \(-1, 3\)\)",
    ):
        jaxnn.serial(lambda x: (x, x), Dense(2)).init(key, (-1, 3))
    with pytest.raises(
        TypeError,
        match=r"serial 'serial', layer 0 \('lambda'\): lifted function 'lambda' on input shape "
        r"\(-1, 3\): must return an array or a pytree of arrays; returned str 'abc'",
    ):
        jaxnn.serial(lambda x: "abc").init(key, (-1, 3))
