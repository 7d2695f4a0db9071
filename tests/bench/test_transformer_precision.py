"""The `transformer` bench family (a causal language model) and the bench's precision policies."""

import jax
import optax
import pytest

from jaxnn.bench import (
    build,
    check_precision,
    compare,
    compiled_cost,
    estimate_memory,
    expand,
    load_grid,
    load_records,
    precision_of,
    resolve_precision,
    run_sweep,
    to_markdown,
)
from jaxnn.bench.families import VOCAB, activations_per_example, check_config
from jaxnn.bench.measure import SCHEMA_VERSION, _data
from jaxnn.bench.records import record_key
from jaxnn.train.state import TrainState
from jaxnn.train.step import make_train_step
from tests.cli.conftest import invoke

CPU = jax.devices("cpu")[0]
TINY = {"family": "transformer", "layers": 1, "width": 16, "heads": 2, "seq_len": 8, "batch": 4}


def _forward_matmul_flops(c):
    """By hand: per block Q, K, V, O (4 * 2 N T w^2), the MLP (2 * 2 N T w * 4w), the scores and
    the weighted values (2 * 2 N T^2 w, causal but computed whole); the head 2 N T w V."""
    n, t, w, layers = c["batch"], c["seq_len"], c["width"], c["layers"]
    return layers * (24 * n * t * w * w + 4 * n * t * t * w) + 2 * n * t * w * VOCAB


@pytest.mark.parametrize(
    "config",
    [
        {"family": "transformer", "layers": 2, "width": 64, "heads": 2, "seq_len": 32, "batch": 8},
        {"family": "transformer", "layers": 1, "width": 128, "heads": 4, "seq_len": 16, "batch": 4},
    ],
)
def test_transformer_train_step_flops_are_about_three_times_the_forward_matmuls(config):
    built = build(config)
    opt = optax.adam(1e-3)
    ts = TrainState.create(built.model, jax.random.key(0), built.x_shape, opt)
    batch = _data(built, config["batch"])
    assert batch[0].shape == batch[1].shape == built.x_shape  # ids in, a label per position
    assert int(batch[0].max()) < VOCAB and batch[0].dtype == batch[1].dtype == "int32"
    step = jax.jit(make_train_step(built.model, "softmax_cross_entropy", opt))
    flops = compiled_cost(step.lower(ts, batch).compile())["flops"]
    # Backward: the weight and input gradients of every matmul (the embedding table is
    # trained through its input's gradient), so 3x the forward; the rest is elementwise.
    matmuls = 3 * _forward_matmul_flops(config)
    assert matmuls < flops < 1.2 * matmuls


def test_transformer_config_checks_and_memory_estimate():
    check_config(TINY)
    with pytest.raises(
        ValueError, match="bench: transformer width 10 must be a multiple of heads 4"
    ):
        check_config({**TINY, "width": 10, "heads": 4})
    with pytest.raises(ValueError, match=r"takes the fields \['layers', 'width', 'heads', "
                       r"'seq_len', 'batch'\]"):  # fmt: skip
        check_config({"family": "transformer", "layers": 1})
    # params: embedding V*16 + positions 8*16 + one block + final norm + head 16*V + V
    block = 4 * 16 + 4 * (16 * 16 + 16) + 16 * 64 + 64 + 64 * 16 + 16
    params = VOCAB * 16 + 8 * 16 + block + 2 * 16 + 16 * VOCAB + VOCAB
    acts = 4 * activations_per_example(TINY)
    assert activations_per_example(TINY) == 8 * (16 + 12 * 16 + 2 * VOCAB) + 2 * 2 * 8 * 8
    assert estimate_memory(TINY, "float32") == 4 * (4 * params + 2 * acts)
    assert estimate_memory(TINY, "mixed_bfloat16") == 4 * 4 * params + 2 * 2 * acts
    assert estimate_memory(TINY, "bfloat16") == 2 * (4 * params + 2 * acts)


