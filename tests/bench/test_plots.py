from pathlib import Path

import numpy as np
import pytest

from jaxnn.bench import load_records
from jaxnn.bench.plots import plot_roofline, plot_speedup, plot_throughput, speedup_grids
from jaxnn.bench.sweep import add_speedups

RECORDS = load_records(Path(__file__).parents[2] / "docs" / "data" / "bench-cpu.json")


def _pixels(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3]


def test_the_roofline_has_a_point_per_measured_run_and_the_measured_peak_as_roof():
    fig = plot_roofline(RECORDS)
    ax = fig.axes[0]
    measured = [r for r in RECORDS if r["status"] == "ok" and r.get("intensity")]
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(offsets) == len(measured) > 0
    np.testing.assert_allclose(
        sorted(offsets[:, 1]), sorted(r["flop_per_s"] / 1e9 for r in measured)
    )
    roof = max(r["peak_flop_per_s_measured"] for r in measured) / 1e9
    assert ax.lines[0].get_ydata()[0] == pytest.approx(roof)
    pixels = _pixels(fig)
    assert pixels.shape[0] > 300 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20


def test_the_measured_bandwidth_is_a_roof_of_slope_one_that_meets_the_peak_at_the_ridge():
    bandwidth = 20e9  # bytes/s
    records = [{**r, "peak_bytes_per_s_measured": bandwidth} for r in RECORDS]
    ax = plot_roofline(records).axes[0]
    dotted = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert len(dotted) == len({r["backend"] for r in records if r["status"] == "ok"})
    (x0, x1), (y0, y1) = dotted[0].get_xdata(), dotted[0].get_ydata()
    np.testing.assert_allclose([y0 / x0, y1 / x1], [bandwidth / 1e9] * 2)  # GFLOP/s = GB/s x I
    peak = max(r["peak_flop_per_s_measured"] for r in records if r["status"] == "ok") / 1e9
    assert y1 == pytest.approx(peak) and x1 == pytest.approx(peak / (bandwidth / 1e9))
    assert "memory 20.0 GB/s" in dotted[0].get_label()


def test_throughput_draws_one_line_per_configuration_sorted_by_batch():
    fig = plot_throughput(RECORDS)
    lines = fig.axes[0].lines
    assert len(lines) >= 2
    for line in lines:
        batches = line.get_xdata()
        assert list(batches) == sorted(batches)
    assert len(np.unique(_pixels(fig).reshape(-1, 3), axis=0)) > 20


def test_records_without_measured_runs_are_refused():
    skipped = [{**RECORDS[0], "status": "skipped"}]
    with pytest.raises(ValueError, match="plot_roofline: records must hold at least one measured"):
        plot_roofline(skipped)
    with pytest.raises(ValueError, match="plot_throughput: records must hold at least one"):
        plot_throughput([])


def _with_a_faster_twin(records, factor):
    """The CPU records plus a 'gpu' copy of each fc run whose step takes ``factor(config)`` less."""
    fc = [r for r in records if r["status"] == "ok" and r["family"] == "fc"]
    twins = [dict(r, backend="gpu", fit_step_s=r["fit_step_s"] / factor(r["config"])) for r in fc]
    both = [dict(r) for r in fc] + twins
    add_speedups(both)
    return fc, both


def test_speedup_grids_hold_the_cpu_step_over_the_backend_step_per_width_and_batch():
    fc, both = _with_a_faster_twin(RECORDS, lambda c: c["width"] / 64 + c["batch"] / 1000)
    grids = speedup_grids(both, "fc")
    layers = sorted({r["config"]["layers"] for r in fc})
    assert list(grids) == [f"layers={n} (gpu float32)" for n in layers]  # the CPU left out
    widths, batches, values = grids[f"layers={layers[0]} (gpu float32)"]
    assert widths == sorted({r["config"]["width"] for r in fc})
    assert batches == sorted({r["config"]["batch"] for r in fc})
    expected = np.array([[w / 64 + b / 1000 for b in batches] for w in widths])
    np.testing.assert_allclose(values, expected, rtol=1e-12)


def test_the_speedup_heat_map_draws_one_panel_per_group_with_a_label_per_cell():
    _, both = _with_a_faster_twin(RECORDS, lambda c: 0.5 if c["batch"] < 100 else 4.0)
    fig = plot_speedup(both, "fc")
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    grids = speedup_grids(both, "fc")
    assert len(panels) == len(grids)
    image = panels[0].images[0]
    np.testing.assert_allclose(image.get_array(), next(iter(grids.values()))[2])
    assert image.norm.vmin == pytest.approx(1 / 4) and image.norm.vmax == pytest.approx(4)
    texts = {t.get_text() for t in panels[0].texts}
    assert texts == {"0.5x", "4x"}
    pixels = _pixels(fig)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20


def test_a_speedup_needs_a_second_backend_and_a_known_family():
    with pytest.raises(ValueError, match="plot_speedup: no measured fc record has speedup_vs_cpu"):
        plot_speedup(RECORDS, "fc")  # the CPU alone
    with pytest.raises(ValueError, match="family must be one of .*; got 'mlp'"):
        speedup_grids(RECORDS, "mlp")


def test_a_narrow_speedup_range_still_labels_both_ends_and_1x():
    _, both = _with_a_faster_twin(RECORDS, lambda c: 0.9 if c["batch"] < 100 else 1.2)
    fig = plot_speedup(both, "fc")
    bar = next(ax for ax in fig.axes if ax.get_label() == "<colorbar>")
    fig.canvas.draw()
    labels = [t.get_text() for t in bar.yaxis.get_ticklabels()]
    assert labels == ["0.83x", "1x", "1.2x"]  # 1/1.2, 1 and 1.2: the ends of the log scale
