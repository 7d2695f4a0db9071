"""Tests of jaxnn.bench and `jaxnn bench`: FLOP counts by hand, a fake clock, records, errors."""

import csv
import io
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.bench import (
    QUICK,
    add_speedups,
    build,
    compare,
    compiled_cost,
    estimate_memory,
    expand,
    load_grid,
    load_records,
    run_sweep,
    save_records,
    time_calls,
    to_csv,
    to_markdown,
    vendor_peak_flops,
)
from jaxnn.bench.families import FAMILIES, FEATURES, NUM_CLASSES, VOCAB
from jaxnn.bench.sweep import check_dtype, resolve_backends
from jaxnn.layers import Dense
from tests.cli.conftest import invoke

CPU = jax.devices("cpu")[0]
FC = {"family": "fc", "layers": 1, "width": 64, "batch": 256}  # matmuls dominate the FLOPs


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A tiny sweep (one fc model on the CPU), shared by the tests that read its records."""
    out = tmp_path_factory.mktemp("sweep")
    seen = []
    records = run_sweep(
        [FC], out=out, peak_size=256, bandwidth_mib=8, repeats=2, progress=seen.append
    )
    return out, records, seen


# FLOP counts against hand formulas -------------------------------------------------------------


def test_dense_forward_flops_are_2_n_din_dout():
    n, d_in, d_out = 32, 64, 48
    layer = Dense(d_out, use_bias=False)
    _, params, state = layer.init(jax.random.key(0), (n, d_in))
    x = jnp.ones((n, d_in))
    compiled = jax.jit(lambda p, x: layer.apply(p, state, x)[0]).lower(params, x).compile()
    assert compiled_cost(compiled)["flops"] == 2 * n * d_in * d_out


def test_train_step_flops_are_about_three_times_the_forward_matmuls(sweep):
    _, records, _ = sweep
    fc = next(r for r in records if r["family"] == "fc")
    n, w = FC["batch"], FC["width"]
    first, last = 2 * n * FEATURES * w, 2 * n * w * NUM_CLASSES  # forward matmuls
    # Backward: the weight gradients of both layers and the input gradient of the last one
    # (the data needs none): 3x the forward except the first layer's input gradient.
    matmuls = 3 * (first + last) - first
    assert 3 * (first + last) > fc["flops"] > matmuls
    assert fc["flops"] == pytest.approx(matmuls, rel=0.1)  # the rest is elementwise (Adam ...)


# Timing with a fake clock ----------------------------------------------------------------------


def test_time_calls_takes_the_median_of_the_timed_runs_after_warmup():
    ticks = iter([0.0, 0.5, 1.0, 1.1, 2.0, 2.3, 5.0, 5.2])
    calls = []
    timing = time_calls(lambda: calls.append(1), warmup=2, repeats=4, clock=lambda: next(ticks))
    assert len(calls) == 6  # 2 untimed + 4 timed
    assert timing.times == pytest.approx((0.5, 0.1, 0.3, 0.2))
    assert timing.median == pytest.approx(0.25)
    assert (timing.min, timing.max) == pytest.approx((0.1, 0.5))
    assert timing.spread == pytest.approx(0.4 / 0.25)


@pytest.mark.parametrize(("warmup", "repeats", "match"), [(-1, 3, "warmup"), (0, 0, "repeats")])
def test_time_calls_rejects_bad_counts(warmup, repeats, match):
    with pytest.raises(ValueError, match=f"time_calls: {match} must be an int"):
        time_calls(lambda: None, warmup=warmup, repeats=repeats)


# The sweep's records ------------------------------------------------------------------------


def test_sweep_records_hold_consistent_figures(sweep):
    out, records, seen = sweep
    assert [r["family"] for r in records] == ["fc"]
    assert seen == records  # the progress callback saw each record once
    for r in records:
        assert r["status"] == "ok" and r["backend"] == "cpu" and r["precision"] == "float32"
        assert r["examples_per_s"] == pytest.approx(r["config"]["batch"] / r["fit_step_s"])
        assert r["flop_per_s"] == pytest.approx(r["flops"] / r["fit_step_s"])
        assert r["utilisation"] == pytest.approx(r["flop_per_s"] / r["peak_flop_per_s_measured"])
        assert r["intensity"] == pytest.approx(r["flops"] / r["bytes_accessed"])
        peak, bandwidth = r["peak_flop_per_s_measured"], r["peak_bytes_per_s_measured"]
        assert bandwidth > 0 and r["ridge_intensity"] == pytest.approx(peak / bandwidth)
        assert r["memory_bound"] == (r["intensity"] < peak / bandwidth)
        roof = min(peak, bandwidth * r["intensity"])
        assert r["utilisation_roofline"] == pytest.approx(r["flop_per_s"] / roof)
        assert r["fit_step_s_min"] <= r["fit_step_s"] <= r["fit_step_s_max"]
        assert r["speedup_vs_cpu"] == 1.0
        assert r["versions"]["jax"] == jax.__version__
    assert load_records(out / "bench.json") == records


def test_resume_keeps_the_records_and_measures_nothing_done(sweep, tmp_path):
    out, records, seen = sweep
    assert [r["family"] for r in seen] == ["fc"]  # the first run measured it
    save_records(tmp_path / "bench.json", records)  # as if interrupted after it
    seen_again = []
    resumed = run_sweep([FC], out=tmp_path, peak_size=64, resume=True,
                        progress=seen_again.append)  # fmt: skip
    assert resumed == records
    assert seen_again == []


def test_a_configuration_too_large_for_memory_is_skipped_with_a_reason(tmp_path):
    need = estimate_memory(FC, "float32")
    records = run_sweep([FC], out=tmp_path, peak_size=64, memory_limit=need - 1)
    assert records[0]["status"] == "skipped"
    assert f"needs about {need / 2**20:.0f} MiB" in records[0]["reason"]
    assert "fit_step_s" not in records[0]


def test_an_existing_record_file_needs_resume(sweep):
    out, _, _ = sweep
    with pytest.raises(ValueError, match=r"exists; pass resume=True \(--resume\) to continue it, "
                       r"or overwrite=True \(--overwrite\) to start again"):  # fmt: skip
        run_sweep([FC], out=out)
    with pytest.raises(ValueError, match="resume=True continues a sweep, overwrite=True starts"):
        run_sweep([FC], out=out, resume=True, overwrite=True)


def test_overwrite_starts_again_and_replaces_the_records(sweep, tmp_path):
    _, records, _ = sweep
    save_records(tmp_path / "bench.json", records)
    new = run_sweep([FC], out=tmp_path, peak_size=64, overwrite=True, memory_limit=1)
    assert [r["status"] for r in new] == ["skipped"]  # measured again (here: skipped), not kept
    assert load_records(tmp_path / "bench.json") == new


def test_csv_and_markdown_hold_every_record(sweep):
    _, records, _ = sweep
    rows = list(csv.DictReader(io.StringIO(to_csv(records))))
    assert [row["family"] for row in rows] == ["fc"]
    assert float(rows[0]["flops"]) == records[0]["flops"]
    assert rows[0]["config.width"] == "64" and rows[0]["versions.jax"] == jax.__version__
    lines = to_markdown(records).splitlines()
    assert len(lines) == 2 + len(records)
    assert lines[2].startswith("| fc | layers=1 width=64 batch=256 | cpu | float32 |")  # precision
    assert f"| {records[0]['fit_step_s'] * 1e3:.3g} |" in lines[2]


def test_speedups_divide_the_cpu_time_by_each_backends_time():
    base = {"status": "ok", "family": "fc", "config": {"batch": 2}, "dtype": "float32"}
    records = [
        dict(base, backend="cpu", fit_step_s=3.0),
        dict(base, backend="gpu", fit_step_s=0.25),
    ]
    records.append(dict(base, backend="gpu", dtype="bfloat16", fit_step_s=0.1))  # no CPU twin
    add_speedups(records)
    assert [r.get("speedup_vs_cpu") for r in records] == [1.0, 12.0, None]


def test_compare_gives_ratios_of_matching_configurations():
    base = {"status": "ok", "family": "fc", "config": {"batch": 2}, "dtype": "float32",
            "backend": "cpu", "compile_s": 1.0, "flop_per_s": None}  # fmt: skip
    a = [dict(base, fit_step_s=2.0, examples_per_s=1.0), dict(base, config={"batch": 4})]
    b = [dict(base, fit_step_s=0.5, examples_per_s=4.0, compile_s=3.0)]
    rows = compare(a, b)
    assert len(rows) == 1  # batch=4 is in A only
    row = rows[0]
    assert (row["fit_step_s_ratio"], row["examples_per_s_ratio"]) == (0.25, 4.0)
    assert (row["compile_s_ratio"], row["flop_per_s_ratio"]) == (3.0, None)


# Families, grids and hardware tables ------------------------------------------------------------


def _product_operand_dtypes(jaxpr):
    """The operand dtypes of every dot_general and convolution, inside scans and calls too."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in ("dot_general", "conv_general_dilated"):
            found += [v.aval.dtype for v in eqn.invars]
        for param in eqn.params.values():  # scan's and jit's jaxpr, cond's branches
            for inner in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(inner, "jaxpr", inner)
                if hasattr(inner, "eqns"):
                    found += _product_operand_dtypes(inner)
    return found


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_builds_logits_for_its_batch_and_computes_in_the_policy(family):
    config = expand(QUICK, [family])[0]
    built = build(config)
    shapes = []

    def init(key):  # shapes only: nothing is drawn or compiled
        out_shape, params, state = built.model.init(key, built.x_shape)
        shapes.append(out_shape)
        return params, state

    params, state = jax.eval_shape(init, jax.random.key(0))
    out_shape = shapes[0]
    if family == "transformer":  # next-token logits at every position
        assert built.tokens and out_shape == (config["batch"], config["seq_len"], VOCAB)
        assert built.y_shape == built.x_shape == (config["batch"], config["seq_len"])
    else:
        assert not built.tokens and out_shape == (config["batch"], NUM_CLASSES)
        assert built.y_shape == (config["batch"],)
    assert built.x_shape[0] == config["batch"]
    x = jax.ShapeDtypeStruct(built.x_shape, jnp.int32 if built.tokens else jnp.float32)
    y = jax.eval_shape(lambda p, x: built.model.apply(p, state, x)[0], params, x)
    assert y.dtype == jnp.float32 and y.shape == out_shape
    # Under mixed_bfloat16 every matmul and convolution takes bfloat16 operands (attention may
    # accumulate its scores in float32), the logits are float32 and the parameters stay float32.
    mixed = build(config, "mixed_bfloat16").model
    jaxpr = jax.make_jaxpr(lambda p, x: mixed.apply(p, state, x)[0])(params, x)
    operands = _product_operand_dtypes(jaxpr.jaxpr)
    assert operands and set(operands) == {jnp.dtype(jnp.bfloat16)}
    assert jaxpr.out_avals[0].dtype == jnp.float32
    assert all(a.dtype == jnp.float32 for a in jax.tree.leaves(params))


