"""A layer's compute ``dtype`` and ``param_dtype``: every layer with parameters takes both."""

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import jaxnn
from jaxnn import dtypes, precision
from jaxnn.layers import (
    GRU,
    LSTM,
    BatchNorm,
    Bidirectional,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Dense,
    DepthwiseConv2D,
    Embedding,
    GroupNorm,
    LayerNorm,
    MultiHeadAttention,
    PositionalEmbedding,
    RMSNorm,
    SeparableConv2D,
    SimpleRNN,
    TransformerBlock,
)
from jaxnn.models.config import from_config

# id -> (constructor taking dtype= / param_dtype=, per-sample input shape; None: integer ids)
LAYERS = {
    "dense": (lambda **kw: Dense(3, **kw), (4,)),
    "conv1d": (lambda **kw: Conv1D(2, 3, padding="same", **kw), (5, 2)),
    "conv2d": (lambda **kw: Conv2D(2, 2, strides=2, **kw), (4, 4, 2)),
    "conv2d_transpose": (lambda **kw: Conv2DTranspose(2, 2, strides=2, **kw), (2, 3, 2)),
    "depthwise_conv2d": (lambda **kw: DepthwiseConv2D(3, padding="same", **kw), (4, 4, 2)),
    "separable_conv2d": (lambda **kw: SeparableConv2D(3, 2, **kw), (4, 4, 2)),
    "embedding": (lambda **kw: Embedding(6, 3, **kw), None),
    "batch_norm": (lambda **kw: BatchNorm(**kw), (3,)),
    "layer_norm": (lambda **kw: LayerNorm(**kw), (2, 4)),
    "rms_norm": (lambda **kw: RMSNorm(**kw), (2, 4)),
    "group_norm": (lambda **kw: GroupNorm(2, **kw), (3, 3, 4)),
    "simple_rnn": (lambda **kw: SimpleRNN(3, **kw), (4, 2)),
    "lstm": (lambda **kw: LSTM(3, return_sequences=True, **kw), (4, 2)),
    "gru": (lambda **kw: GRU(3, **kw), (4, 2)),
    "multi_head_attention": (lambda **kw: MultiHeadAttention(2, 2, causal=True, **kw), (4, 6)),
    "positional_embedding": (lambda **kw: PositionalEmbedding(6, **kw), (4, 3)),
    "transformer_block": (lambda **kw: TransformerBlock(2, rope=True, **kw), (4, 8)),
}
IDS = sorted(LAYERS)


def _input(shape):
    if shape is None:
        return jnp.array([[1, 5, 0], [2, 2, 3]])
    return jax.random.normal(jax.random.key(1), (2, *shape))


def _floating_dtypes(tree):
    return {a.dtype.name for a in jax.tree.leaves(tree) if jnp.issubdtype(a.dtype, jnp.floating)}


@pytest.mark.parametrize("name", IDS)
def test_param_dtype_sets_params_and_state(name):
    make, shape = LAYERS[name]
    x = _input(shape)
    _, params, state = make(param_dtype=jnp.bfloat16).init(jax.random.key(0), x)
    assert _floating_dtypes(params) == {"bfloat16"}
    assert _floating_dtypes(state) <= {"bfloat16"}  # BatchNorm's running statistics
    _, params32, _ = make().init(jax.random.key(0), x)
    assert _floating_dtypes(params32) == {"float32"}
    # The same draws, rounded: param_dtype changes the dtype, not the values.
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(params32), strict=True):
        np.testing.assert_array_equal(a, b.astype(jnp.bfloat16))


@pytest.mark.parametrize("name", IDS)
def test_compute_dtype_casts_inputs_and_params_and_keeps_float32_gradients(name):
    make, shape = LAYERS[name]
    x = _input(shape)
    low, full = make(dtype=jnp.bfloat16), make()
    _, params, state = low.init(jax.random.key(0), x)
    assert _floating_dtypes(params) == {"float32"}  # the master copy stays float32
    y, _ = low.apply(params, state, x)
    y = y["inputs"] if isinstance(y, dict) else y
    assert y.dtype == jnp.bfloat16
    y32, _ = full.apply(params, state, x)
    y32 = y32["inputs"] if isinstance(y32, dict) else y32
    assert y32.dtype == jnp.float32
    np.testing.assert_allclose(np.float32(y), y32, rtol=0.05, atol=0.05)

    def loss(p, model):
        out, _ = model.apply(p, state, x)
        out = out["inputs"] if isinstance(out, dict) else out
        return jnp.sum(jnp.sin(out.astype(jnp.float32)))

    grads = jax.grad(loss)(params, low)
    assert _floating_dtypes(grads) == {"float32"}
    reference = jax.grad(loss)(params, full)
    for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(reference), strict=True):
        np.testing.assert_allclose(g, r, rtol=0.1, atol=0.1)


def test_dense_in_bfloat16_matches_a_numpy_bfloat16_reference():
    layer = Dense(2, dtype="bfloat16")
    w = jnp.array([[0.1, -0.3], [0.7, 0.2], [1.3, -2.1]])
    b = jnp.array([0.01, 0.5])
    x = jnp.array([[1.1, 2.2, 3.3]])
    y, _ = layer.apply({"w": w, "b": b}, {}, x)
    bf = ml_dtypes.bfloat16
    # bfloat16 inputs, products summed in float32 (as XLA's dot), the result rounded to bfloat16.
    xw = np.asarray(x).astype(bf).astype(np.float32) @ np.asarray(w).astype(bf).astype(np.float32)
    ref = (xw.astype(bf).astype(np.float32) + np.asarray(b).astype(bf).astype(np.float32)).astype(
        bf
    )
    np.testing.assert_array_equal(np.asarray(y), ref)


