import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxnn
from jaxnn.layers import Dense, Embedding, LayerNorm, PositionalEmbedding, TransformerBlock
from tests.conftest import check_layer_grads, to_float64


def np_sinusoid(t, d):
    """Vaswani et al. 2017, 3.5, element by element: PE(p, 2i) = sin, PE(p, 2i + 1) = cos."""
    table = np.zeros((t, d))
    for p in range(t):
        for j in range(d):
            angle = p / 10000.0 ** ((j - j % 2) / d)  # 2i = j for even j, j - 1 for odd j
            table[p, j] = np.sin(angle) if j % 2 == 0 else np.cos(angle)
    return table


def perturbed(params, scale=0.1):
    """Non-zero biases and non-unit LayerNorm scales, so that tests see every parameter."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(7), len(leaves))
    return jax.tree.unflatten(
        treedef,
        [a + scale * jax.random.normal(k, a.shape) for a, k in zip(leaves, keys, strict=True)],
    )


# ----------------------------------------------------------------------------------------------
# PositionalEmbedding


def test_sinusoidal_matches_the_papers_formula_and_has_no_params():
    layer = PositionalEmbedding(300, kind="sinusoidal")
    out_shape, params, state = layer.init(jax.random.key(0), (-1, 257, 6))
    assert (out_shape, params, state) == ((-1, 257, 6), {}, {})
    x = jax.random.normal(jax.random.key(1), (2, 257, 6))
    y, _ = layer.apply(params, state, x)
    np.testing.assert_allclose(y - x, np.broadcast_to(np_sinusoid(257, 6), (2, 257, 6)), atol=1e-6)
    # Shorter sequences use the first rows of the same table.
    y5, _ = layer.apply(params, state, x[:, :5])
    np.testing.assert_array_equal(y5, y[:, :5])


def test_learned_adds_the_first_t_rows_of_its_table():
    layer = PositionalEmbedding(64, name="pos")
    out_shape, params, state = layer.init(jax.random.key(0), (-1, -1, 32))
    assert out_shape == (-1, -1, 32) and jax.tree.map(jnp.shape, params) == {"table": (64, 32)}
    assert abs(float(jnp.std(params["table"])) - 0.05) < 0.005  # "normal": N(0, 0.05^2)
    x = jax.random.normal(jax.random.key(1), (3, 10, 32))
    y, _ = layer.apply(params, state, x)
    np.testing.assert_allclose(y, np.asarray(x) + np.asarray(params["table"])[:10], atol=1e-7)
    other = layer.init(jax.random.key(1), (-1, 10, 32))[1]["table"]
    again = layer.init(jax.random.key(0), (-1, 10, 32))[1]["table"]
    np.testing.assert_array_equal(again, params["table"])
    assert not np.allclose(other, params["table"])


@pytest.mark.parametrize("kind", ["learned", "sinusoidal"])
def test_positional_embedding_gradients(kind):
    layer = PositionalEmbedding(5, kind=kind)
    _, params, state = layer.init(jax.random.key(0), (-1, 4, 6))
    x = jax.random.normal(jax.random.key(1), (2, 4, 6))
    check_layer_grads(layer, params, state, x, order=2)
    if kind == "learned":  # d y / d table[t] is the batch sum of the cotangent at t; rows >= T: 0
        g = jax.grad(lambda p: jnp.sum(layer.apply(p, state, x)[0] * x))(params)["table"]
        np.testing.assert_allclose(g[:4], np.asarray(x).sum(axis=0), atol=1e-6)
        np.testing.assert_array_equal(g[4:], 0.0)


def test_positional_embedding_errors(key):
    where = "PositionalEmbedding 'positional_embedding'"
    with pytest.raises(ValueError, match=f"{where}: max_length must be >= 1; got 0"):
        PositionalEmbedding(0)
    with pytest.raises(
        ValueError, match=r"kind must be one of \['learned', 'sinusoidal'\]; got 'fixed'"
    ):
        PositionalEmbedding(4, kind="fixed")
    with pytest.raises(ValueError, match="embedding_init: unknown initializer 'nope'"):
        PositionalEmbedding(4, embedding_init="nope")
    layer = PositionalEmbedding(4)
    with pytest.raises(
        ValueError, match=r"input_shape must be \(N, T, D\) with a batch axis .*; got \(-1, 3\)"
    ):
        layer.init(key, (-1, 3))
    too_long = r"the sequence has T = 5 positions, more than max_length = 4\. Build the layer"
    with pytest.raises(ValueError, match=too_long):
        layer.init(key, (-1, 5, 2))
    _, params, _ = layer.init(key, (-1, -1, 2))
    with pytest.raises(ValueError, match=too_long):
        layer.apply(params, {}, jnp.ones((1, 5, 2)))
    with pytest.raises(ValueError, match=r"x must have shape \(N, T, 2\); got \(1, 3, 3\)"):
        layer.apply(params, {}, jnp.ones((1, 3, 3)))
    sine = PositionalEmbedding(4, kind="sinusoidal")
    odd = r"kind='sinusoidal' pairs features \(2i, 2i \+ 1\), so D must be even; got D = 3"
    with pytest.raises(ValueError, match=odd):
        sine.init(key, (-1, 2, 3))
    with pytest.raises(ValueError, match=odd):
        sine.apply({}, {}, jnp.ones((1, 2, 3)))


# ----------------------------------------------------------------------------------------------
# TransformerBlock: structure and numerics against Keras 3


def test_params_are_a_readable_tree_of_the_inner_layers():
    block = TransformerBlock(2, key_dim=3, mlp_ratio=1.5, dropout=0.1, name="block")
    out_shape, params, state = block.init(jax.random.key(0), (-1, 6, 8))
    mha = {part: {"w": (8, 2, 3), "b": (2, 3)} for part in ("query", "key", "value")}
    mha["output"] = {"w": (2, 3, 8), "b": (8,)}
    norm = {"gamma": (8,), "beta": (8,)}
    assert out_shape == (-1, 6, 8)
    assert jax.tree.map(jnp.shape, params) == {
        "attention": {"layer_norm": norm, "multi_head_attention": mha, "dropout": {}},
        "mlp": {
            "layer_norm": norm,
            "hidden": {"w": (8, 12), "b": (12,)},  # round(1.5 * 8)
            "output": {"w": (12, 8), "b": (8,)},
            "dropout": {},
        },
    }
    assert jax.tree.leaves(state) == []
    without_dropout = TransformerBlock(2).init(jax.random.key(0), (-1, 6, 8))[1]
    assert "dropout" not in without_dropout["attention"]
    assert without_dropout["attention"]["multi_head_attention"]["query"]["w"].shape == (8, 2, 4)


@pytest.fixture(scope="module")
def keras():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_BACKEND", "jax")
        keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip(f"Keras runs on the {keras.backend.backend()} backend; these tests need jax.")
    return keras


def keras_block(keras, t, d, heads, causal, seed):
    """The same pre-norm block from keras.layers, with random weights (biases and scales too)."""
    kl = keras.layers
    x = keras.Input((t, d))
    a = kl.LayerNormalization(epsilon=1e-5, name="ln1")(x)
    attn = kl.MultiHeadAttention(heads, d // heads, name="mha")(a, a, use_causal_mask=causal)
    h = kl.Add()([x, attn])
    m = kl.LayerNormalization(epsilon=1e-5, name="ln2")(h)
    m = kl.Dense(d, name="d2")(kl.Dense(4 * d, activation="gelu", name="d1")(m))
    model = keras.Model(x, kl.Add()([h, m]))
    r = np.random.default_rng(seed)
    weights = {
        v.path: (r.normal(size=v.shape) * 0.3 + v.path.endswith("gamma")).astype("float32")
        for v in model.weights
    }
    model.set_weights(list(weights.values()))
    return model, weights


def keras_to_jaxnn(w):
    """jaxnn's params from the Keras weights by path (the kernels have the same layouts)."""
    parts = {"query": "query", "key": "key", "value": "value", "output": "attention_output"}
    dense = {k: {"w": w[f"d{i}/kernel"], "b": w[f"d{i}/bias"]} for i, k in ((1, "hidden"), (2, "output"))}  # fmt: skip
    return {
        "attention": {
            "layer_norm": {"gamma": w["ln1/gamma"], "beta": w["ln1/beta"]},
            "multi_head_attention": {
                ours: {"w": w[f"mha/{theirs}/kernel"], "b": w[f"mha/{theirs}/bias"]}
                for ours, theirs in parts.items()
            },
        },
        "mlp": {"layer_norm": {"gamma": w["ln2/gamma"], "beta": w["ln2/beta"]}, **dense},
    }


