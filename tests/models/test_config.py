import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn import Layer
from jaxnn import layers as L  # noqa: N812
from jaxnn.core import expand_to
from jaxnn.models import register_function, register_layer
from jaxnn.models.config import from_config, to_config

KEY = jax.random.key(3)


@register_function
def squash(x):
    """A user's function, registered so that a model file may name it."""
    return x / (1.0 + jnp.abs(x))


def unregistered(x):
    """A module-level function that is not registered: a file may not name it."""
    return 2 * x


@register_layer
def Scale(factor, *, name="scale"):
    def init(key, input_shape):
        return input_shape, {"s": jnp.full((input_shape[-1],), factor)}, {}

    def apply(params, state, x, *, key=None, train=False):
        return x * expand_to(params["s"], x.ndim), state

    return Layer(init, apply, name)


@register_layer(name="Stack")
def stack(*layers, scale=1.0, name="stack"):
    return jaxnn.serial(*layers, Scale(scale), name=name)._replace(config=None)


# Every built-in layer type with non-default arguments, and the shape it is tried on.
CASES = [
    (L.Activation("elu"), (-1, 3)),
    (L.Activation(jax.nn.gelu), (-1, 3)),
    (L.AvgPool(2, strides=1), (-1, 4, 4, 2)),
    (L.BatchNorm(momentum=0.9, use_scale=False), (-1, 3)),
    (
        L.Bidirectional(L.GRU, 4, return_sequences=True, layer_kwargs={"reset_after": False}),
        (-1, 5, 3),
    ),
    (L.Conv1D(3, 2, padding="same", strides=2), (-1, 6, 2)),
    (L.Conv1DTranspose(3, 2, strides=2), (-1, 6, 2)),
    (L.Conv2D(3, (2, 3), dilation=2, activation=jnp.tanh, kernel_init="he_normal"), (-1, 8, 8, 2)),
    (L.Conv2DTranspose(3, 2, padding="same"), (-1, 5, 5, 2)),
    (L.Conv3D(2, 2, groups=1, use_bias=False), (-1, 4, 4, 4, 1)),
    (L.DepthwiseConv2D((3, 2), depth_multiplier=2, strides=2, padding="same"), (-1, 6, 5, 2)),
    (L.SeparableConv2D(3, 2, dilation=2, use_bias=False, activation="relu"), (-1, 6, 6, 2)),
    (L.RMSNorm(axis=(-2, -1), epsilon=1e-5), (-1, 3, 4)),
    (L.GroupNorm(2, use_bias=False), (-1, 4, 4)),
    (L.PositionalEmbedding(8, kind="sinusoidal"), (-1, 5, 4)),
    (L.PositionalEmbedding(8, embedding_init="normal"), (-1, 5, 4)),
    (L.TransformerBlock(2, rope=True, causal=True, dropout=0.1, mlp_ratio=2), (-1, 5, 8)),
    (L.Dense(3, activation="relu", use_bias=False, dtype=jnp.float16), (-1, 4)),
    (L.Dropout(0.3), (-1, 3)),
    (L.Embedding(10, 3, mask_zero=True, embedding_init="glorot_uniform"), (-1, 5)),
    (L.Flatten(), (-1, 2, 3)),
    (L.GRU(3, reset_after=False, return_sequences=True), (-1, 4, 2)),
    (L.GlobalAvgPool(), (-1, 4, 4, 2)),
    (L.GlobalMaxPool(), (-1, 4, 2)),
    (L.LSTM(3, return_state=True, reverse=True), (-1, 4, 2)),
    (L.LayerNorm(epsilon=1e-5), (-1, 3)),
    (L.MaxPool((2, 2), strides=1, padding="same"), (-1, 4, 4, 1)),
    (L.MultiHeadAttention(2, 4, causal=True, output_dim=6), (-1, 5, 8)),
    (L.Reshape((2, 3)), (-1, 6)),
    (L.SimpleRNN(3), (-1, 4, 2)),
    (L.UpSampling((2, 1)), (-1, 3, 3, 1)),
    (
        jaxnn.serial(
            jnp.tanh, L.Dense(2), functools.partial(jax.nn.leaky_relu, negative_slope=0.2), squash
        ),
        (-1, 3),
    ),
    (jaxnn.parallel(L.Dense(2), jaxnn.serial(L.Dense(3), jax.nn.relu), name="p"), (-1, 3)),
    (jaxnn.parallel(L.Dense(2), L.Dense(2), combine="sum"), (-1, 3)),
    (jaxnn.residual(L.Dense(3), jax.nn.relu, L.BatchNorm()), (-1, 3)),
    (Scale(2.5), (-1, 3)),
    (stack(L.Dense(2), jnp.tanh, scale=0.5), (-1, 3)),
]


def test_every_built_in_layer_type_is_covered():
    covered = {layer.config["type"] for layer, _ in CASES}
    assert set(L.__all__) <= covered
    assert {"serial", "parallel", "residual", "Scale", "Stack"} <= covered


def _example(shape, layer):
    shape = tuple(2 if d == -1 else d for d in shape)
    if layer.config["type"] == "Embedding":
        return jnp.arange(np.prod(shape)).reshape(shape) % 10
    return jax.random.normal(jax.random.key(1), shape)


