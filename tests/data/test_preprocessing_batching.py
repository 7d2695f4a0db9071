import jax
import numpy as np
import pytest

from jaxnn import data


def test_standardize_fits_on_train_only():
    train = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    scaler = data.Standardize.fit(train)
    z = scaler.transform(train)
    np.testing.assert_allclose(z.mean(0), [0, 0], atol=1e-7)
    np.testing.assert_allclose(z[:, 0].std(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        scaler.transform([[7.0, 6.0]]), [[(7 - 3) / np.std([1, 3, 5]), 1.0]], rtol=1e-6
    )
    np.testing.assert_allclose(scaler.inverse(z), train, rtol=1e-6)


def test_minmax_range_and_inverse():
    train = np.array([[0.0, -1.0], [10.0, 1.0]])
    scaler = data.MinMax.fit(train, low=-1, high=1)
    np.testing.assert_allclose(scaler.transform(train), [[-1, -1], [1, 1]])
    # (20 - 0) / 10 = 2 and (3 + 1) / 2 = 2 of the range: both map to -1 + 2 * 2 = 3 (no clipping).
    np.testing.assert_allclose(scaler.transform([[5.0, 0.0], [20.0, 3.0]]), [[0, 0], [3, 3]])
    np.testing.assert_allclose(scaler.inverse(scaler.transform(train)), train, rtol=1e-6)
    with pytest.raises(ValueError, match="MinMax.fit: low must be below high; got low=1, high=0"):
        data.MinMax.fit(train, low=1, high=0)
    with pytest.raises(
        ValueError, match="Standardize.fit: x has NaN or Inf in 1 rows; the first is row 1"
    ):
        data.Standardize.fit([[1.0], [np.nan]])


def test_batches_cover_every_row_once_and_shuffle():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    got = list(data.batches(x, y, batch_size=3, shuffle=True, seed=1))
    assert [len(b[1]) for b in got] == [3, 3, 3, 1]
    rows = np.concatenate([np.asarray(b[1]) for b in got])
    assert sorted(rows.tolist()) == list(range(10)) and rows.tolist() != list(range(10))
    for bx, by in got:
        assert isinstance(bx, jax.Array)
        np.testing.assert_array_equal(np.asarray(bx), x[np.asarray(by)])
    assert len(list(data.batches(x, batch_size=3, drop_remainder=True, prefetch=0))) == 3


def test_batches_errors():
    with pytest.raises(
        ValueError, match=r"batches: all arrays need the same number of rows; got \[3, 2\]"
    ):
        list(data.batches(np.zeros(3), np.zeros(2), batch_size=1))
    with pytest.raises(ValueError, match="batches: batch_size must be >= 1; got 0"):
        list(data.batches(np.zeros(3), batch_size=0))