@pytest.mark.parametrize("causal", [False, True])
def test_block_matches_keras_with_copied_weights(keras, causal):
    t, d, heads = 6, 8, 2
    x = np.random.default_rng(1).normal(size=(3, t, d)).astype("float32")
    with jax.numpy_rank_promotion("allow"):  # Keras relies on implicit rank promotion
        model, weights = keras_block(keras, t, d, heads, causal, seed=0)
        expected = model.predict(x, verbose=0)
        other = keras_block(keras, t, d, heads, not causal, seed=0)[0].predict(x, verbose=0)
    params = keras_to_jaxnn(weights)
    block = TransformerBlock(heads, causal=causal)
    _, init_params, state = block.init(jax.random.key(0), (-1, t, d))
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, init_params)
    y, _ = jax.jit(block.apply)(params, state, jnp.asarray(x))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)  # observed max |diff| ~5e-7
    assert not np.allclose(expected, other, atol=1e-3)  # the causal mask matters here


def test_explicit_key_dim_activation_and_epsilon_reach_the_inner_layers():
    x = jax.random.normal(jax.random.key(1), (3, 6, 8))
    block = TransformerBlock(2, key_dim=3, activation="relu", norm_epsilon=0.5)
    _, params, state = block.init(jax.random.key(0), (-1, 6, 8))
    params = perturbed(params)
    assert params["attention"]["multi_head_attention"]["query"]["w"].shape == (8, 2, 3)
    y, _ = block.apply(params, state, x)
    # The same block by hand from the layers it is documented to be made of.
    by_hand = jaxnn.serial(
        jaxnn.residual(
            LayerNorm(epsilon=0.5),
            jaxnn.layers.MultiHeadAttention(2, 3),
            name="attention",
        ),
        jaxnn.residual(
            LayerNorm(epsilon=0.5),
            Dense(32, activation="relu", name="hidden"),
            Dense(8, name="output"),
            name="mlp",
        ),
    )
    np.testing.assert_allclose(y, by_hand.apply(params, state, x)[0], rtol=1e-6, atol=1e-6)
    gelu, _ = TransformerBlock(2, key_dim=3, norm_epsilon=0.5).apply(params, state, x)
    assert not np.allclose(gelu, y, atol=1e-4)