def test_quick_grid_covers_every_family():
    assert {c["family"] for c in expand(QUICK)} == set(FAMILIES)


def test_estimate_memory_counts_params_four_times_and_activations_twice():
    config = {"family": "fc", "layers": 2, "width": 8, "batch": 3}
    params = (FEATURES * 8 + 8) + (8 * 8 + 8) + (8 * NUM_CLASSES + NUM_CLASSES)
    activations = 3 * (FEATURES + 2 * 8 + NUM_CLASSES)
    assert estimate_memory(config, "bfloat16") == 2 * (4 * params + 2 * activations)


def test_vendor_peaks_match_by_device_kind():
    assert vendor_peak_flops("NVIDIA H100 80GB HBM3", "bfloat16") == 989e12
    assert vendor_peak_flops("NVIDIA A10G", "float32") == 31.2e12  # not the A100's figure
    assert vendor_peak_flops("TPU v4", "float32") is None
    assert vendor_peak_flops("cpu", "bfloat16") is None


def test_a_grid_file_loads(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text("[fc]\nlayers = [1, 2]\nwidth = [8]\nbatch = [4]\n")
    assert [c["layers"] for c in expand(load_grid(path))] == [1, 2]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[fc]\nlayers = [1\nwidth = [8]\n", r"does not parse: .*line 3"),
        ("[mlp]\nlayers = [1]\n", "unknown model family 'mlp'; known: attention, cnn"),
        ("[fc]\nlayers = [1]\nwidth = [8]\n", r"takes the fields \['layers', 'width', 'batch'\]"),
        ("[fc]\nlayers = [0]\nwidth = [8]\nbatch = [2]\n", "'layers' must be a positive integer"),
        ("fc = 3\n", "must be a table like"),
    ],
)
def test_a_bad_grid_file_is_a_clear_error(tmp_path, text, match):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_grid(path)


