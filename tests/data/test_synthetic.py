import numpy as np
import pytest

from jaxnn import data

CLASSIFIERS = ["circle", "xor", "gaussian", "spiral", "moons", "blobs"]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_shapes_dtypes_seeds_and_split(name):
    fn = getattr(data, name)
    x, y = fn(201, seed=3)
    assert x.shape[0] == 201 and x.dtype == np.float32 and y.dtype == np.int32 and y.shape == (201,)
    x2, y2 = fn(201, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, fn(201, seed=4)[0])
    (xtr, ytr), (xte, yte) = fn(200, seed=3, test_fraction=0.25)
    assert len(xtr) == 150 and len(xte) == 50


def test_circle_rule_without_noise():
    x, y = data.circle(400)
    r = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_array_equal(y, (r < 2.5).astype(int))
    assert r.max() <= 5 and not np.any((r > 2.5) & (r < 3.5))  # the Playground's gap
    assert 0 < y.mean() < 1 and abs(y.mean() - 0.5) < 0.01


def test_xor_padding_and_noise_flips_labels():
    x, y = data.xor(1000)
    assert np.abs(x).min() >= 0.3 and np.abs(x).max() <= 5.3
    _, noisy = data.xor(1000, noise=0.5)
    x0, _ = data.xor(1000, noise=0.5)
    clean = (x0[:, 0] * x0[:, 1] >= 0).astype(int)
    assert 0.05 < np.mean(noisy != clean) < 0.5


def test_gaussian_variance_follows_noise():
    for noise, variance in ((0.0, 0.5), (0.5, 4.0)):
        x, y = data.gaussian(20000, noise=noise)
        np.testing.assert_allclose(x[y == 0].var(axis=0), variance, rtol=0.05)
        np.testing.assert_allclose(x[y == 0].mean(axis=0), [-2, -2], atol=0.1)


def test_spiral_arms_are_half_a_turn_apart():
    x, y = data.spiral(400)
    r = np.hypot(x[:, 0], x[:, 1])
    assert r.max() < 5 and sorted(np.bincount(y).tolist()) == [200, 200]
    # Without noise, each point of class 0 is its class-1 twin rotated by pi: (x, y) -> (-x, -y).
    ones, zeros = x[y == 1], x[y == 0]
    key = lambda p: np.round(np.hypot(*p.T), 6)  # noqa: E731
    np.testing.assert_allclose(np.sort(key(ones)), np.sort(key(zeros)), atol=1e-5)


def test_regression_sets():
    x, y = data.regression_plane(300)
    np.testing.assert_allclose(y[:, 0], (x[:, 0] + x[:, 1]) / 10, atol=1e-6)
    assert y.shape == (300, 1) and y.dtype == np.float32
    x, y = data.regression_gaussian(2000)
    at_bump = np.hypot(x[:, 0] + 4, x[:, 1] - 2.5) < 0.2  # near (-4, 2.5), sign +1
    assert np.all(y[at_bump, 0] > 0.85)
    far = (
        np.min(
            np.hypot(
                x[:, None, 0] - np.array([-4, 0, 4, -4, 0, 4]),
                x[:, None, 1] - np.array([2.5] * 3 + [-2.5] * 3),
            ),
            axis=1,
        )
        > 2
    )
    np.testing.assert_array_equal(y[far, 0], 0.0)


def test_moons_and_blobs():
    x, y = data.moons(100)
    outer = x[y == 0]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0, atol=1e-6)
    x, y = data.blobs(300, centers=4, n_features=3, noise=0.1)
    for k in range(4):
        assert x[y == k].std(axis=0).max() < 0.15


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"circle: noise must be in \[0, 0.5\] \(the Playground's slider / 100\); got 0.8",
    ):
        data.circle(10, noise=0.8)
    with pytest.raises(ValueError, match="xor: n must be >= 1; got 0"):
        data.xor(0)
    with pytest.raises(
        ValueError,
        match=r"Unknown data set 'cirlce'\. Known data sets: blobs, circle, digits, fashion_mnist",
    ):
        data.load("cirlce")
    assert data.load("moons", n=10)[0].shape == (10, 2)
