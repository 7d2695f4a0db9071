import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.layers import Dense, MultiHeadAttention
from jaxnn.layers.attention import rotary_embedding


def np_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def np_rope(x, positions, base=10000.0):
    """RoPE as complex products: z_i = x_i + i x_{i+d/2} times exp(i p base^(-2i/d)), p (T,)."""
    x = np.asarray(x, np.float64)
    half = x.shape[-1] // 2
    z = x[..., :half] + 1j * x[..., half:]
    theta = base ** (-2.0 * np.arange(half) / x.shape[-1])
    angle = np.asarray(positions, np.float64)[:, None] * theta  # (T, d/2); x is (N, T, [H,] d)
    w = z * np.exp(1j * angle.reshape((len(angle),) + (1,) * (x.ndim - 3) + (half,)))
    return np.concatenate([w.real, w.imag], axis=-1)


def np_mha(params, q_in, kv_in, k_in, mask, rope_base=None):
    """Each head separately: softmax(Q K^T / sqrt(d) + M) V, then the output projection."""
    p = jax.tree.map(np.asarray, params)
    heads = p["query"]["w"].shape[1]
    out = np.zeros((q_in.shape[0], q_in.shape[1], p["output"]["w"].shape[-1]))
    for h in range(heads):
        q = q_in @ p["query"]["w"][:, h] + p["query"]["b"][h]
        k = k_in @ p["key"]["w"][:, h] + p["key"]["b"][h]
        if rope_base is not None:  # (N, T, d): rotate each position by its index
            q = np_rope(q, np.arange(q.shape[1]), rope_base)
            k = np_rope(k, np.arange(k.shape[1]), rope_base)
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


# ----------------------------------------------------------------------------------------------
# Rotary position embedding


@pytest.mark.parametrize("base", [10000.0, 50.0])
def test_rotary_embedding_matches_a_numpy_complex_rotation(base):
    x = jax.random.normal(jax.random.key(0), (2, 7, 3, 6))
    positions = jnp.arange(7) + 3
    np.testing.assert_allclose(
        rotary_embedding(x, positions, base), np_rope(x, positions, base), rtol=1e-5, atol=1e-5
    )
    # Per-row positions (N, T), as a KV cache gives them: each row rotated by its own.
    rows = jnp.stack([jnp.arange(7), jnp.arange(7) + 11])
    per_row = np.stack([np_rope(x[i : i + 1], rows[i], base)[0] for i in range(2)])
    np.testing.assert_allclose(rotary_embedding(x, rows, base), per_row, rtol=1e-5, atol=1e-5)
    # Position 0 is the identity; the rotation pairs feature i with i + d/2 (rotate half).
    np.testing.assert_array_equal(rotary_embedding(x, jnp.zeros(7, int), base), x)
    one = jnp.zeros((1, 1, 1, 4)).at[0, 0, 0, 0].set(1.0)  # e_0 at position 1: angle 1 rad
    np.testing.assert_allclose(
        rotary_embedding(one, jnp.array([1]), base)[0, 0, 0], [np.cos(1), 0, np.sin(1), 0],
        atol=1e-6,
    )  # fmt: skip


def test_rotary_embedding_keeps_norms_and_logits_depend_only_on_relative_position():
    with jax.enable_x64(True):
        q = jax.random.normal(jax.random.key(1), (2, 9, 2, 8), jnp.float64)
        k = jax.random.normal(jax.random.key(2), (2, 9, 2, 8), jnp.float64)
        positions = jnp.arange(9)

        def logits(offset):
            q_rot = rotary_embedding(q, positions + offset)
            k_rot = rotary_embedding(k, positions + offset)
            return jnp.einsum("nqhd,nkhd->nhqk", q_rot, k_rot)

        np.testing.assert_allclose(
            jnp.linalg.norm(rotary_embedding(q, positions + 5), axis=-1),
            jnp.linalg.norm(q, axis=-1), rtol=1e-12,
        )  # fmt: skip
        base = logits(0)
        for offset in (1, 37, 1000):
            np.testing.assert_allclose(logits(offset), base, rtol=1e-9, atol=1e-9)
        # ... and they do depend on the relative position: not the plain dot products.
        assert not np.allclose(base, jnp.einsum("nqhd,nkhd->nhqk", q, k), atol=1e-2)
        # q at position m against k at n equals q against k rotated by n - m.
        m, n = 2, 7
        lhs = rotary_embedding(q[:, m : m + 1], jnp.array([m])) * rotary_embedding(
            k[:, n : n + 1], jnp.array([n]))  # fmt: skip
        rhs = q[:, m : m + 1] * rotary_embedding(k[:, n : n + 1], jnp.array([n - m]))
        np.testing.assert_allclose(lhs.sum(-1), rhs.sum(-1), rtol=1e-10, atol=1e-10)