def test_unknown_backend_and_dtypes_the_backend_lacks_are_errors():
    with pytest.raises(ValueError, match="backend 'tpu9' is not present; present: cpu"):
        resolve_backends(["tpu9"])
    with pytest.raises(ValueError, match="unknown dtype 'float8'; known: bfloat16"):
        check_dtype("float8", CPU)
    with pytest.raises(ValueError, match="'cpu' does not compute in float16"):
        check_dtype("float16", CPU)


# The command ------------------------------------------------------------------------------------


def _write(path, records):
    path.write_text(json.dumps({"records": records}))
    return path


def test_bench_compare_prints_ratios(tmp_path):
    base = {"status": "ok", "family": "fc", "config": {"batch": 2}, "dtype": "float32",
            "backend": "cpu"}  # fmt: skip
    a = _write(tmp_path / "a.json", [dict(base, fit_step_s=2.0)])
    b = _write(tmp_path / "b.json", [dict(base, fit_step_s=1.0)])
    result = invoke("bench", "compare", a, b)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2] == "| fc batch=2 float32 cpu | 0.5 |  |  |  |  |"
    assert not (tmp_path / "out").exists()  # files only with --out


def test_bench_compare_out_writes_the_table_and_a_ratio_heat_map_per_family(tmp_path):
    base = {"status": "ok", "family": "fc", "dtype": "float32", "backend": "cpu"}
    configs = [{"layers": 1, "width": w, "batch": b} for w in (8, 16) for b in (2, 4)]
    a = _write(tmp_path / "a.json", [dict(base, config=c, examples_per_s=10.0) for c in configs])
    b = _write(tmp_path / "b.json", [dict(base, config=c, examples_per_s=c["width"] * 1.0)
                                     for c in configs])  # fmt: skip
    result = invoke("bench", "compare", a, b, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    table = (tmp_path / "out" / "compare.md").read_text()
    assert table.splitlines()[2] == "| fc batch=2 layers=1 width=8 float32 cpu |  | 0.8 |  |  |  |"
    heat_map = tmp_path / "out" / "compare-fc.png"
    assert heat_map.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(heat_map) in result.stdout


def test_bench_compare_of_unrelated_runs_is_an_error(tmp_path):
    a = _write(tmp_path / "a.json", [])
    result = invoke("bench", "compare", a, a)
    assert result.exit_code == 1
    assert "share no measured configuration" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--family", "mlp"],
            "unknown model family 'mlp'. Known families: attention, cnn, fc, gru",
        ),
        (["--dtype", "float8"], "Known dtypes: bfloat16, float16, float32."),
        (
            ["--dtype", "float16"],
            "precision 'mixed_float16' computes in float16, which backend 'cpu' does not",
        ),  # fmt: skip
        (["--backend", "gpu9"], "backend 'gpu9' is not present; present: cpu"),
        (["--quick", "--grid", "g.toml"], "give --quick or --grid, not both"),
    ],
)
def test_bench_bad_input_is_one_line_and_exit_code_1(args, message, tmp_path):
    result = invoke("bench", *args, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_bench_runs_a_grid_file_and_lists_its_files(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text("[fc]\nlayers = [1]\nwidth = [8]\nbatch = [4]\n")
    result = invoke("bench", "--grid", grid, "--out", tmp_path / "out", "--repeats", "1")
    assert result.exit_code == 0, result.output
    records = load_records(tmp_path / "out" / "bench.json")
    assert [(r["family"], r["config"]) for r in records] == [
        ("fc", {"layers": 1, "width": 8, "batch": 4})
    ]
    assert (tmp_path / "out" / "bench.md").read_text().strip() == to_markdown(records)
    assert result.stdout.splitlines()[2].startswith("| fc | layers=1 width=8 batch=4 | cpu |")
    assert str(tmp_path / "out" / "bench.csv") in result.stdout
    assert np.isfinite(records[0]["flops"])
    assert "no speedup heat map: only the CPU was measured" in result.stderr
    for plot in ("roofline.png", "throughput.png"):  # drawn from the records
        assert (tmp_path / "out" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(tmp_path / "out" / plot) in result.stdout
