"""Shared helper for the viz tests: render a figure to PNG and check its pixels."""

from __future__ import annotations

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import imread  # noqa: E402

from jaxnn.viz import save_figure  # noqa: E402


@pytest.fixture(autouse=True)
def no_pyplot(monkeypatch):
    """Every viz test runs with pyplot unimportable: the plots must not touch its global state."""
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)


def check_rendered(fig, tmp_path, *, dpi=40, min_colors=8, min_std=0.05):
    """Renders ``fig`` through its canvas and through ``save_figure``; checks sizes and content.

    Returns the saved PNG's pixels ``(H, W, 4)`` in [0, 1].
    """
    assert isinstance(fig, Figure)
    width, height = fig.get_size_inches()
    # The canvas buffer: the figure's own dpi.
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    buffer = np.asarray(canvas.buffer_rgba())
    assert buffer.shape == (round(height * fig.dpi), round(width * fig.dpi), 4)
    # The file: figsize * dpi pixels.
    path = save_figure(fig, tmp_path / "figure.png", dpi=dpi)
    pixels = imread(path)
    assert pixels.shape == (round(height * dpi), round(width * dpi), 4)
    for image in (pixels, buffer / 255.0):
        rgb = image[..., :3].reshape(-1, 3)
        packed = np.round(rgb * 255).astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], np.uint32)
        distinct = np.unique(packed).size
        assert distinct > min_colors, f"only {distinct} colours: the figure looks blank"
        assert rgb.std() > min_std
    return pixels
