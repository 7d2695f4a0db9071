import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.core import (
    Layer,
    accepts_batch_mask,
    apply_with_batch_mask,
    as_shape,
    check_batch_mask,
    check_key,
    child_key,
    infer_shape,
    lift,
)
from jaxnn.layers import BatchNorm, Dense


def test_as_shape_accepts_tuples_lists_and_example_arrays():
    assert as_shape((-1, 784)) == (-1, 784)
    assert as_shape([2, np.int64(3)]) == (2, 3)
    assert as_shape(np.zeros((5, 4))) == (5, 4)
    assert as_shape(jax.ShapeDtypeStruct((7, 2), jnp.float32)) == (7, 2)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (784, TypeError, "input_shape must be a tuple of ints"),
        ((2.5, 3), TypeError, "must contain only ints"),
        ((-2, 3), ValueError, r"must be >= 0, or -1 .* got \(-2, 3\)"),
    ],
)
def test_as_shape_errors(bad, error, match):
    with pytest.raises(error, match=match):
        as_shape(bad, where="demo")


def test_check_key_accepts_typed_and_legacy_keys():
    check_key(jax.random.key(1), where="t")
    check_key(jax.random.PRNGKey(1), where="t")
    with pytest.raises(TypeError, match=r"demo: key must be a PRNG key .* got int 3"):
        check_key(3, where="demo")
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        check_key(jnp.zeros(2, jnp.float32), where="t")


def test_child_keys_differ_by_position_and_are_deterministic():
    key = jax.random.key(0)
    a, b = (jax.random.key_data(child_key(key, i)) for i in (0, 1))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, jax.random.key_data(child_key(key, 0)))
    assert child_key(None, 3) is None


def test_infer_shape_marks_batch_dependent_dims():
    assert infer_shape(jnp.tanh, (-1, 3)) == (-1, 3)
    assert infer_shape(lambda x: x.reshape(-1), (-1, 3)) == (-1,)
    assert infer_shape(lambda x: x.sum(axis=0), (-1, 3)) == (3,)
    assert infer_shape(lambda x: x[:, :2], (5, 3)) == (5, 2)


def test_lift_names_and_applies_plain_functions(key):
    assert lift(jnp.tanh).name == "tanh"
    assert lift(jax.nn.relu).name == "relu"
    assert lift(lambda x: x).name == "lambda"
    import functools

    leaky = lift(functools.partial(jax.nn.leaky_relu, negative_slope=0.2))
    assert leaky.name == "leaky_relu"
    shape, params, state = leaky.init(key, (-1, 2))
    assert (shape, params, state) == ((-1, 2), {}, {})
    y, _ = leaky.apply(params, state, jnp.array([[-1.0, 2.0]]))
    np.testing.assert_allclose(y, [[-0.2, 2.0]])


def test_lift_rejects_functions_that_do_not_return_one_array(key):
    layer = lift(lambda x: (x, x), name="pair")
    with pytest.raises(
        TypeError, match=r"lifted function 'pair' on input shape \(-1, 2\): must return one array"
    ):
        layer.init(key, (-1, 2))
    with pytest.raises(TypeError, match="lift: fn must be a plain callable"):
        lift(3)


def test_hand_written_layer_follows_the_protocol(key):
    def init(key, input_shape):
        return (
            input_shape,
            {"scale": jax.random.normal(key, input_shape[-1:])},
            {"calls": jnp.zeros(())},
        )

    def apply(params, state, x, *, key=None, train=False):
        new_state = {"calls": state["calls"] + 1} if train else state
        return x * params["scale"][None], new_state

    scale = Layer(init, apply, "scale")
    model = jaxnn.serial(scale, jnp.tanh)
    shape, params, state = model.init(key, (-1, 3))
    assert shape == (-1, 3)
    x = jnp.ones((2, 3))
    y, new_state = model.apply(params, state, x, train=True)
    np.testing.assert_allclose(
        y, np.tanh(np.asarray(params["scale"]["scale"]))[None].repeat(2, 0), rtol=1e-6
    )
    assert float(new_state["scale"]["calls"]) == 1.0
    _, eval_state = model.apply(params, new_state, x, train=False)
    assert float(eval_state["scale"]["calls"]) == 1.0


def test_layer_repr_and_hash_allow_static_jit_arguments(key):
    layer = Dense(2, name="head")
    assert repr(layer).startswith("Layer(name='head', config={'type': 'Dense', 'units': 2")
    assert repr(lift(jnp.tanh)) == "Layer(name='tanh')"

    @jax.jit
    def run(params, x):
        return forward(layer, params, x)

    def forward(model, params, x):
        return model.apply(params, {}, x)[0]

    _, params, _ = layer.init(key, (-1, 3))
    static = jax.jit(forward, static_argnums=0)
    x = jnp.ones((4, 3))
    np.testing.assert_allclose(static(layer, params, x), run(params, x))


def test_init_accepts_an_example_array(key):
    model = jaxnn.serial(Dense(4), jnp.tanh)
    x = np.zeros((10, 3), np.float32)
    from_example = model.init(key, x)
    from_shape = model.init(key, (10, 3))
    assert from_example[0] == from_shape[0] == (10, 4)
    jax.tree.map(np.testing.assert_array_equal, from_example[1], from_shape[1])


# ---------------------------------------------------------------------------------------------
# batch_mask: only layers that declare it receive it


