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
