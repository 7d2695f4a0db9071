"""Tests of jaxnn.viz.activations.plot_activations: curves and derivatives against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from jaxnn.viz import DEFAULT_ACTIVATIONS, plot_activations
from tests.viz.conftest import check_rendered


@pytest.fixture(scope="module")
def default_figure():
    return plot_activations()


def panel(fig, title):
    (ax,) = [ax for ax in fig.axes if ax.get_title() == title]
    f, df = ax.get_lines()[:2]
    return np.asarray(f.get_xdata()), np.asarray(f.get_ydata()), np.asarray(df.get_ydata())


def test_default_grid_has_one_titled_panel_per_activation(default_figure, tmp_path):
    assert [ax.get_title() for ax in default_figure.axes] == list(DEFAULT_ACTIVATIONS)
    assert {"heaviside", "sign", "sigmoid", "relu", "gelu", "silu"} <= set(DEFAULT_ACTIVATIONS)
    assert default_figure.axes[0].get_xlabel() == "x (pre-activation)"
    check_rendered(default_figure, tmp_path, dpi=25)


def test_relu_and_its_derivative(default_figure):
    x, f, df = panel(default_figure, "relu")
    np.testing.assert_allclose(x, np.linspace(-4, 4, 401), atol=1e-6)
    np.testing.assert_array_equal(f, np.maximum(x, 0))
    np.testing.assert_array_equal(df, (x > 0).astype(np.float32))  # JAX takes relu'(0) = 0


def test_sigmoid_tanh_and_heaviside_derivatives(default_figure):
    x, f, df = panel(default_figure, "sigmoid")
    s = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(f, s, atol=1e-6)
    np.testing.assert_allclose(df, s * (1 - s), atol=1e-6)
    x, f, df = panel(default_figure, "tanh")
    np.testing.assert_allclose(df, 1 - np.tanh(x) ** 2, atol=1e-6)
    x, f, df = panel(default_figure, "heaviside")
    np.testing.assert_array_equal(f, (x >= 0).astype(np.float32))
    np.testing.assert_array_equal(df, np.zeros_like(x))


def test_chosen_names_callables_and_range():
    def cube(x):
        return x**3

    fig = plot_activations(["Swish", cube], x_range=(-1, 2))
    assert [ax.get_title() for ax in fig.axes] == ["Swish", "cube"]
    x, f, df = panel(fig, "cube")
    assert (x[0], x[-1]) == (-1.0, 2.0)
    np.testing.assert_allclose(df, 3 * x**2, rtol=1e-6)
    x, f, _ = panel(fig, "Swish")
    np.testing.assert_allclose(f, x / (1 + np.exp(-x)), atol=1e-6)
    assert len(plot_activations("elu").axes) == 1


def test_errors():
    with pytest.raises(ValueError, match="Unknown activation 'rleu'. Known activations: arctan, "):
        plot_activations(["relu", "rleu"])
    with pytest.raises(ValueError, match="'softmax' normalises over an axis, so it has no curve"):
        plot_activations(["softmax"])
    with pytest.raises(
        ValueError, match=r"x_range must be finite with low < high; got \(2.0, 1.0\)"
    ):
        plot_activations(x_range=(2, 1))
    with pytest.raises(ValueError, match=r"x_range must be two numbers \(low, high\); got 3"):
        plot_activations(x_range=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="names must hold at least one activation"):
        plot_activations([])
    with pytest.raises(
        TypeError, match="names must be an activation name or a list of them; got int"
    ):
        plot_activations(3)  # type: ignore[arg-type]
