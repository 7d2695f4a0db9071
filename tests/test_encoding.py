import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn


def test_one_hot_matches_identity_rows():
    labels = np.array([2, 0, 1, 2])
    np.testing.assert_array_equal(jaxnn.one_hot(labels, 3), np.eye(3)[labels])
    assert jaxnn.one_hot(labels, 3).dtype == jnp.float32
    assert jaxnn.one_hot(labels, 3, dtype=jnp.int32).dtype == jnp.int32
    np.testing.assert_array_equal(jaxnn.one_hot(np.array([[0, 1]]), 2), [[[1, 0], [0, 1]]])


def test_one_hot_under_jit_gives_zero_rows_for_out_of_range():
    f = jax.jit(lambda y: jaxnn.one_hot(y, 3))
    np.testing.assert_array_equal(f(jnp.array([1, 3])), [[0, 1, 0], [0, 0, 0]])


def test_to_categorical_infers_classes_and_drops_trailing_one():
    np.testing.assert_array_equal(jaxnn.to_categorical([1, 0, 3]), np.eye(4)[[1, 0, 3]])
    out = jaxnn.to_categorical(np.array([[1], [0]]), 2)
    assert out.shape == (2, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(jaxnn.to_categorical(np.array([1.0, 2.0]), 3), np.eye(3)[[1, 2]])


@pytest.mark.parametrize("fn", [jaxnn.one_hot, jaxnn.to_categorical])
def test_out_of_range_labels_are_listed_never_wrapped(fn):
    with pytest.raises(
        ValueError,
        match=r"labels must be class ids in \[0, 3\); 3 of 5 are not: values \[-1, 3, 7\], first at index 1\. \(Keras maps -1 to the last class; jaxnn does not\.\)",
    ):
        fn(np.array([0, -1, 3, 2, 7]), 3)


def test_bad_labels_and_arguments():
    with pytest.raises(
        TypeError,
        match=r"to_categorical: labels must be integer class ids; got dtype float64 with values such as \[0.5, 1.0\]",
    ):
        jaxnn.to_categorical([0.5, 1.0])
    with pytest.raises(TypeError, match="one_hot: num_classes must be an int; got 3.0"):
        jaxnn.one_hot([0, 1], 3.0)
    with pytest.raises(ValueError, match="cannot infer num_classes from empty labels"):
        jaxnn.to_categorical(np.array([], np.int64))
