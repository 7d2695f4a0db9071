"""Decision regions of a 2-D classifier: :func:`plot_decision_boundary`."""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from jaxnn.core import Layer
from jaxnn.encoding import check_labels
from jaxnn.viz.figure import check_positive_int, class_ids, target

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_decision_boundary"]

_WHERE = "plot_decision_boundary"


def plot_decision_boundary(
    model: Layer,
    train_state: Any,
    x: Any,
    y: Any,
    *,
    ax: Axes | None = None,
    resolution: int = 200,
    padding: float = 0.5,
    threshold: float | None = None,
) -> Figure:
    r"""Shades the class a 2-D classifier predicts over the data's range and scatters the data.

    The model runs once, jit-compiled and in evaluation mode, on a ``resolution x resolution``
    grid spanning the points' range plus ``padding`` on each side. The class of a grid point is

    .. math:: \hat c = \begin{cases} \arg\max_k f(x)_k & f(x) \in \mathbb{R}^K,\ K \ge 2 \\
        [f(x) > t] & f(x) \in \mathbb{R} \text{ or } \mathbb{R}^1 \end{cases}

    with threshold :math:`t = 0.5` when every output on the grid lies in :math:`[0, 1]` (read as
    probabilities) and :math:`t = 0` otherwise (read as logits), unless ``threshold`` is given.

    Args:
        model: A classifier taking inputs ``(N, 2)``.
        train_state: A :class:`jaxnn.TrainState`, or a ``(params, state)`` pair.
        x: The points, ``(N, 2)``.
        y: Their classes: ids ``(N,)``/``(N, 1)`` or one-hot rows ``(N, K)``.
        ax: The Axes to draw into; default ``None``, a new 5.5 x 4.5 inch figure.
        resolution: Grid points along each axis (default 200, at least 2).
        padding: Margin added on every side of the points' range, in input units (default 0.5).
        threshold: For a model with one output, the class-1 threshold; default ``None``, chosen
            as above.

    Returns:
        The figure. The Axes shows the grid's classes as an image (``ax.images[0]``, row ``i``
        at ``y = ys[i]``, column ``j`` at ``x = xs[j]``, lower origin), the boundaries as
        contour lines, and one scatter per class present in ``y`` labelled ``class k``.

    Shapes:
        x: ``(N, 2)``; y: ``(N,)``, ``(N, 1)`` or ``(N, K)``; model output on the grid:
        ``(G,)``, ``(G, 1)`` or ``(G, K)`` with ``G = resolution ** 2``.

    Raises:
        TypeError: If ``model`` is not a Layer, ``train_state`` neither a TrainState nor a pair,
            or ``ax`` not an Axes.
        ValueError: If ``x`` is not ``(N, 2)`` finite numbers, ``y`` does not hold ``N`` class
            ids in ``[0, K)``, ``resolution`` or ``padding`` is out of range, or the model's
            output is not one of the shapes above.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxnn.layers import Dense
        >>> model = Dense(1)  # class 1 where x0 + x1 > 0
        >>> params = {"w": jnp.array([[1.0], [1.0]]), "b": jnp.zeros(1)}
        >>> x = jnp.array([[-1.0, -1.0], [1.0, 1.0]])
        >>> fig = plot_decision_boundary(model, (params, {}), x, jnp.array([0, 1]), resolution=5)
        >>> fig.axes[0].images[0].get_array().astype(int).tolist()[1]  # the row at y = -0.75
        [0, 0, 0, 0, 1]
    """
    if not isinstance(model, Layer):
        raise TypeError(f"{_WHERE}: model must be a jaxnn Layer; got {type(model).__name__}.")
    params, state = _params_and_state(train_state)
    points = _points(x)
    resolution = check_positive_int(resolution, where=_WHERE, arg="resolution")
    if resolution < 2:
        raise ValueError(f"{_WHERE}: resolution must be at least 2; got {resolution}.")
    if isinstance(padding, bool) or not isinstance(padding, int | float) or not padding >= 0:
        raise ValueError(f"{_WHERE}: padding must be a number >= 0; got {padding!r}.")
    xs, ys = (_axis(points[:, i], padding, resolution) for i in (0, 1))
    ids = class_ids(y, where=_WHERE, arg="y", scores=False)
    if ids.shape[0] != points.shape[0]:
        raise ValueError(
            f"{_WHERE}: y must have one class per point, {points.shape[0]}; got {ids.shape[0]}."
        )
    classes, k = _grid_classes(model, params, state, xs, ys, threshold)
    check_labels(ids, k, where=_WHERE, arg="y")
    fig, ax = target(_WHERE, ax, (5.5, 4.5))
    _draw(ax, xs, ys, classes, k, points, ids)
    return fig


