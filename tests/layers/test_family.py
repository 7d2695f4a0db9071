"""Generic checks that every layer must pass. A new layer is covered by adding it to LAYERS."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.layers import (
    GRU,
    LSTM,
    Activation,
    AvgPool,
    BatchNorm,
    Bidirectional,
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    Flatten,
    GlobalAvgPool,
    GlobalMaxPool,
    GroupNorm,
    LayerNorm,
    MaxPool,
    MultiHeadAttention,
    PositionalEmbedding,
    Reshape,
    RMSNorm,
    SeparableConv2D,
    SimpleRNN,
    TransformerBlock,
    UpSampling,
)
from tests.conftest import check_layer_grads

# id -> (constructor, per-sample input shape, has random params, couples samples when training)
LAYERS = {
    "dense": (lambda: Dense(4), (3,), True, False),
    "dense_no_bias_relu": (lambda: Dense(4, use_bias=False, activation="tanh"), (3,), True, False),
    "dense_sequence": (lambda: Dense(2), (5, 3), True, False),
    "activation": (lambda: Activation("softplus"), (3,), False, False),
    "lifted": (lambda: jaxnn.lift(jnp.sin), (2, 3), False, False),
    "flatten": (lambda: Flatten(), (2, 3, 2), False, False),
    "reshape": (lambda: Reshape((3, -1)), (6,), False, False),
    "dropout": (lambda: Dropout(0.3), (4,), False, False),
    "batch_norm": (lambda: BatchNorm(momentum=0.9), (3,), False, True),
    "batch_norm_image": (lambda: BatchNorm(), (2, 2, 3), False, True),
    "layer_norm": (lambda: LayerNorm(), (2, 4), False, False),
    "serial": (lambda: jaxnn.serial(Dense(4), jnp.tanh, Dense(2)), (3,), True, False),
    "parallel": (lambda: jaxnn.parallel(Dense(2), jnp.tanh), (3,), True, False),
    "residual": (lambda: jaxnn.residual(Dense(3), LayerNorm()), (3,), True, False),
    "conv1d_causal": (lambda: Conv1D(3, 3, padding="causal", dilation=2), (7, 2), True, False),
    "conv2d_same_strided": (
        lambda: Conv2D(4, 3, strides=2, padding="same", groups=2),
        (5, 6, 2),
        True,
        False,
    ),
    "conv3d": (lambda: Conv3D(2, 2), (3, 3, 3, 1), True, False),
    "conv2d_xla_input_dilation": (
        lambda: Conv2D(2, 2, input_dilation=2, padding="same", algorithm="xla"),
        (3, 3, 2),
        True,
        False,
    ),
    "conv1d_transpose_same": (
        lambda: Conv1DTranspose(3, 3, strides=2, padding="same"),
        (4, 2),
        True,
        False,
    ),
    "conv2d_transpose": (lambda: Conv2DTranspose(2, 2, strides=2), (2, 3, 2), True, False),
    "max_pool": (lambda: MaxPool(2), (4, 4, 2), False, False),
    "avg_pool_same": (lambda: AvgPool(3, strides=2, padding="same"), (5, 5, 2), False, False),
    "global_avg_pool": (lambda: GlobalAvgPool(), (3, 3, 2), False, False),
    "global_max_pool": (lambda: GlobalMaxPool(), (3, 3, 2), False, False),
    "up_sampling": (lambda: UpSampling(2), (3, 2), False, False),
    "simple_rnn_sequences": (lambda: SimpleRNN(3, return_sequences=True), (4, 2), True, False),
    "lstm": (lambda: LSTM(3), (4, 2), True, False),
    "gru_reverse": (lambda: GRU(3, reverse=True), (4, 2), True, False),
    "bidirectional_lstm": (lambda: Bidirectional(LSTM, 2), (3, 2), True, False),
    "multi_head_attention_causal": (
        lambda: MultiHeadAttention(2, 3, causal=True),
        (4, 5),
        True,
        False,
    ),
    "rms_norm": (lambda: RMSNorm(axis=(-2, -1)), (2, 4), False, False),
    "group_norm": (lambda: GroupNorm(2), (3, 3, 4), False, False),
    "depthwise_conv2d": (
        lambda: DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same"),
        (5, 6, 2),
        True,
        False,
    ),
    "separable_conv2d": (lambda: SeparableConv2D(3, 2, dilation=2), (5, 5, 2), True, False),
    "positional_embedding_learned": (lambda: PositionalEmbedding(6), (4, 3), True, False),
    "positional_embedding_sinusoidal": (
        lambda: PositionalEmbedding(6, kind="sinusoidal"),
        (4, 4),
        False,
        False,
    ),
    "transformer_block": (
        lambda: TransformerBlock(2, causal=True, rope=True),
        (4, 8),
        True,
        False,
    ),
}
IDS = sorted(LAYERS)
N = 4


def build(name):
    factory, sample_shape, _, _ = LAYERS[name]
    layer = factory()
    out_shape, params, state = layer.init(jax.random.key(0), (-1,) + sample_shape)
    # Non-trivial params so that gradient checks see every path (BatchNorm starts at 1 and 0).
    params = jax.tree.map(lambda p: p + 0.1 * jax.random.normal(jax.random.key(7), p.shape), params)
    x = jax.random.normal(jax.random.key(1), (N,) + sample_shape) + 0.5
    return layer, out_shape, params, state, x


@pytest.mark.parametrize("name", IDS)
@pytest.mark.parametrize("train", [False, True])
def test_init_shape_equals_apply_shape(name, train):
    layer, out_shape, params, state, x = build(name)
    y, new_state = layer.apply(params, state, x, key=jax.random.key(2), train=train)
    assert y.shape == tuple(N if d == -1 else d for d in out_shape)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)


@pytest.mark.parametrize("name", IDS)
def test_init_from_an_example_equals_init_from_its_shape(name):
    factory, sample_shape, _, _ = LAYERS[name]
    a = factory().init(jax.random.key(3), (N,) + sample_shape)
    b = factory().init(jax.random.key(3), np.zeros((N,) + sample_shape, np.float32))
    assert a[0] == b[0]
    jax.tree.map(np.testing.assert_array_equal, (a[1], a[2]), (b[1], b[2]))


@pytest.mark.parametrize("name", IDS)
@pytest.mark.parametrize("train", [False, True])
def test_jit_apply_equals_apply(name, train):
    layer, _, params, state, x = build(name)
    key = jax.random.key(5)

    def run(p, s, x, k):
        return layer.apply(p, s, x, key=k, train=train)

    eager, jitted = run(params, state, x, key), jax.jit(run)(params, state, x, key)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-6), eager, jitted)


@pytest.mark.parametrize("name", IDS)
def test_batch_equals_map_over_rows_in_evaluation(name):
    layer, _, params, state, x = build(name)
    batched, _ = layer.apply(params, state, x)
    rows = [layer.apply(params, state, x[i : i + 1])[0][0] for i in range(N)]
    np.testing.assert_allclose(batched, np.stack(rows), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in IDS if not LAYERS[n][3] and n != "dropout"])
def test_batch_equals_map_over_rows_in_training(name):
    layer, _, params, state, x = build(name)
    batched, _ = layer.apply(params, state, x, train=True)
    rows = [layer.apply(params, state, x[i : i + 1], train=True)[0][0] for i in range(N)]
    np.testing.assert_allclose(batched, np.stack(rows), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", IDS)
def test_evaluation_returns_the_state_unchanged(name):
    layer, _, params, state, x = build(name)
    _, new_state = layer.apply(params, state, x, train=False)
    jax.tree.map(np.testing.assert_array_equal, new_state, state)


@pytest.mark.parametrize("name", [n for n in IDS if LAYERS[n][2]])
def test_same_key_same_params_other_key_other_params(name):
    factory, sample_shape, _, _ = LAYERS[name]
    shape = (-1,) + sample_shape
    a = factory().init(jax.random.key(11), shape)[1]
    b = factory().init(jax.random.key(11), shape)[1]
    c = factory().init(jax.random.key(12), shape)[1]
    jax.tree.map(np.testing.assert_array_equal, a, b)
    differs = jax.tree.map(lambda u, v: not np.array_equal(u, v), a, c)
    assert any(jax.tree.leaves(differs))


@pytest.mark.parametrize("name", IDS)
@pytest.mark.parametrize("train", [False, True])
def test_gradients_match_finite_differences(name, train):
    layer, _, params, state, x = build(name)
    check_layer_grads(layer, params, state, x, train=train, key=jax.random.key(9), order=1)
