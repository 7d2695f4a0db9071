"""Figures without pyplot: the lazy matplotlib import, new figures and grids, :func:`save_figure`.

Every plot in :mod:`jaxnn.viz` builds a :class:`matplotlib.figure.Figure` directly with an Agg
canvas attached, so nothing touches pyplot's global figure list, no GUI backend starts, and
``fig.canvas.buffer_rgba()`` works after ``fig.canvas.draw()``. matplotlib is imported only
when a plot is drawn: ``import jaxnn.viz`` stays cheap and works without it.
"""

from __future__ import annotations

import functools
import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxnn.checkpoint import write_atomic
from jaxnn.encoding import check_labels

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["save_figure"]

_FORMATS = ("pdf", "png", "svg")
# Leave out the creation date so that the same figure always gives the same bytes.
_METADATA: dict[str, dict[str, Any]] = {
    "pdf": {"CreationDate": None},
    "png": {},
    "svg": {"Date": None},
}


def require_matplotlib(where: str) -> None:
    """Imports matplotlib, or raises an ImportError that says how to install it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError(f'{where} needs matplotlib: pip install "jaxnn[plot]".') from error


@functools.cache
def _inline_figure_class() -> type:
    """The matplotlib Figure with ``_repr_png_``: shown inline by Jupyter without pyplot.

    Jupyter draws a plain Figure only once pyplot's inline backend is set up (``import
    matplotlib.pyplot``); a jaxnn figure never touches pyplot, so it brings its own PNG.
    """
    from matplotlib import figure

    class Figure(figure.Figure):  # the same name, so that it prints as <Figure size ...>
        def _repr_png_(self) -> bytes:
            out = io.BytesIO()
            self.savefig(out, format="png", dpi=self.dpi)
            return out.getvalue()

    return Figure


def new_figure(where: str, figsize: tuple[float, float]) -> Figure:
    """A Figure with an Agg canvas and constrained layout, outside pyplot; inline in Jupyter."""
    require_matplotlib(where)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _inline_figure_class()(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def grid(
    where: str, n: int, *, ncols: int, panel: tuple[float, float]
) -> tuple[Figure, list[Axes]]:
    """A new figure with ``n`` Axes in rows of ``ncols``, each ``panel`` inches (width, height)."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = new_figure(where, (panel[0] * ncols, panel[1] * nrows))
    return fig, [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)]


def target(where: str, ax: Any, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``(figure, ax)`` for the given Axes, or a new figure with one Axes when ``ax`` is None."""
    require_matplotlib(where)
    from matplotlib.axes import Axes

    if ax is None:
        fig = new_figure(where, figsize)
        return fig, fig.add_subplot()
    if not isinstance(ax, Axes):
        raise TypeError(f"{where}: ax must be a matplotlib Axes or None; got {type(ax).__name__}.")
    return ax.figure.figure, ax  # a SubFigure's .figure is the root Figure


def check_positive_int(value: Any, *, where: str, arg: str) -> int:
    """``value`` as an int, or a ValueError/TypeError naming ``arg``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{where}: {arg} must be a positive int; got {value!r}.")
    if value < 1:
        raise ValueError(f"{where}: {arg} must be a positive int; got {value}.")
    return int(value)


def class_ids(
    values: Any, *, where: str, arg: str, scores: bool, num_classes: int | None = None
) -> np.ndarray:
    """Integer class ids ``(N,)`` from ids, one-hot rows or (with ``scores``) model outputs.

    Integer ids ``(N,)``/``(N, 1)`` are kept (floats with integral values too) and checked to lie
    in ``[0, num_classes)`` (``num_classes`` default: any non-negative id). Rows ``(N, K)`` with
    ``K >= 2`` become their argmax (one-hot labels, logits or probabilities). With
    ``scores=True``, float ``(N,)``/``(N, 1)`` values are probabilities of class 1 (``> 0.5``),
    as :mod:`jaxnn.metrics` reads them.
    """
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] >= 2:
        ids = np.argmax(array, axis=-1)
        if num_classes is not None:
            check_labels(ids, num_classes, where=where, arg=arg)
        return ids
    if array.ndim not in (1, 2) or (array.ndim == 2 and array.shape[1] != 1):
        raise ValueError(
            f"{where}: {arg} must be class ids (N,), (N, 1) or rows (N, K); got {array.shape}."
        )
    array = array.reshape(-1)
    if scores and array.dtype.kind == "f":
        return (array > 0.5).astype(np.int64)
    if num_classes is None:
        numeric = array.dtype.kind in "iufb"
        finite = array[np.isfinite(array)] if numeric else array[:0]
        num_classes = int(finite.max(initial=0)) + 1 if numeric else 1
    check_labels(array, num_classes, where=where, arg=arg)
    return array.astype(np.int64)


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: float = 100) -> Path:
    r"""Writes ``fig`` to a PNG, SVG or PDF file atomically (temp file, then rename).

    The format comes from the file's suffix. A PNG is ``figsize * dpi`` pixels; the SVG and PDF
    carry no creation date, so the same figure gives the same bytes.

    Args:
        fig: The figure, e.g. from :func:`plot_history`.
        path: The file to write, ending in ``.png``, ``.svg`` or ``.pdf``; missing folders are
            created; an existing file is replaced (only once the new one is complete).
        dpi: Dots per inch for raster output (default 100).

    Returns:
        The path written, as a :class:`~pathlib.Path`.

    Raises:
        TypeError: If ``fig`` is not a matplotlib Figure.
        ValueError: For another suffix, or a ``dpi`` that is not positive.
        OSError: If the folder cannot be written.

    Example:
        >>> import tempfile, os
        >>> from jaxnn.viz import plot_history
        >>> fig = plot_history({"loss": [1.0, 0.5]})
        >>> path = save_figure(fig, os.path.join(tempfile.mkdtemp(), "loss.png"), dpi=50)
        >>> path.read_bytes()[:4], path.suffix
        (b'\x89PNG', '.png')
    """
    where = "save_figure"
    require_matplotlib(where)
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise TypeError(f"{where}: fig must be a matplotlib Figure; got {type(fig).__name__}.")
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise ValueError(
            f"{where}: path must end in one of {['.' + f for f in _FORMATS]}; got {str(path)!r}."
        )
    if isinstance(dpi, bool) or not isinstance(dpi, int | float) or not dpi > 0:
        raise ValueError(f"{where}: dpi must be a positive number; got {dpi!r}.")
    import matplotlib

    buffer = io.BytesIO()
    # A fixed salt makes the SVG's clip-path ids the same on every save (for this call only).
    with matplotlib.rc_context({"svg.hashsalt": "jaxnn"}):
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
    write_atomic(path, buffer.getvalue())
    return path