def _params_and_state(train_state: Any) -> tuple[Any, Any]:
    if hasattr(train_state, "params") and hasattr(train_state, "state"):
        return train_state.params, train_state.state
    if isinstance(train_state, tuple | list) and len(train_state) == 2:
        return train_state[0], train_state[1]
    raise TypeError(
        f"{_WHERE}: train_state must be a jaxnn.TrainState or a (params, state) pair; got "
        f"{type(train_state).__name__}."
    )


def _points(x: Any) -> np.ndarray:
    try:
        points = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{_WHERE}: x must be an array of numbers; got {type(x).__name__}."
        ) from error
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(
            f"{_WHERE}: x must have shape (N, 2), two input features per point; got "
            f"{points.shape}. The decision boundary can only be drawn for 2-D inputs."
        )
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{_WHERE}: x holds NaN or Inf (first at row {_first_bad(points)}).")
    return points


def _first_bad(points: np.ndarray) -> int:
    return int(np.argwhere(~np.isfinite(points))[0][0])


def _axis(values: np.ndarray, padding: float, resolution: int) -> np.ndarray:
    lo, hi = float(values.min()) - padding, float(values.max()) + padding
    if math.isclose(lo, hi):  # all points equal and no padding: still show a unit square
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, resolution, dtype=np.float32)


def _grid_classes(
    model: Layer, params: Any, state: Any, xs: np.ndarray, ys: np.ndarray, threshold: float | None
) -> tuple[np.ndarray, int]:
    """The predicted class at every grid point ``(len(ys), len(xs))``, and the class count."""
    gx, gy = np.meshgrid(xs, ys)
    inputs = np.stack([gx.ravel(), gy.ravel()], axis=-1)
    out = np.asarray(_apply(params, state, inputs, model=model))
    g = inputs.shape[0]
    if out.shape in ((g,), (g, 1)):
        if threshold is None:
            threshold = 0.5 if bool(np.all((out >= 0) & (out <= 1))) else 0.0
        labels, k = (out.reshape(g) > threshold).astype(np.int64), 2
    elif out.ndim == 2 and out.shape[0] == g:
        labels, k = np.argmax(out, axis=-1), out.shape[1]
    else:
        raise ValueError(
            f"{_WHERE}: the model's output for {g} grid points must have shape ({g},), ({g}, 1) "
            f"or ({g}, K); got {out.shape}."
        )
    return labels.reshape(len(ys), len(xs)), k


@functools.partial(jax.jit, static_argnames=("model",))
def _apply(params: Any, state: Any, inputs: Any, *, model: Layer) -> Any:
    """The model's evaluation-mode output; jit caches it per model and grid size."""
    return model.apply(params, state, inputs)[0]


def _draw(
    ax: Axes,
    xs: np.ndarray,
    ys: np.ndarray,
    classes: np.ndarray,
    k: int,
    points: np.ndarray,
    ids: np.ndarray,
) -> None:
    from matplotlib.colors import ListedColormap, to_rgba

    colors = [f"C{c % 10}" for c in range(k)]
    dx, dy = (xs[1] - xs[0]) / 2, (ys[1] - ys[0]) / 2
    ax.imshow(
        classes,
        origin="lower",
        extent=(xs[0] - dx, xs[-1] + dx, ys[0] - dy, ys[-1] + dy),
        cmap=ListedColormap([to_rgba(c, 0.3) for c in colors]),
        vmin=-0.5,
        vmax=k - 0.5,
        interpolation="nearest",
        aspect="auto",
    )
    levels = [c + 0.5 for c in range(k - 1) if classes.min() <= c < classes.max()]
    if levels:
        ax.contour(xs, ys, classes, levels=levels, colors="black", linewidths=0.8)
    for c in range(k):
        mask = ids == c
        if mask.any():
            x0, x1 = points[mask, 0], points[mask, 1]
            ax.scatter(x0, x1, color=colors[c], edgecolors="black", s=20, label=f"class {c}")
    ax.set_title("decision regions (shaded) and data (dots)")
    ax.set_xlabel("x[:, 0] (input units)")
    ax.set_ylabel("x[:, 1] (input units)")
    ax.legend(loc="best", fontsize="small")
