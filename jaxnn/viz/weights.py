"""Distributions in a model: :func:`plot_weight_histograms`, :func:`plot_activation_histograms`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from jaxnn.core import Layer
from jaxnn.models import OUTPUT_KEY, intermediates
from jaxnn.paths import leaves_with_paths
from jaxnn.types import Params, State
from jaxnn.viz.figure import check_positive_int, grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_activation_histograms", "plot_weight_histograms"]


def plot_weight_histograms(params: Params, *, bins: int = 30) -> Figure:
    """One histogram per parameter array, titled with its path, shape, mean and std.

    Args:
        params: A model's params (a nested dict, e.g. ``TrainState.params``).
        bins: Bins per histogram, over the array's range (default 30).

    Returns:
        The figure, one Axes per array in path order (``dense/b``, ``dense/w`` ...), four to a
        row; the bars of each count every finite entry once (NaN and Inf are left out and
        counted in the title).

    Raises:
        ValueError: If ``params`` holds no arrays or ``bins`` is not a positive int.

    Example:
        >>> import jax
        >>> from jaxnn.layers import Dense
        >>> _, params, _ = Dense(3).init(jax.random.key(0), (-1, 4))
        >>> fig = plot_weight_histograms(params, bins=5)
        >>> [ax.get_title().split()[0] for ax in fig.axes]
        ['b', 'w']
        >>> int(sum(bar.get_height() for bar in fig.axes[1].patches))  # the 4 x 3 kernel
        12
    """
    where = "plot_weight_histograms"
    bins = check_positive_int(bins, where=where, arg="bins")
    entries = leaves_with_paths(params)
    if not entries:
        raise ValueError(f"{where}: params holds no arrays; got {params!r}.")
    return _histograms(where, entries, bins, "parameter value", "parameter distributions")


def plot_activation_histograms(
    model: Layer, params: Params, state: State, x: Any, *, bins: int = 30
) -> Figure:
    """One histogram per layer output for the input ``x``, in evaluation mode.

    The outputs come from :func:`jaxnn.intermediates` (one compiled call). The model's own
    output (``"output"``) is left out when it repeats the last layer's, i.e. unless it is the
    only entry; a layer returning a pytree gets one histogram per leaf (``path/leaf``).

    Args:
        model: The model.
        params: Its params (``TrainState.params``).
        state: Its state (``TrainState.state``).
        x: A batch of inputs with a batch axis.
        bins: Bins per histogram (default 30).

    Returns:
        The figure, one Axes per layer path, parents before children, four to a row.

    Raises:
        ValueError: If ``bins`` is not a positive int, or from :func:`jaxnn.intermediates`
            when params or state do not fit the model.
        TypeError: If ``model`` is not a Layer.

    Example:
        >>> import jax, jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense
        >>> model = jaxnn.serial(Dense(3), jnp.tanh)
        >>> _, params, state = model.init(jax.random.key(0), (-1, 2))
        >>> fig = plot_activation_histograms(model, params, state, jnp.ones((10, 2)), bins=4)
        >>> [ax.get_title().split()[0] for ax in fig.axes]
        ['dense', 'tanh']
        >>> int(sum(bar.get_height() for bar in fig.axes[1].patches))  # 10 samples x 3 units
        30
    """
    where = "plot_activation_histograms"
    bins = check_positive_int(bins, where=where, arg="bins")
    outputs = intermediates(model, params, state, x)
    if len(outputs) > 1:
        outputs.pop(OUTPUT_KEY, None)
    entries = [
        ("/".join(p for p in (path, leaf_path) if p), leaf)
        for path, out in outputs.items()
        for leaf_path, leaf in leaves_with_paths(out)
    ]
    return _histograms(where, entries, bins, "activation value", "layer output distributions")


def _histograms(
    where: str, entries: list[tuple[str, Any]], bins: int, xlabel: str, title: str
) -> Figure:
    fig, axes = grid(where, len(entries), ncols=4, panel=(3.2, 2.6))
    for (path, leaf), ax in zip(entries, axes, strict=True):
        array = np.asarray(leaf)
        values = array.astype(np.float64).ravel()
        finite = values[np.isfinite(values)]
        ax.hist(finite, bins=bins, color="C0")
        stats = f"mean {finite.mean():.3g}, std {finite.std():.3g}" if finite.size else "empty"
        if finite.size < values.size:
            stats += f", {values.size - finite.size} non-finite left out"
        ax.set_title(f"{path} {tuple(array.shape)}\n{stats}", fontsize="small")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count")
    fig.suptitle(title)
    return fig
