import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.layers import Dense, MultiHeadAttention


def np_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def np_mha(params, q_in, kv_in, k_in, mask):
    """Each head separately: softmax(Q K^T / sqrt(d) + M) V, then the output projection."""
    p = jax.tree.map(np.asarray, params)
    heads = p["query"]["w"].shape[1]
    out = np.zeros((q_in.shape[0], q_in.shape[1], p["output"]["w"].shape[-1]))
    for h in range(heads):
        q = q_in @ p["query"]["w"][:, h] + p["query"]["b"][h]
        k = k_in @ p["key"]["w"][:, h] + p["key"]["b"][h]
        v = kv_in @ p["value"]["w"][:, h] + p["value"]["b"][h]
        logits = q @ np.swapaxes(k, 1, 2) / np.sqrt(q.shape[-1])
        if mask is not None:
            logits = np.where(mask, logits, -1e30)
        out += np_softmax(logits) @ v @ p["output"]["w"][h]
    return out + p["output"]["b"]


def _params(layer, shape, key=0):
    _, params, _ = layer.init(jax.random.key(key), shape)
    # Non-zero biases so that the test sees them.
    return jax.tree.map(lambda a: a + 0.1 * jax.random.normal(jax.random.key(7), a.shape), params)


def test_self_attention_matches_numpy():
    layer = MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5)
    params = _params(layer, (-1, 6, 8))
    x = np.asarray(jax.random.normal(jax.random.key(1), (2, 6, 8)))
    y, _ = layer.apply(params, {}, jnp.asarray(x))
    np.testing.assert_allclose(y, np_mha(params, x, x, x, None), rtol=1e-5, atol=1e-5)


def test_cross_attention_with_a_key_padding_mask_matches_numpy():
    layer = MultiHeadAttention(num_heads=2, key_dim=3, output_dim=7)
    shapes = {"query": (-1, 4, 5), "value": (-1, 6, 2), "key": (-1, 6, 3)}
    out_shape, params, _ = layer.init(jax.random.key(0), shapes)
    assert out_shape == (-1, 4, 7)
    params = jax.tree.map(lambda a: a + 0.1, params)
    r = np.random.default_rng(0)
    q, v, k = r.normal(size=(2, 4, 5)), r.normal(size=(2, 6, 2)), r.normal(size=(2, 6, 3))
    lengths = np.array([6, 3])
    mask = np.arange(6)[None, :] < lengths[:, None]  # (N, T_k): padded keys
    y, _ = layer.apply(params, {}, {"query": q, "value": v, "key": k, "mask": mask})
    expected = np_mha(params, q, v, k, mask[:, None, :])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    # A padded key changes nothing: change the padding and the output stays.
    v2, k2 = v.copy(), k.copy()
    v2[1, 3:], k2[1, 3:] = 100.0, -50.0
    y2, _ = layer.apply(params, {}, {"query": q, "value": v2, "key": k2, "mask": mask})
    np.testing.assert_allclose(y2, y, rtol=1e-5, atol=1e-5)


