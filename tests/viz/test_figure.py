"""Tests of jaxnn.viz.figure: save_figure, the lazy matplotlib import, figures outside pyplot."""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from jaxnn import viz
from jaxnn.viz import plot_confusion_matrix, plot_history, save_figure
from tests.viz.conftest import check_rendered


def small_figure():
    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [0, 1, 4], color="C3")
    ax.set_title("y = x^2")
    return fig


@pytest.mark.parametrize("dpi", [25, 50])
def test_png_has_figsize_times_dpi_pixels(tmp_path, dpi):
    path = save_figure(small_figure(), tmp_path / "sub" / "f.png", dpi=dpi)
    assert path == tmp_path / "sub" / "f.png"  # the missing folder was created
    assert imread(path).shape == (3 * dpi, 4 * dpi, 4)


def test_svg_and_pdf_by_suffix_and_reproducible(tmp_path):
    fig = small_figure()
    svg = save_figure(fig, tmp_path / "f.svg").read_bytes()
    pdf = save_figure(fig, tmp_path / "F.PDF").read_bytes()
    assert b"<svg" in svg[:2000] and pdf.startswith(b"%PDF")
    # No creation date: the same figure gives the same bytes.
    assert save_figure(fig, tmp_path / "g.svg").read_bytes() == svg
    assert save_figure(fig, tmp_path / "g.pdf").read_bytes() == pdf


def test_replaces_an_existing_file_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "f.png"
    path.write_bytes(b"old")
    save_figure(small_figure(), path, dpi=20)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]


def test_save_figure_errors(tmp_path):
    with pytest.raises(
        ValueError, match=r"path must end in one of \['.pdf', '.png', '.svg'\]; got '.*f.jpg'"
    ):
        save_figure(small_figure(), tmp_path / "f.jpg")
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure; got Axes"):
        save_figure(small_figure().axes[0], tmp_path / "f.png")
    with pytest.raises(ValueError, match="dpi must be a positive number; got 0"):
        save_figure(small_figure(), tmp_path / "f.png", dpi=0)
    assert list(tmp_path.iterdir()) == []


def test_figures_have_an_agg_canvas(tmp_path):
    fig = plot_history({"loss": [3.0, 2.0, 1.5], "val_loss": [3.5, 2.5, 2.0]})
    fig.canvas.draw()  # no pyplot, no GUI: the canvas is Agg's
    assert np.asarray(fig.canvas.buffer_rgba()).shape == (350, 450, 4)  # type: ignore[attr-defined]
    check_rendered(fig, tmp_path)


def test_bad_ax_is_a_type_error():
    with pytest.raises(
        TypeError, match="plot_confusion_matrix: ax must be a matplotlib Axes or None; got Figure"
    ):
        plot_confusion_matrix([0, 1], [0, 1], ax=small_figure())


def test_without_matplotlib_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(
        ImportError, match=r'plot_history needs matplotlib: pip install "jaxnn\[plot\]"'
    ):
        plot_history({"loss": [1.0]})
    with pytest.raises(
        ImportError, match=r'save_figure needs matplotlib: pip install "jaxnn\[plot\]"'
    ):
        save_figure(object(), "f.png")  # type: ignore[arg-type]


def test_import_does_not_import_matplotlib():
    code = (
        "import sys, jaxnn.viz; print(sorted(m for m in sys.modules if m.startswith('matplotlib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pyplot_is_blocked_in_these_tests():
    # conftest's autouse fixture: a plot that imported pyplot would fail every test here.
    with pytest.raises(ImportError):
        import matplotlib.pyplot  # noqa: F401


def test_figures_bring_their_own_png_for_jupyter():
    # Jupyter shows an object's _repr_png_; a plain Figure only draws inline after pyplot.
    fig = viz.plot_activations(["tanh"])
    png = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == tuple(round(v * fig.dpi) for v in fig.get_size_inches())
    assert repr(fig).startswith("<Figure size ")
