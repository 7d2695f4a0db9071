import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.layers import Dense, Embedding


def test_lookup_equals_indexing_and_one_hot_matmul(key):
    layer = Embedding(6, 3)
    _, params, _ = layer.init(key, (-1, 4))
    ids = jnp.array([[0, 5, 2, 2], [1, 1, 3, 4]])
    y, _ = layer.apply(params, {}, ids)
    table = np.asarray(params["embedding"])
    np.testing.assert_array_equal(y, table[np.asarray(ids)])
    np.testing.assert_allclose(y, jax.nn.one_hot(ids, 6) @ table, rtol=1e-6)


def test_gradient_reaches_only_used_rows(key):
    model = jaxnn.serial(Embedding(5, 2), lambda h: h.sum(axis=1), Dense(1))
    _, params, state = model.init(key, (-1, 3))
    ids = jnp.array([[0, 0, 3]])
    grads = jax.grad(lambda p: model.apply(p, state, ids)[0].sum())(params)
    rows = np.abs(np.asarray(grads["embedding"]["embedding"])).sum(axis=1)
    assert rows[1] == rows[2] == rows[4] == 0 and rows[0] > 0 and rows[3] > 0
    np.testing.assert_allclose(
        grads["embedding"]["embedding"][0], 2 * grads["embedding"]["embedding"][3], rtol=1e-6
    )


def test_errors(key):
    layer = Embedding(4, 2)
    _, params, _ = layer.init(key, (-1, 2))
    with pytest.raises(
        ValueError,
        match=r"Embedding 'embedding': ids must be class ids in \[0, 4\); 2 of 4 are not: values \[-1, 7\]",
    ):
        layer.apply(params, {}, jnp.array([[0, -1], [7, 1]]))
    with pytest.raises(
        TypeError, match="Embedding 'embedding': x must hold integer ids; got dtype float32"
    ):
        layer.apply(params, {}, jnp.ones((1, 2)))
    with pytest.raises(ValueError, match="num_embeddings must be >= 1; got 0"):
        Embedding(0, 2)
    # Under jit values are unknown: an out-of-range id is clamped, never wrapped to the last row.
    y = jax.jit(lambda ids: layer.apply(params, {}, ids)[0])(jnp.array([[-1, 9]]))
    np.testing.assert_array_equal(y[0, 0], params["embedding"][0])
    np.testing.assert_array_equal(y[0, 1], params["embedding"][3])


def test_mask_zero_feeds_a_recurrent_layer_the_padding_mask(key):
    from jaxnn.layers import GRU

    model = jaxnn.serial(Embedding(6, 3, mask_zero=True), GRU(4))
    out_shape, params, state = model.init(key, (-1, 5))
    assert out_shape == (-1, 4)
    ids = jnp.array([[3, 1, 4, 0, 0], [2, 5, 1, 5, 1]])
    y, _ = model.apply(params, state, ids)
    # The padded sequence gives what its unpadded prefix gives alone.
    alone, _ = model.apply(params, state, ids[:1, :3])
    np.testing.assert_allclose(y[0], alone[0], rtol=1e-6)
    # Without mask_zero the padding rows are read as real steps, so the result differs.
    plain = jaxnn.serial(Embedding(6, 3, name="embedding"), GRU(4))
    _, plain_params, _ = plain.init(key, (-1, 5))
    unmasked, _ = plain.apply(params, state, ids)
    assert not np.allclose(unmasked[0], alone[0], atol=1e-4)
    assert jax.tree.structure(plain_params) == jax.tree.structure(params)


def test_mask_zero_output_and_config(key):
    layer = Embedding(4, 2, mask_zero=True)
    shape, params, _ = layer.init(key, (-1, 3))
    assert shape == {"inputs": (-1, 3, 2), "mask": (-1, 3)}
    out, _ = layer.apply(params, {}, jnp.array([[1, 0, 3]]))
    np.testing.assert_array_equal(out["mask"], [[True, False, True]])
    np.testing.assert_array_equal(out["inputs"][0, 1], params["embedding"][0])
    assert layer.config["mask_zero"] is True
    assert Embedding(4, 2).config["mask_zero"] is False