def test_causal_mask_hides_the_future():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, causal=True)
    params = _params(layer, (-1, 5, 3))
    x = np.asarray(jax.random.normal(jax.random.key(1), (1, 5, 3)))
    y, _ = layer.apply(params, {}, x)
    np.testing.assert_allclose(
        y, np_mha(params, x, x, x, np.tril(np.ones((5, 5), bool))), rtol=1e-5, atol=1e-5
    )
    x2 = x.copy()
    x2[:, 3:] += 5.0  # changing the future leaves the first three outputs alone
    y2, _ = layer.apply(params, {}, x2)
    np.testing.assert_allclose(y2[:, :3], y[:, :3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(y2[:, 3:], y[:, 3:])


def test_gradients_match_finite_differences_in_float64():
    layer = MultiHeadAttention(num_heads=2, key_dim=2, causal=True)
    with jax.enable_x64(True):
        _, params, _ = layer.init(jax.random.key(0), (-1, 3, 4))
        params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
        x = jax.random.normal(jax.random.key(1), (2, 3, 4), jnp.float64)

        def loss(p, x):
            return jnp.sum(jnp.sin(layer.apply(p, {}, x)[0]))

        jax.test_util.check_grads(loss, (params, x), order=1, modes=["rev"], eps=1e-6,
                                  atol=1e-6, rtol=1e-6)  # fmt: skip


def test_dropout_on_the_weights_needs_a_key_and_is_off_in_evaluation():
    layer = MultiHeadAttention(num_heads=1, key_dim=2, dropout=0.5)
    params = _params(layer, (-1, 4, 3))
    x = jnp.ones((2, 4, 3))
    with pytest.raises(ValueError, match="dropout in training needs a key= at apply"):
        layer.apply(params, {}, x, train=True)
    a, _ = layer.apply(params, {}, x, key=jax.random.key(0), train=True)
    b, _ = layer.apply(params, {}, x)
    assert a.shape == b.shape and not np.allclose(a, b)


def test_a_transformer_block_trains_in_a_model():
    block = jaxnn.serial(
        jaxnn.residual(MultiHeadAttention(2, 4)), jaxnn.layers.LayerNorm(), Dense(1)
    )
    out_shape, params, state = block.init(jax.random.key(0), (-1, 5, 6))
    assert out_shape == (-1, 5, 1)
    y, _ = block.apply(params, state, jnp.ones((3, 5, 6)))
    assert y.shape == (3, 5, 1)


def test_errors(key):
    with pytest.raises(ValueError, match="num_heads must be >= 1; got 0"):
        MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\); got 1.0"):
        MultiHeadAttention(2, 4, dropout=1.0)
    layer = MultiHeadAttention(2, 4)
    with pytest.raises(
        ValueError,
        match=r"the query must be \(N, T, D\) with a batch axis and known D; got \(-1, 8\)",
    ):
        layer.init(key, (-1, 8))
    with pytest.raises(
        ValueError,
        match=r"a dict input needs 'query' and may have 'value', 'key' and 'mask'; got keys \['q'\]",
    ):
        layer.init(key, {"q": (-1, 2, 3)})
    with pytest.raises(ValueError, match="key and value lengths differ: 4 and 5"):
        layer.init(key, {"query": (-1, 3, 2), "key": (-1, 4, 2), "value": (-1, 5, 2)})
    with pytest.raises(
        ValueError, match="causal=True needs keys as long as the queries; got 4 keys for 3 queries"
    ):
        MultiHeadAttention(2, 4, causal=True).init(key, {"query": (-1, 3, 2), "value": (-1, 4, 2)})
    _, params, _ = layer.init(key, (-1, 3, 2))
    with pytest.raises(
        ValueError,
        match=r"mask must have shape \(N, T_k\) = \(2, 3\), \(T_q, T_k\) = \(3, 3\) or \(N, T_q, T_k\) = \(2, 3, 3\); got \(2, 4\)",
    ):
        layer.apply(params, {}, {"query": jnp.ones((2, 3, 2)), "mask": jnp.ones((2, 4), bool)})
    with pytest.raises(
        ValueError, match=r"the query must have 2 features \(as at init\); got shape \(2, 3, 5\)"
    ):
        layer.apply(params, {}, jnp.ones((2, 3, 5)))


def test_apply_takes_a_symbolic_batch_as_jax_export_traces_it():
    layer = MultiHeadAttention(2, 4)
    _, params, state = layer.init(jax.random.key(0), (-1, 5, 8))
    (batch,) = jax.export.symbolic_shape("batch")
    spec = jax.ShapeDtypeStruct((batch, 5, 8), jnp.float32)
    exported = jax.export.export(jax.jit(lambda x: layer.apply(params, state, x)[0]))(spec)
    x = jax.random.normal(jax.random.key(1), (3, 5, 8))
    np.testing.assert_allclose(exported.call(x), layer.apply(params, state, x)[0], atol=1e-6)