@pytest.mark.parametrize("layer, shape", CASES, ids=lambda c: getattr(c, "name", None))
def test_round_trip_through_json_rebuilds_the_same_layer(layer, shape):
    config = json.loads(json.dumps(to_config(layer)))
    rebuilt = from_config(config)
    assert to_config(rebuilt) == config and rebuilt.name == layer.name
    out_a, params_a, state_a = layer.init(KEY, shape)
    out_b, params_b, state_b = rebuilt.init(KEY, shape)
    assert out_a == out_b
    jax.tree.map(np.testing.assert_array_equal, (params_a, state_a), (params_b, state_b))
    x = _example(shape, layer)
    y_a = layer.apply(params_a, state_a, x)[0]
    y_b = rebuilt.apply(params_a, state_a, x)[0]
    jax.tree.map(np.testing.assert_array_equal, y_a, y_b)


def test_functions_are_stored_by_table_name_or_registered_name():
    config = to_config(jaxnn.serial(jax.nn.relu, squash, functools.partial(jax.nn.elu, alpha=0.5)))
    assert [c["function"] for c in config["layers"]] == [
        {"__function__": "jax.nn:relu"},
        {"__registered__": "squash"},
        {"__function__": "jax.nn:elu", "args": [], "kwargs": {"alpha": 0.5}},
    ]


@pytest.mark.parametrize("fn", [unregistered, np.tanh, print, np.save], ids=lambda f: f.__name__)
def test_saving_refuses_a_function_that_safe_loading_would_refuse(fn):
    with pytest.raises(
        ValueError, match=r"the function .* which a model file may not name.*register_function"
    ):
        to_config(jaxnn.serial(L.Dense(2), fn))


def test_saving_refuses_a_function_as_a_partial_argument():
    fn = functools.partial(jax.nn.relu, where=jnp.tanh)
    with pytest.raises(ValueError, match=r"partial argument 'where' passes the function.*JSON"):
        to_config(jaxnn.serial(fn))


def test_a_lambda_is_refused_with_its_path_and_the_fixes():
    model = jaxnn.serial(L.Dense(2), jaxnn.serial(lambda x: 2 * x, name="head"))
    with pytest.raises(
        ValueError,
        match=r"layer 'serial' -> 'head' -> 'lambda'.*<lambda>.*test_config.py.*register_layer.*load_model\(path, model=\.\.\.\)",
    ):
        to_config(model)


def test_a_closure_argument_is_refused():
    def local(x):
        return x

    with pytest.raises(
        ValueError,
        match=r"layer 'dense' argument 'activation' is the function.*local.*may not name",
    ):
        to_config(L.Dense(2, activation=local))


def test_a_hand_built_layer_is_refused():
    mine = Layer(lambda k, s: (s, {}, {}), lambda p, s, x, **kw: (x, s), "mine")
    with pytest.raises(
        ValueError, match=r"layer 'serial' -> 'mine' was built by hand.*register_layer"
    ):
        to_config(jaxnn.serial(L.Dense(2), mine))


def test_register_layer_records_arguments_and_positional_layers():
    block = stack(L.Dense(2), jnp.tanh, scale=0.5, name="b")
    assert block.config["type"] == "Stack" and block.config["scale"] == 0.5
    config = to_config(block)
    first, second = config["layers"]["__tuple__"]
    assert first["__layer__"]["type"] == "Dense" and second == {"__function__": "jax.numpy:tanh"}


def test_unknown_type_names_the_type_and_how_to_register():
    config = to_config(L.Dense(2))
    config["type"] = "Dense9"
    with pytest.raises(
        ValueError,
        match=r"unknown layer type 'Dense9'\. Built-in types: Activation, .*Dense,.*registered: .*Scale.*@jaxnn\.register_layer",
    ):
        from_config(config)


def test_unregistered_function_and_unimportable_function():
    with pytest.raises(
        ValueError,
        match=r"'gone', registered .*not registered in this program.*Registered now: .*Scale, Stack",
    ):
        from_config({"type": "function", "function": {"__registered__": "gone"}, "name": "g"})
    config = {"type": "function", "function": {"__function__": "jax.numpy:no_such_fn"}}
    with pytest.raises(ValueError, match=r"'jax.numpy:no_such_fn', which is not one a model"):
        from_config(config)
    with pytest.raises(ValueError, match=r"'jax.numpy:no_such_fn', which cannot be imported here"):
        from_config(config, safe_mode=False)


def test_safe_mode_refuses_a_module_outside_the_table_and_unsafe_mode_imports_it():
    config = {"type": "function", "function": {"__function__": "jaxnn_no_such_module:f"}}
    with pytest.raises(
        ValueError,
        match=r"'jaxnn_no_such_module:f', which is not one.*Nothing was imported.*safe_mode=False",
    ):
        from_config(config)
    path = {
        "type": "function",
        "function": {"__function__": "tests.models.test_config:unregistered"},
    }
    assert from_config(path, safe_mode=False).apply({}, {}, jnp.ones(2))[0].tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match=r"cannot be imported here \(ModuleNotFoundError"):
        from_config(config, safe_mode=False)


def test_register_layer_refuses_a_built_in_name_and_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"'Dense' is a built-in layer type"):
        register_layer(lambda units: None, name="Dense")
    with pytest.raises(ValueError, match=r"model \(Dense\): the saved arguments do not fit.*unitz"):
        from_config({"type": "Dense", "unitz": 3})
    with pytest.raises(ValueError, match=r"a dict with a 'type' string; got \[1\]"):
        from_config([1])


def test_losses_metrics_and_initializers_round_trip_by_import_path():
    from jaxnn.models.config import _decode, _encode

    values = [
        jaxnn.losses.softmax_cross_entropy,
        jaxnn.losses.mse,
        jaxnn.activations.relu,
        "adam",
        1e-3,
    ]
    encoded = json.loads(json.dumps(_encode(values, "fit")))
    assert encoded[0] == {"__function__": "jaxnn.losses:softmax_cross_entropy"}
    assert _decode(encoded, True) == values