def test_rotary_embedding_errors():
    x = jnp.ones((1, 3, 2, 4))
    with pytest.raises(ValueError, match="rotary_embedding: base must be > 0; got 0.0"):
        rotary_embedding(x, jnp.arange(3), 0.0)
    with pytest.raises(
        ValueError, match=r"x must be \(N, T, H, d\) with an even d .*; got shape \(1, 3, 2, 5\)"
    ):
        rotary_embedding(jnp.ones((1, 3, 2, 5)), jnp.arange(3))
    with pytest.raises(ValueError, match=r"x must be \(N, T, H, d\).*got shape \(3, 4\)"):
        rotary_embedding(jnp.ones((3, 4)), jnp.arange(3))
    with pytest.raises(
        ValueError,
        match=r"positions must have shape \(T,\) = \(3,\) or \(N, T\) = \(1, 3\); got \(4,\)",
    ):
        rotary_embedding(x, jnp.arange(4))


def test_rope_attention_matches_numpy_and_is_in_the_config():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, causal=True, rope=True, rope_base=100.0)
    assert layer.config["rope"] is True and layer.config["rope_base"] == 100.0
    params = _params(layer, (-1, 6, 5))
    x = np.asarray(jax.random.normal(jax.random.key(1), (2, 6, 5)))
    y, _ = jax.jit(layer.apply)(params, {}, jnp.asarray(x))
    mask = np.tril(np.ones((6, 6), bool))
    np.testing.assert_allclose(
        y, np_mha(params, x, x, x, mask, rope_base=100.0), rtol=1e-5, atol=1e-5
    )
    plain, _ = MultiHeadAttention(2, 4, causal=True).apply(params, {}, jnp.asarray(x))
    assert not np.allclose(y, plain, atol=1e-3)  # RoPE changed something


def test_rope_errors():
    with pytest.raises(
        ValueError,
        match=r"MultiHeadAttention 'mha': rope=True rotates pairs of features \(i, i \+ "
        r"key_dim/2\), so key_dim must be even; got 3",
    ):
        MultiHeadAttention(2, 3, rope=True, name="mha")
    with pytest.raises(ValueError, match="rope_base must be > 0; got -1.0"):
        MultiHeadAttention(2, 4, rope=True, rope_base=-1.0)


# ----------------------------------------------------------------------------------------------
# jax.nn.dot_product_attention and the explicit path


@pytest.fixture
def dpa_calls(monkeypatch):
    """Counts calls of jax.nn.dot_product_attention (still computing them)."""
    calls = []
    original = jax.nn.dot_product_attention

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(jax.nn, "dot_product_attention", spy)
    return calls


def _cross(mask):
    r = np.random.default_rng(3)
    return {"query": r.normal(size=(2, 4, 5)), "value": r.normal(size=(2, 4, 3)), "mask": mask}


FULLY_MASKED_ROW = np.array([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 1, 0]], bool)
CASES = {
    "self": (dict(), (-1, 5, 6)),
    "self_causal_rope": (dict(causal=True, rope=True), (-1, 5, 6)),
    "cross_key_padding": (dict(), _cross(np.array([[1, 1, 1, 0], [1, 0, 0, 0]], bool))),
    "cross_causal_padding_masks_row_0": (
        dict(causal=True),
        _cross(np.array([[1, 1, 1, 1], [0, 1, 1, 1]], bool)),
    ),
    "cross_fully_masked_row": (dict(), _cross(FULLY_MASKED_ROW)),
}


