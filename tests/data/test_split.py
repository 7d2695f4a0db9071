import numpy as np
import pytest

from jaxnn import data


def test_split_sizes_disjoint_and_seeded():
    x = np.arange(100)
    y = x % 3
    (xtr, ytr), (xte, yte) = data.train_test_split(x, y, test_fraction=0.25, seed=1)
    assert len(xte) == 25 and set(xtr) | set(xte) == set(x) and not set(xtr) & set(xte)
    np.testing.assert_array_equal(ytr, xtr % 3)
    again = data.train_test_split(x, y, test_fraction=0.25, seed=1)
    np.testing.assert_array_equal(again[1][0], xte)
    assert not np.array_equal(data.train_test_split(x, y, test_fraction=0.25, seed=2)[1][0], xte)


def test_stratified_keeps_class_shares():
    y = np.array([0] * 90 + [1] * 10)
    (_, ytr), (_, yte) = data.train_test_split(np.arange(100), y, test_fraction=0.2, stratify=True)
    assert np.bincount(yte).tolist() == [18, 2]
    parts = data.train_val_test_split(np.arange(100), y, stratify=True)
    assert [len(p[0]) for p in parts] == [70, 10, 20]
    assert [int(p[1].sum()) for p in parts] == [7, 1, 2]


def test_errors():
    with pytest.raises(
        ValueError, match=r"train_test_split: test_fraction must be in \(0, 1\); got 1.2"
    ):
        data.train_test_split(np.arange(10), np.arange(10), test_fraction=1.2)
    with pytest.raises(ValueError, match="x and y must have one row per sample; got 10 and 9 rows"):
        data.train_test_split(np.arange(10), np.arange(9))
    with pytest.raises(
        ValueError,
        match=r"fractions must be three numbers \(train, validation, test\) that sum to 1; got \[0.7, 0.2, 0.2\]",
    ):
        data.train_val_test_split(np.arange(10), np.arange(10), fractions=(0.7, 0.2, 0.2))
    with pytest.raises(
        ValueError,
        match=r"a stratified split into 2 parts needs at least 2 samples of every class; classes \[2\] have fewer",
    ):
        data.train_test_split(np.arange(5), np.array([0, 0, 1, 1, 2]), stratify=True)


def test_nan_features_are_named_with_the_first_row():
    x = np.ones((6, 2))
    x[4, 1] = np.nan
    with pytest.raises(
        ValueError, match="train_test_split: x has NaN or Inf in 1 of 6 rows; the first is row 4"
    ):
        data.train_test_split(x, np.arange(6))