def _recording_layer(calls, *, declares):
    """A hand-written identity layer that records the keyword arguments it was called with."""

    def init(key, input_shape):
        return input_shape, {}, {}

    if declares:

        def apply(params, state, x, *, key=None, train=False, batch_mask=None):
            calls.append({"train": train, "batch_mask": batch_mask})
            return x, state

    else:

        def apply(params, state, x, *, key=None, train=False):
            calls.append({"train": train})
            return x, state

    return Layer(init, apply, "recorder")


def test_accepts_batch_mask_reads_the_signature():
    assert accepts_batch_mask(BatchNorm()) is True
    assert accepts_batch_mask(Dense(2)) is False
    assert accepts_batch_mask(lift(jnp.tanh)) is False
    assert accepts_batch_mask(jaxnn.serial(Dense(2))) is True  # combinators forward it
    assert accepts_batch_mask(_recording_layer([], declares=True)) is True
    assert accepts_batch_mask(_recording_layer([], declares=False).apply) is False

    def positional(params, state, x, batch_mask=None, *, key=None, train=False):
        return x, state

    def var_keyword(params, state, x, **kwargs):  # **kwargs is not a declaration
        return x, state

    assert accepts_batch_mask(positional) is True
    assert accepts_batch_mask(var_keyword) is False
    assert accepts_batch_mask(functools.partial(positional, {})) is True
    assert accepts_batch_mask(max) is False  # a builtin without a signature
    with pytest.raises(
        TypeError,
        match=r"accepts_batch_mask: expected a jaxnn Layer or its apply function; got int 3",
    ):
        accepts_batch_mask(3)


def test_accepts_batch_mask_inspects_each_function_once(monkeypatch):
    def apply(params, state, x, *, key=None, train=False, batch_mask=None):
        return x, state

    seen = []
    real_signature = inspect.signature

    def counting(fn, *args, **kwargs):
        seen.append(fn)
        return real_signature(fn, *args, **kwargs)

    monkeypatch.setattr(inspect, "signature", counting)
    assert [accepts_batch_mask(apply) for _ in range(3)] == [True, True, True]
    assert seen.count(apply) == 1


def test_apply_with_batch_mask_passes_the_mask_only_to_layers_that_declare_it():
    x = jnp.ones((3, 2))
    mask = jnp.array([True, False, True])
    declared, plain = [], []
    y, _ = apply_with_batch_mask(
        _recording_layer(declared, declares=True), {}, {}, x, train=True, batch_mask=mask
    )
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(declared[0]["batch_mask"], [True, False, True])
    assert declared[0]["train"] is True
    # Without the keyword the layer is called with the plain protocol (a strict signature that
    # would raise TypeError if the mask were passed).
    apply_with_batch_mask(_recording_layer(plain, declares=False), {}, {}, x, batch_mask=mask)
    assert plain == [{"train": False}]
    # batch_mask=None is never passed on: the call is the plain one.
    apply_with_batch_mask(_recording_layer(declared, declares=True).apply, {}, {}, x)
    assert declared[1]["batch_mask"] is None
    with pytest.raises(
        TypeError, match="apply_with_batch_mask: expected a jaxnn Layer or its apply function"
    ):
        apply_with_batch_mask("dense", {}, {}, x)


def test_apply_with_batch_mask_reaches_batchnorm(key):
    bn = BatchNorm(momentum=0.0, epsilon=1e-3)
    _, params, state = bn.init(key, (-1, 1))
    x = jnp.array([[1.0], [3.0], [5.0], [1.0]])
    mask = jnp.array([True, True, True, False])
    y, new_state = apply_with_batch_mask(bn, params, state, x, train=True, batch_mask=mask)
    # Real rows 1, 3, 5: mean 3, biased variance 8/3.
    np.testing.assert_allclose(new_state["mean"], [3.0], rtol=1e-6)
    np.testing.assert_allclose(new_state["var"], [8.0 / 3.0], rtol=1e-6)
    np.testing.assert_allclose(
        y[:, 0], (np.array([1.0, 3.0, 5.0, 1.0]) - 3.0) / np.sqrt(8.0 / 3.0 + 1e-3), rtol=1e-5
    )


def test_check_batch_mask_accepts_boolean_rows():
    check_batch_mask(None, jnp.ones((3, 2)), where="t")
    check_batch_mask(np.array([True, False, True]), jnp.ones((3, 2)), where="t")
    # Dict inputs: N is the leading axis of the leaves.
    check_batch_mask(jnp.ones(2, bool), {"inputs": jnp.ones((2, 5, 3)), "mask": None}, where="t")


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        (
            np.array([1, 0, 1], np.int32),
            TypeError,
            r"demo: batch_mask must be a boolean array of shape \(N,\) = \(3,\), True for the "
            r"real rows; got int32 array of shape \(3,\)\. Convert a 0/1 row mask with mask > 0",
        ),
        ((True, False, True), TypeError, r"demo: batch_mask must be a boolean array .* got tuple"),
        (
            np.ones(4, bool),
            ValueError,
            r"demo: batch_mask must have shape \(N,\) = \(3,\), one entry per row of x; got \(4,\)",
        ),
        (np.ones((), bool), ValueError, r"demo: batch_mask must have shape .* got \(\)"),
    ],
)
def test_check_batch_mask_errors(mask, error, match):
    with pytest.raises(error, match=match):
        check_batch_mask(mask, jnp.ones((3, 2)), where="demo")