def _inputs(spec):
    if isinstance(spec, dict):
        return {k: jnp.asarray(v) for k, v in spec.items()}, {
            k: v.shape for k, v in spec.items() if k != "mask"
        }
    x = jax.random.normal(jax.random.key(4), (3,) + spec[1:])
    return x, spec


@pytest.mark.parametrize("case", sorted(CASES))
def test_dot_product_attention_path_equals_the_explicit_path(case, dpa_calls):
    kwargs, spec = CASES[case]
    x, shape = _inputs(spec)
    fast = MultiHeadAttention(2, 4, **kwargs)
    # dropout=1e-9 rounds to keep-probability 1.0 in float32: nothing is dropped, but training
    # with dropout takes the explicit path.
    slow = MultiHeadAttention(2, 4, dropout=1e-9, **kwargs)
    params = _params(fast, shape)
    a, _ = fast.apply(params, {}, x)
    assert len(dpa_calls) == 1 and dpa_calls[0]["is_causal"] == kwargs.get("causal", False)
    b, _ = slow.apply(params, {}, x, key=jax.random.key(0), train=True)
    assert len(dpa_calls) == 1  # the explicit path did not call it
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_value_dim_other_than_key_dim_and_float64_take_the_explicit_path(dpa_calls):
    layer = MultiHeadAttention(2, 4, value_dim=3)
    params = _params(layer, (-1, 3, 2))
    layer.apply(params, {}, jnp.ones((1, 3, 2)))
    with jax.enable_x64(True):
        same = MultiHeadAttention(2, 4)
        p64 = jax.tree.map(lambda a: a.astype(jnp.float64), _params(same, (-1, 3, 2)))
        y, _ = same.apply(p64, {}, jnp.ones((1, 3, 2), jnp.float64))
        assert y.dtype == jnp.float64
    assert dpa_calls == []


def _np_uniform_row(params, value):
    """A fully masked query row: uniform weights, so the mean value through the output."""
    p = jax.tree.map(np.asarray, params)
    v = np.einsum("ntd,dhk->nthk", value, p["value"]["w"]) + p["value"]["b"]
    return np.einsum("nhk,hko->no", v.mean(axis=1), p["output"]["w"]) + p["output"]["b"]


@pytest.mark.parametrize("train", [False, True])
def test_a_fully_masked_row_keeps_uniform_weights_on_both_paths(train):
    layer = MultiHeadAttention(2, 4, dropout=1e-9)
    x, shape = _inputs(CASES["cross_fully_masked_row"][1])
    params = _params(layer, shape)
    y, _ = layer.apply(params, {}, x, key=jax.random.key(0), train=train)
    np.testing.assert_allclose(y[:, 1], _np_uniform_row(params, x["value"]), atol=1e-5)
    q, v = np.asarray(x["query"]), np.asarray(x["value"])
    expected = np_mha(params, q, v, v, FULLY_MASKED_ROW)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_a_fully_masked_row_stays_uniform_whatever_kernel_jax_picks(monkeypatch):
    """A kernel that returns zeros on rows with no allowed key (cuDNN may) changes nothing."""
    original = jax.nn.dot_product_attention

    def zeros_on_blind_rows(q, k, v, *, mask=None, is_causal=False):
        out = original(q, k, v, mask=mask, is_causal=is_causal)
        blind = jnp.transpose(~jnp.any(mask, axis=-1), (0, 2, 1))[..., None]
        return jnp.where(blind, 0.0, out)

    layer = MultiHeadAttention(2, 4)
    x, shape = _inputs(CASES["cross_fully_masked_row"][1])
    params = _params(layer, shape)
    expected, _ = layer.apply(params, {}, x)
    monkeypatch.setattr(jax.nn, "dot_product_attention", zeros_on_blind_rows)
    y, _ = layer.apply(params, {}, x)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_allclose(y[:, 1], _np_uniform_row(params, x["value"]), atol=1e-5)