def test_dropout_needs_a_key_in_training_and_is_off_in_evaluation():
    block = TransformerBlock(2, dropout=0.5)
    _, params, state = block.init(jax.random.key(0), (-1, 6, 8))
    x = jax.random.normal(jax.random.key(1), (3, 6, 8))
    with pytest.raises(
        ValueError, match=r"apply\(train=True\) with dropout=0.5 needs a key; got key=None"
    ):
        block.apply(params, state, x, train=True)
    plain = {part: {k: v for k, v in p.items() if k != "dropout"} for part, p in params.items()}
    evaluation, _ = block.apply(params, state, x)
    no_dropout, _ = TransformerBlock(2).apply(plain, jax.tree.map(lambda _: {}, plain), x)
    np.testing.assert_array_equal(evaluation, no_dropout)
    a, _ = block.apply(params, state, x, key=jax.random.key(2), train=True)
    b, _ = block.apply(params, state, x, key=jax.random.key(2), train=True)
    c, _ = block.apply(params, state, x, key=jax.random.key(3), train=True)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, evaluation) and not np.allclose(a, c)


def test_block_gradients_match_finite_differences():
    block = TransformerBlock(2, causal=True, rope=True)
    _, params, state = block.init(jax.random.key(0), (-1, 3, 4))
    x = jax.random.normal(jax.random.key(1), (2, 3, 4))
    with jax.enable_x64(True):
        params64, x64 = to_float64((perturbed(params), x))

        def f(p, inputs):
            return jnp.sum(jnp.sin(block.apply(p, state, inputs)[0]))

        check_grads(
            jax.jit(f), (params64, x64), order=1, modes=["rev"], eps=1e-6, atol=1e-6, rtol=1e-6
        )


def test_a_model_with_a_rope_block_round_trips_through_save_and_load(tmp_path):
    model = jaxnn.serial(
        Embedding(11, 8),
        PositionalEmbedding(6, kind="sinusoidal"),
        TransformerBlock(2, key_dim=4, causal=True, rope=True, dropout=0.1, mlp_ratio=4),
        LayerNorm(epsilon=1e-5),
        Dense(11),
    )
    _, params, state = model.init(jax.random.key(0), (-1, 6))
    params = perturbed(params)
    path = jaxnn.save_model(tmp_path / "m.jaxnn", model, (params, state), input_shape=(-1, 6))
    loaded = jaxnn.load_model(path)
    block = loaded.model.children[2]
    assert block.config == model.children[2].config and block.config["rope"] is True
    x = jnp.arange(18).reshape(3, 6) % 11
    y, _ = jax.jit(model.apply)(params, state, x)
    y_loaded, _ = jax.jit(loaded.model.apply)(
        loaded.train_state.params, loaded.train_state.state, x
    )
    np.testing.assert_array_equal(y_loaded, y)


