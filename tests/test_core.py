import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.core import (
    Layer,
    as_shape,
    as_shape_tree,
    check_key,
    child_key,
    infer_shape,
    lift,
)
from jaxnn.layers import Dense


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

    leaky = lift(functools.partial(jax.nn.leaky_relu, negative_slope=0.2))
    assert leaky.name == "leaky_relu"
    shape, params, state = leaky.init(key, (-1, 2))
    assert (shape, params, state) == ((-1, 2), {}, {})
    y, _ = leaky.apply(params, state, jnp.array([[-1.0, 2.0]]))
    np.testing.assert_allclose(y, [[-0.2, 2.0]])


def test_lift_rejects_functions_that_do_not_return_arrays(key):
    with pytest.raises(
        TypeError,
        match=r"lifted function 'text' on input shape \(-1, 2\): must return an array or a "
        r"pytree of arrays; returned str 'abc'$",
    ):
        lift(lambda x: "abc", name="text").init(key, (-1, 2))
    with pytest.raises(
        TypeError,
        match=r"lifted function 'pair' .* pytree of arrays; returned str 'abc' at \[1\]\['b'\]",
    ):
        lift(lambda x: (x, {"a": x, "b": "abc"}), name="pair").init(key, (-1, 2))
    with pytest.raises(
        TypeError,
        match=r"lifted function 'nothing' .* returned NoneType None, which holds no array",
    ):
        lift(lambda x: None, name="nothing").init(key, (-1, 2))
    with pytest.raises(TypeError, match="lift: fn must be a plain callable"):
        lift(3)


def test_infer_shape_of_pytree_outputs_marks_batch_dependent_dims():
    assert infer_shape(lambda x: (x, 2 * x), (-1, 3)) == ((-1, 3), (-1, 3))
    assert infer_shape(lambda x: {"rows": x.sum(1), "cols": x.sum(0)}, (-1, 3)) == {
        "cols": (3,),
        "rows": (-1,),
    }
    assert infer_shape(lambda x: [x[:, :1], x.T], (5, 3)) == [(5, 1), (3, 5)]
    # A pytree input: one shape per array, the -1 traced in every leaf.
    assert infer_shape(lambda t: t[0] @ t[1], ((-1, 3), (3, 4))) == (-1, 4)
    assert infer_shape(lambda d: d["x"] * d["m"][:, :, None], {"x": (-1, 5, 2), "m": (-1, 5)}) == (
        -1,
        5,
        2,
    )


def test_lift_of_a_pytree_function_has_matching_init_and_apply_shapes(key):
    layer = lift(lambda x: {"x": x, "norm": jnp.sqrt(jnp.sum(x**2, axis=-1))}, name="norm")
    shape, params, state = layer.init(key, (-1, 2))
    assert (shape, params, state) == ({"norm": (-1,), "x": (-1, 2)}, {}, {})
    x = jnp.array([[3.0, 4.0], [6.0, 8.0], [0.0, 1.0]])
    y, _ = layer.apply(params, state, x)
    np.testing.assert_allclose(y["norm"], [5.0, 10.0, 1.0])
    np.testing.assert_array_equal(y["x"], x)
    assert jax.tree.map(jnp.shape, y) == {"norm": (3,), "x": (3, 2)}
    # The next lifted layer takes the pytree, from shapes or from example arrays.
    ratio = lift(lambda d: d["x"] / d["norm"][:, None], name="ratio")
    assert ratio.init(key, shape)[0] == (-1, 2)
    assert ratio.init(key, {"norm": np.zeros(3), "x": np.zeros((3, 2))})[0] == (3, 2)
    np.testing.assert_allclose(ratio.apply({}, {}, y)[0][0], [0.6, 0.8], rtol=1e-6)


def test_as_shape_tree_reads_tuples_lists_and_dicts_of_shapes():
    assert as_shape_tree(((-1, 3), [2, 4])) == ((-1, 3), (2, 4))  # each shape a tuple
    assert as_shape_tree([np.zeros((2, 3)), {"m": (2,)}]) == [(2, 3), {"m": (2,)}]
    assert as_shape_tree((2, np.int64(3))) == (2, 3)  # a tuple holding an int is one shape
    assert as_shape_tree(()) == ()  # a scalar's shape
    assert as_shape_tree(((-1, 3), None)) == ((-1, 3), None)  # None is an empty pytree
    with pytest.raises(
        TypeError, match=r"demo \[1\]: input_shape must contain only ints; got \('a'"
    ):
        as_shape_tree(((-1, 3), "abc"), where="demo")
    with pytest.raises(
        TypeError, match=r"demo: input_shape must contain only ints; got \(2.5, 3\)"
    ):
        as_shape_tree((2.5, 3), where="demo")


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
    assert repr(lift(jnp.tanh)).startswith("Layer(name='tanh', config={'type': 'function'")
    assert repr(Layer(lambda k, s: (s, {}, {}), lambda p, s, x: (x, s), "mine")) == (
        "Layer(name='mine')"
    )

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
