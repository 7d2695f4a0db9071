"""Tests of jaxnn.viz.weights: histogram counts against NumPy, per parameter and per layer."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.layers import Dense
from jaxnn.viz import plot_activation_histograms, plot_weight_histograms
from tests.viz.conftest import check_rendered

MODEL = jaxnn.serial(Dense(5), jnp.tanh, Dense(2))
X = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def initialised():
    _, params, state = MODEL.init(jax.random.key(0), (-1, 3))
    return params, state


def heights(ax):
    return np.array([bar.get_height() for bar in ax.patches])


def test_weight_histograms_count_every_entry(initialised, tmp_path):
    params, _ = initialised
    fig = plot_weight_histograms(params, bins=7)
    flat = {"dense/b": params["dense"]["b"], "dense/w": params["dense"]["w"]}
    flat |= {"dense_1/b": params["dense_1"]["b"], "dense_1/w": params["dense_1"]["w"]}
    assert [ax.get_title().split()[0] for ax in fig.axes] == list(flat)
    for ax, array in zip(fig.axes, flat.values(), strict=True):
        counts, _ = np.histogram(np.asarray(array, np.float64), bins=7)
        np.testing.assert_array_equal(heights(ax), counts)
        assert heights(ax).sum() == array.size
        assert str(tuple(array.shape)) in ax.get_title()
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("parameter value", "count")
    w = np.asarray(params["dense"]["w"])
    assert f"mean {w.mean():.3g}, std {w.std():.3g}" in fig.axes[1].get_title()
    check_rendered(fig, tmp_path)


def test_non_finite_values_are_left_out_and_counted():
    fig = plot_weight_histograms({"w": jnp.array([1.0, jnp.nan, 2.0, jnp.inf])}, bins=2)
    np.testing.assert_array_equal(heights(fig.axes[0]), [1, 1])
    assert "2 non-finite left out" in fig.axes[0].get_title()


def test_activation_histograms_match_intermediates(initialised, tmp_path):
    params, state = initialised
    fig = plot_activation_histograms(MODEL, params, state, X, bins=6)
    outputs = jaxnn.intermediates(MODEL, params, state, X)
    assert [ax.get_title().split()[0] for ax in fig.axes] == ["dense", "tanh", "dense_1"]
    for ax in fig.axes:
        values = np.asarray(outputs[ax.get_title().split()[0]], np.float64)
        np.testing.assert_array_equal(heights(ax), np.histogram(values, bins=6)[0])
    assert [heights(ax).sum() for ax in fig.axes] == [12 * 5, 12 * 5, 12 * 2]
    check_rendered(fig, tmp_path)


def test_a_single_layer_keeps_the_model_output():
    _, params, state = Dense(4).init(jax.random.key(1), (-1, 3))
    fig = plot_activation_histograms(Dense(4), params, state, X, bins=3)
    assert [ax.get_title().split()[0] for ax in fig.axes] == ["output"]
    assert heights(fig.axes[0]).sum() == 12 * 4


def test_errors(initialised):
    params, state = initialised
    with pytest.raises(
        ValueError, match=r"plot_weight_histograms: params holds no arrays; got \{\}"
    ):
        plot_weight_histograms({})
    with pytest.raises(
        ValueError, match="plot_weight_histograms: bins must be a positive int; got 0"
    ):
        plot_weight_histograms(params, bins=0)
    with pytest.raises(
        ValueError, match="plot_activation_histograms: bins must be a positive int; got -2"
    ):
        plot_activation_histograms(MODEL, params, state, X, bins=-2)
    with pytest.raises(ValueError, match="missing"):
        plot_activation_histograms(MODEL, {"dense": params["dense"]}, state, X)