def test_summary_flops_are_close_to_the_analytic_count():
    t, d, h, mlp = 16, 128, 4, 4
    dk = d // h
    s = jaxnn.summary(jaxnn.serial(TransformerBlock(h)), (-1, t, d), print_fn=None)
    # Per sample: Q, K, V projections; Q K^T and weights @ V; the output projection; the MLP.
    analytic = (
        2 * t * d * (3 * h * dk) + 2 * t * t * h * dk * 2 + 2 * t * h * dk * d
        + 2 * t * d * mlp * d * 2
    )  # fmt: skip
    assert abs(s.flops / analytic - 1) < 0.15  # observed 1.09: biases, norms, softmax and erf
    rows = {r.path: r for r in s.rows}
    assert rows["transformer_block/mlp/hidden"].flops >= 2 * t * d * mlp * d
    # attention: 4 D^2 + 4 D and its norm 2 D; mlp: 8 D^2 + 5 D and its norm 2 D
    assert rows["transformer_block"].params == 12 * d * d + 13 * d


def test_transformer_block_errors(key):
    where = "TransformerBlock 'transformer_block'"
    with pytest.raises(ValueError, match=f"{where}: num_heads must be >= 1; got 0"):
        TransformerBlock(0)
    with pytest.raises(ValueError, match="key_dim must be >= 1; got 0"):
        TransformerBlock(2, key_dim=0)
    with pytest.raises(ValueError, match="rope=True needs an even key_dim; got 3"):
        TransformerBlock(2, key_dim=3, rope=True)
    with pytest.raises(TypeError, match="mlp_ratio must be a number; got str '4'"):
        TransformerBlock(2, mlp_ratio="4")
    with pytest.raises(ValueError, match="mlp_ratio must be > 0; got 0"):
        TransformerBlock(2, mlp_ratio=0)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\); got 1.0"):
        TransformerBlock(2, dropout=1.0)
    with pytest.raises(ValueError, match="norm_epsilon must be > 0; got 0.0"):
        TransformerBlock(2, norm_epsilon=0.0)
    with pytest.raises(ValueError, match=f"{where}: activation: Unknown activation 'nope'"):
        TransformerBlock(2, activation="nope")
    block = TransformerBlock(2)
    with pytest.raises(
        ValueError, match=r"input_shape must be \(N, T, D\) with a batch axis .*; got \(-1, 8\)"
    ):
        block.init(key, (-1, 8))
    with pytest.raises(
        ValueError,
        match=r"key_dim defaults to D // num_heads, so D must be a multiple of num_heads; got "
        r"D = 9, num_heads = 2\. Pass key_dim= explicitly",
    ):
        block.init(key, (-1, 4, 9))
    with pytest.raises(ValueError, match="rope=True needs an even key_dim; got D // num_heads = 3"):
        TransformerBlock(2, rope=True).init(key, (-1, 4, 6))
    _, params, state = block.init(key, (-1, 4, 8))
    with pytest.raises(
        ValueError, match=r"x must have shape \(N, T, 8\) \(as at init\); got \(2, 4, 6\)"
    ):
        block.apply(params, state, jnp.ones((2, 4, 6)))


# ----------------------------------------------------------------------------------------------
# End to end: a 2-block causal language model learns a delayed copy


def test_a_causal_two_block_model_learns_a_delayed_copy_and_is_causal():
    vocab, t, d, lag = 8, 10, 32, 2
    model = jaxnn.serial(
        Embedding(vocab, d),
        PositionalEmbedding(t),
        TransformerBlock(2, causal=True),
        TransformerBlock(2, causal=True),
        LayerNorm(epsilon=1e-5),
        Dense(vocab),
    )
    r = np.random.default_rng(0)
    x = r.integers(1, vocab, size=(512, t)).astype(np.int32)
    y = np.zeros_like(x)
    y[:, lag:] = x[:, :-lag]  # the token `lag` steps back; 0 for the first `lag` positions
    ts, history = jaxnn.fit(
        model, (x, y), loss="softmax_cross_entropy", learning_rate=3e-3, epochs=4, verbose=0
    )
    # y_t = x_{t-2} is independent of x_t, so a model that cannot look back stays at the
    # marginal's entropy, (t - lag) / t * log(7) = 1.56 nats; the first epoch averages 1.59 and
    # epoch 4 reaches 0.012 (seed 0). 0.1 leaves room for other platforms.
    assert history.history["loss"][0] > 1.0
    assert history.history["loss"][-1] < 0.1
    logits, _ = jax.jit(model.apply)(ts.params, ts.state, jnp.asarray(x[:64]))
    assert float(jnp.mean(jnp.argmax(logits, -1) == y[:64])) == 1.0
    # Changing the tokens from position 5 on leaves every earlier output exactly as it was.
    changed = x[:64].copy()
    changed[:, 5:] = (changed[:, 5:] % (vocab - 1)) + 1
    new, _ = jax.jit(model.apply)(ts.params, ts.state, jnp.asarray(changed))
    np.testing.assert_array_equal(new[:, :5], logits[:, :5])
    assert not np.allclose(new[:, 5:], logits[:, 5:])
