"""Tests of jaxnn.viz.boundary.plot_decision_boundary with hand-made linear classifiers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from matplotlib.figure import Figure

import jaxnn
from jaxnn.layers import Dense
from jaxnn.train import TrainState
from jaxnn.viz import plot_decision_boundary
from tests.viz.conftest import check_rendered

X = np.array([[-2.0, -1.0], [1.5, 2.0], [0.5, -1.5], [-1.0, 1.0], [2.0, 0.0]], np.float32)
W = np.array([[2.0], [-1.0]], np.float32)  # logit = 2 x0 - x1 + 0.5
B = np.array([0.5], np.float32)
LINEAR = Dense(1)  # one model object: its compiled grid evaluation is reused
PARAMS = {"w": jnp.asarray(W), "b": jnp.asarray(B)}
Y = ((X @ W + B)[:, 0] > 0).astype(np.int32)


def numpy_grid(x, resolution, padding):
    """The grid the plot uses, written out: linspace over each column's range plus padding."""
    xs, ys = (
        np.linspace(x[:, i].min() - padding, x[:, i].max() + padding, resolution, dtype=np.float32)
        for i in (0, 1)
    )
    return xs, ys, *np.meshgrid(xs, ys)


def shaded(fig):
    return np.asarray(fig.axes[0].images[0].get_array()).astype(int)


def test_binary_logit_is_the_sign_rule(tmp_path):
    fig = plot_decision_boundary(LINEAR, (PARAMS, {}), X, Y, resolution=41, padding=0.5)
    _, _, gx, gy = numpy_grid(X, 41, 0.5)
    logit = 2 * gx - gy + 0.5
    expected = (logit > 0).astype(int)
    away = np.abs(logit) > 1e-4  # float32 rounding may flip a point exactly on the line
    assert shaded(fig).shape == (41, 41)
    np.testing.assert_array_equal(shaded(fig)[away], expected[away])
    assert 0.2 < expected.mean() < 0.8  # both classes are on the grid
    ax = fig.axes[0]
    # Data range plus padding, and half a grid step (5 / 40 along x, 4.5 / 40 along y) more.
    assert ax.images[0].get_extent() == pytest.approx([-2.5625, 2.5625, -2.05625, 2.55625])
    assert "x[:, 0]" in ax.get_xlabel() and "x[:, 1]" in ax.get_ylabel()
    check_rendered(fig, tmp_path)


def test_probabilities_threshold_at_one_half_and_explicit_threshold():
    model = jaxnn.serial(LINEAR, jax.nn.sigmoid)
    _, params, state = model.init(jax.random.key(0), (-1, 2))
    params = {**params, "dense": PARAMS}
    probs = plot_decision_boundary(model, (params, state), X, Y, resolution=30)
    logits = plot_decision_boundary(LINEAR, (PARAMS, {}), X, Y, resolution=30)
    np.testing.assert_array_equal(shaded(probs), shaded(logits))
    _, _, gx, gy = numpy_grid(X, 30, 0.5)
    logit = 2 * gx - gy + 0.5
    shifted = plot_decision_boundary(LINEAR, (PARAMS, {}), X, Y, resolution=30, threshold=1.0)
    away = np.abs(logit - 1.0) > 1e-4
    np.testing.assert_array_equal(shaded(shifted)[away], (logit > 1.0)[away])


def test_several_logits_take_the_argmax_and_points_are_scattered_by_class():
    w = np.array([[1.0, -1.0, 0.0], [0.0, 0.5, 1.0]], np.float32)
    b = np.array([0.0, 0.2, -0.3], np.float32)
    y = np.argmax(X @ w + b, axis=-1)
    one_hot = np.eye(3, dtype=np.float32)[y]
    fig = plot_decision_boundary(
        Dense(3), ({"w": w, "b": b}, {}), X, one_hot, resolution=25, padding=1.0
    )
    _, _, gx, gy = numpy_grid(X, 25, 1.0)
    scores = np.stack([gx, gy], -1) @ w + b
    top2 = np.sort(scores, -1)
    away = top2[..., -1] - top2[..., -2] > 1e-4
    np.testing.assert_array_equal(shaded(fig)[away], np.argmax(scores, -1)[away])
    scatters = [c for c in fig.axes[0].collections if str(c.get_label()).startswith("class")]
    assert [c.get_label() for c in scatters] == [f"class {k}" for k in range(3) if (y == k).any()]
    for c in scatters:
        k = int(str(c.get_label()).split()[1])
        np.testing.assert_array_equal(c.get_offsets(), X[y == k])


def test_train_state_and_given_axes():
    ts = TrainState.create(LINEAR, jax.random.key(0), (-1, 2), optax.sgd(0.1))._replace(
        params=PARAMS
    )
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_decision_boundary(LINEAR, ts, X, Y, ax=ax, resolution=20) is fig
    expected = plot_decision_boundary(LINEAR, (PARAMS, {}), X, Y, resolution=20)
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), shaded(expected))


def test_errors():
    pair: tuple[dict, dict] = (PARAMS, {})
    with pytest.raises(
        ValueError, match=r"x must have shape \(N, 2\), two input features per point; got \(5, 3\)"
    ):
        plot_decision_boundary(LINEAR, pair, np.ones((5, 3)), Y)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\).*got \(2,\)"):
        plot_decision_boundary(LINEAR, pair, np.ones(2), Y)
    with pytest.raises(ValueError, match="y must have one class per point, 5; got 4"):
        plot_decision_boundary(LINEAR, pair, X, Y[:4])
    with pytest.raises(
        ValueError, match=r"y must be class ids in \[0, 2\); 1 of 5 are not: values \[2\]"
    ):
        plot_decision_boundary(LINEAR, pair, X, np.array([0, 1, 2, 0, 1]))
    with pytest.raises(
        TypeError,
        match=r"train_state must be a jaxnn.TrainState or a \(params, state\) pair; got dict",
    ):
        plot_decision_boundary(LINEAR, PARAMS, X, Y)
    with pytest.raises(TypeError, match="model must be a jaxnn Layer; got function"):
        plot_decision_boundary(lambda x: x, pair, X, Y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="resolution must be at least 2; got 1"):
        plot_decision_boundary(LINEAR, pair, X, Y, resolution=1)
    with pytest.raises(ValueError, match="padding must be a number >= 0; got -1"):
        plot_decision_boundary(LINEAR, pair, X, Y, padding=-1)
    with pytest.raises(ValueError, match="x holds NaN or Inf .first at row 1"):
        plot_decision_boundary(LINEAR, pair, np.array([[0, 0], [np.nan, 1]]), [0, 1])
    with pytest.raises(
        ValueError,
        match=r"the model's output for 4 grid points must have shape \(4,\), \(4, 1\) or \(4, K\); got \(4, 2, 1\)",
    ):
        plot_decision_boundary(jaxnn.lift(lambda x: x[:, :, None]), ({}, {}), X, Y, resolution=2)