def test_precisions_and_the_older_dtype_names():
    assert [resolve_precision(p).name for p in ("float32", "bfloat16", "float16")] == [
        "float32", "bfloat16", "mixed_float16",
    ]  # fmt: skip
    check_precision("mixed_bfloat16", CPU)
    with pytest.raises(ValueError, match=r"precision 'mixed_float16' computes in float16, which "
                       r"backend 'cpu' does not; use one of float32, bfloat16, mixed_bfloat16"):  # fmt: skip
        check_precision("mixed_float16", CPU)
    with pytest.raises(ValueError, match="bench: unknown precision 'fp8'; known: float32"):
        resolve_precision("fp8")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """The tiny transformer in float32 and mixed_bfloat16, and bfloat16 by its older dtype name."""
    out = tmp_path_factory.mktemp("transformer")
    records = run_sweep([TINY], out=out, precisions=["float32", "mixed_bfloat16"],
                        dtypes=["bfloat16"], peak_size=128, bandwidth_mib=4, repeats=2)  # fmt: skip
    return out, records


@pytest.mark.slow
def test_a_sweep_records_each_precision_with_its_dtypes_and_tokens_per_second(sweep):
    out, records = sweep
    assert [(r["precision"], r["dtype"], r["param_dtype"]) for r in records] == [
        ("float32", "float32", "float32"),
        ("mixed_bfloat16", "bfloat16", "float32"),
        ("bfloat16", "bfloat16", "bfloat16"),
    ]
    for r in records:
        assert r["status"] == "ok" and r["schema"] == SCHEMA_VERSION == 2
        assert r["tokens_per_s"] == pytest.approx(4 * 8 / r["fit_step_s"])
        assert r["examples_per_s"] == pytest.approx(4 / r["fit_step_s"])
        assert r["flops"] > 3 * _forward_matmul_flops(TINY)
    assert len({record_key(r) for r in records}) == 3  # bfloat16 and mixed_bfloat16 apart
    # The compute dtypes' peaks: one matmul for float32, one shared by both bfloat16 policies.
    peaks = [r["peak_flop_per_s_measured"] for r in records]
    assert peaks[1] == peaks[2] and peaks[0] > 0
    # mixed_bfloat16 keeps float32 params: its step reads more parameter bytes than bfloat16's.
    assert records[1]["argument_bytes"] > records[2]["argument_bytes"]
    assert load_records(out / "bench.json") == records
    rows = to_markdown(records).splitlines()
    assert rows[0].startswith("| family | config | backend | precision |")
    assert rows[3].startswith(
        "| transformer | layers=1 width=16 heads=2 seq_len=8 batch=4 | cpu | mixed_bfloat16 |"
    )


@pytest.mark.slow
def test_schema_1_records_compare_with_schema_2_by_their_dtype(sweep):
    _, records = sweep
    old = [{k: v for k, v in r.items() if k not in ("precision", "param_dtype")}
           for r in records if r["precision"] == "float32"]  # fmt: skip
    assert precision_of(old[0]) == "float32"
    rows = compare(old, records)
    assert [row["key"] for row in rows] == [record_key(records[0])]
    assert rows[0]["precision"] == "float32" and rows[0]["fit_step_s_ratio"] == 1.0


def test_bench_precision_option_runs_each_policy_and_rejects_unknown_ones(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text("[fc]\nlayers = [1]\nwidth = [8]\nbatch = [4]\n")
    out = tmp_path / "out"
    result = invoke("bench", "--grid", grid, "--precision", "float32,mixed_bfloat16", "--dtype",
                    "float32", "--out", out, "--repeats", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    records = load_records(out / "bench.json")
    assert [r["precision"] for r in records] == ["float32", "mixed_bfloat16"]  # float32 once
    assert "| fc | layers=1 width=8 batch=4 | cpu | mixed_bfloat16 |" in result.stdout
    bad = invoke("bench", "--grid", grid, "--precision", "fp8", "--out", tmp_path / "b")
    assert bad.exit_code == 1
    assert ("unknown precision 'fp8'. Known precisions: bfloat16, float32, mixed_bfloat16, "
            "mixed_float16.") in bad.stderr  # fmt: skip
    gpu_only = invoke("bench", "--grid", grid, "--precision", "mixed_float16", "--out",
                      tmp_path / "c")  # fmt: skip
    assert gpu_only.exit_code == 1
    assert "precision 'mixed_float16' computes in float16, which backend 'cpu' does not" in (
        gpu_only.stderr
    )


def test_a_transformer_grid_file_loads(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(
        "[transformer]\nlayers = [1]\nwidth = [16]\nheads = [2]\nseq_len = [8]\nbatch = [4]\n"
    )
    assert expand(load_grid(grid)) == [TINY]