def test_normalisation_outputs_the_compute_dtype_with_float32_statistics():
    x = jnp.array([[1000.0, 1001.0, 1002.0, 1003.0]])  # bfloat16 alone cannot centre these
    y, _ = LayerNorm(dtype="bfloat16").apply({"gamma": jnp.ones(4), "beta": jnp.zeros(4)}, {}, x)
    ref = (np.arange(4) - 1.5) / np.sqrt(1.25 + 1e-5)  # the float32 statistics
    assert y.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.float32(y[0]), ref, rtol=1e-2)


def test_the_config_keeps_both_and_an_old_file_reads_its_dtype_as_param_dtype():
    layer = Dense(3, dtype="bfloat16", param_dtype="float16", name="head")
    assert (layer.config["dtype"], layer.config["param_dtype"]) == ("bfloat16", "float16")
    rebuilt = from_config(layer.config)
    assert rebuilt.config == layer.config
    old = {"type": "Conv2D", "filters": 2, "kernel_size": [3, 3], "dtype": "float16"}
    config = from_config(old).config
    assert (config["dtype"], config["param_dtype"]) == (None, "float16")


def test_a_saved_model_keeps_its_layer_dtypes(tmp_path):
    model = jaxnn.serial(Dense(4, dtype="bfloat16"), jnp.tanh, Dense(2))
    _, params, state = model.init(jax.random.key(0), (-1, 3))
    path = jaxnn.save_model(tmp_path / "m.jaxnn", model, (params, state), input_shape=(-1, 3))
    loaded = jaxnn.load_model(path)
    x = jnp.ones((2, 3))
    y, _ = loaded.model.apply(loaded.train_state.params, loaded.train_state.state, x)
    np.testing.assert_array_equal(y, model.apply(params, state, x)[0])
    assert loaded.model.config == model.config


def test_fit_trains_a_model_with_a_bfloat16_layer():
    x = jax.random.normal(jax.random.key(0), (256, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(jnp.int32)
    model = jaxnn.serial(Dense(16, activation="relu", dtype="bfloat16"), Dense(2))
    ts, history = jaxnn.fit(
        model, (x, y), loss="sparse_categorical_crossentropy", optimizer="adam",
        learning_rate=0.01, epochs=15, batch_size=64, metrics=["accuracy"], verbose=0,
    )  # fmt: skip
    assert _floating_dtypes(ts.params) == {"float32"}
    assert history.history["accuracy"][-1] > 0.9


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"dtype": "int32"},
            r"Dense 'dense': dtype must be a floating dtype \(.* or None\); got 'int32'",
        ),
        (
            {"param_dtype": None},
            r"Dense 'dense': param_dtype must be a floating dtype .*; got None",
        ),
        (
            {"dtype": "half-ish"},
            r"Dense 'dense': dtype must be a floating dtype .*; got 'half-ish'",
        ),
        (
            {"param_dtype": "float128"},  # NumPy's, floating, but no JAX layer computes in it
            r"param_dtype must be a floating dtype \(float32, bfloat16, float16, float64\); "
            r"got 'float128'",
        ),
    ],
)
def test_a_dtype_that_is_not_floating_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Dense(2, **kwargs)


def test_a_layer_dtype_that_conflicts_with_the_policy_names_the_layer():
    precision.check_layer_dtypes(jaxnn.serial(Dense(2, dtype="bfloat16")), "mixed_bfloat16")
    precision.check_layer_dtypes(jaxnn.serial(Dense(2, param_dtype="bfloat16")), "bfloat16")
    with pytest.raises(ValueError, match=r"layer 'head' \(Dense\) was built with dtype='float16'"):
        precision.check_layer_dtypes(
            jaxnn.serial(Dense(2), Dense(2, dtype="float16", name="head")), "mixed_bfloat16"
        )
    with pytest.raises(
        ValueError,
        match=r"layer 'norm' \(LayerNorm\) was built with param_dtype='bfloat16'.*"
        r"policy's float32 parameters",
    ):
        precision.check_layer_dtypes(
            LayerNorm(param_dtype="bfloat16", name="norm"), "mixed_float16"
        )
    wrapped = Bidirectional(GRU, 2, layer_kwargs={"dtype": "float16"}, name="bi")
    with pytest.raises(ValueError, match=r"layer 'bi' \(Bidirectional\) was built with dtype="):
        precision.check_layer_dtypes(wrapped, "mixed_bfloat16")


def test_compute_in_leaves_integers_and_none_alone():
    ids, x = dtypes.compute_in("float16", jnp.arange(3), jnp.ones(2))
    assert ids.dtype == jnp.int32 and x.dtype == jnp.float16
    assert dtypes.compute_in(None, jnp.ones(2, jnp.bfloat16)).dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "hostile",
    [{"names": ["a"], "formats": ["f4"]}, "V1000000000", "object", ["f4", 3], "float128"],
)
def test_a_model_file_naming_a_strange_dtype_is_refused_before_anything_is_built(hostile):
    # A shared file's config is untrusted: a structured, void or object dtype is named, not built.
    config = {"type": "Dense", "units": 2, "dtype": None, "param_dtype": hostile, "name": "d"}
    with pytest.raises(ValueError, match=r"load_model: model \(Dense\): Dense 'd': param_dtype"):
        from_config(config)
