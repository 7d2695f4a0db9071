import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.core import Layer, as_shape, check_key, child_key, infer_shape, lift
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
