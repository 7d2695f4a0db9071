"""Tests of jaxnn.models.summary: counts by hand, XLA FLOPs by hand formula, table outputs."""

from __future__ import annotations

import json
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.layers import BatchNorm, Conv2D, Dense, Dropout, Embedding
from jaxnn.models._table import human
from jaxnn.models._walk import format_shape
from jaxnn.models.summary import Summary, summary

N = 5  # batch size for FLOPs


def mlp():
    return jaxnn.serial(Dense(3), jnp.tanh, Dense(2), name="mlp")


def nested():
    encoder = jaxnn.serial(Dense(8), BatchNorm(), jax.nn.relu, name="encoder")
    return jaxnn.serial(
        encoder,
        jaxnn.parallel(Dense(4), jaxnn.serial(Dense(4), Dropout(0.1)), combine="sum"),
        jaxnn.residual(Dense(4), jnp.tanh),
        jaxnn.parallel(Dense(2), Dense(3)),
        name="net",
    )


def dense_params(d_in, d_out):
    return d_in * d_out + d_out


def dense_flops(n, d_in, d_out):
    # XLA CPU (jax 0.10.2): the matmul is 2*N*D_in*D_out (a multiply and an add per term), the
    # bias add N*D_out. (With D_in == 1 XLA rewrites the dot as a multiply, N*D_out; avoided.)
    return 2 * n * d_in * d_out + n * d_out


@pytest.fixture(scope="module")
def mlp_printed():
    lines = []
    s = summary(mlp(), (-1, 4), batch_size=N, frozen=["dense/*"], print_fn=lines.append)
    return s, lines


def init(model, input_shape, seed=0):
    """(params, state) of init's shapes and dtypes, filled with NumPy random numbers (no compiles)."""
    specs = jax.eval_shape(lambda key: model.init(key, input_shape)[1:], jax.random.key(0))
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda a: rng.normal(size=a.shape).astype(a.dtype), specs)


@pytest.fixture(scope="module")
def net_model():
    return nested()


@pytest.fixture(scope="module")
def net(net_model):
    return summary(net_model, (-1, 5), batch_size=N, print_fn=None)


# ----------------------------------------------------------------------------------------------
# Hand counts per layer type


@pytest.mark.parametrize("d_in, d_out, n", [(4, 3, 5), (7, 2, 1)])
def test_dense_params_and_flops(d_in, d_out, n):
    s = summary(Dense(d_out), (-1, d_in), batch_size=n, print_fn=None)
    (row,) = s.rows
    assert row.path == "dense" and row.type == "Dense" and row.depth == 0
    assert row.params == s.params == dense_params(d_in, d_out)
    assert row.bytes == s.bytes == 4 * dense_params(d_in, d_out)  # float32
    assert row.flops == s.flops == dense_flops(n, d_in, d_out)
    assert s.output_shape == (-1, d_out)


def test_dense_without_bias_counts_only_the_matmul():
    s = summary(Dense(3, use_bias=False), (-1, 4), batch_size=N, print_fn=None)
    assert (s.params, s.flops) == (4 * 3, 2 * N * 4 * 3)


@pytest.mark.parametrize("algorithm", ["xla", "matmul"])
def test_conv2d_params_and_flops(algorithm):
    n, h, w, c_in, c_out, kh, kw = 2, 6, 5, 2, 3, 3, 2
    s = summary(Conv2D(c_out, (kh, kw), algorithm=algorithm), (-1, h, w, c_in), batch_size=n,
                print_fn=None)  # fmt: skip
    h_out, w_out = h - kh + 1, w - kw + 1  # valid padding, stride 1
    assert s.rows[0].output_shape == (-1, h_out, w_out, c_out)
    assert s.params == kh * kw * c_in * c_out + c_out
    # 2 FLOPs per multiply-add of every output position, tap and channel pair, plus the bias.
    macs = n * h_out * w_out * kh * kw * c_in * c_out
    assert s.flops == 2 * macs + n * h_out * w_out * c_out


def test_conv2d_xla_counts_no_flops_for_taps_on_padding():
    # padding="same", stride 2 on H=6 (kh=3) and W=5 (kw=2): 3 output rows and 3 columns, padded
    # (0, 1) on each axis. Taps that land on real rows: 3 + 3 + 2 = 8; on real columns:
    # 2 + 2 + 1 = 5. XLA's convolution counts 2 FLOPs per real tap and channel pair.
    conv = Conv2D(3, (3, 2), strides=2, padding="same", algorithm="xla")
    s = summary(conv, (-1, 6, 5, 2), batch_size=2, print_fn=None)
    assert s.rows[0].output_shape == (-1, 3, 3, 3)
    assert s.flops == 2 * 2 * (8 * 5) * 2 * 3 + 2 * 3 * 3 * 3  # + bias N*H_out*W_out*C_out


def test_batch_norm_counts_its_running_statistics_as_state():
    c = 6
    s = summary(BatchNorm(), (-1, 3, c), print_fn=None)
    assert (s.params, s.state) == (2 * c, 2 * c)  # gamma, beta; mean, var
    assert (s.param_bytes, s.state_bytes, s.bytes) == (4 * 2 * c, 4 * 2 * c, 4 * 4 * c)
    assert s.rows[0].state == 2 * c


def test_embedding_needs_integer_inputs_and_counts_its_table():
    model = jaxnn.serial(Embedding(10, 3), Dense(2))
    s = summary(model, (-1, 4), dtype=jnp.int32, batch_size=N, print_fn=None)
    assert [r.params for r in s.rows] == [10 * 3, dense_params(3, 2)]
    assert s.rows[0].flops == 0  # a gather
    assert s.rows[1].flops == dense_flops(N * 4, 3, 2)  # Dense over (N, 4, 3): N*4 rows
    with pytest.raises(TypeError, match=r"summary: model 'serial' on an input float32\[5, 4\] "
                       r"\(pass dtype= for integer inputs\).*integer ids"):  # fmt: skip
        summary(model, (-1, 4), batch_size=N, print_fn=None)


def test_an_example_array_gives_the_batch_size_and_dtype():
    s = summary(mlp(), np.zeros((3, 4), np.float32), batch_size=N, print_fn=None)
    assert s.input_shape == (3, 4) and s.output_shape == (3, 2)
    assert s.rows[0].flops == dense_flops(3, 4, 3)  # 3 rows, not batch_size
    ids = summary(jaxnn.serial(Embedding(10, 3)), np.zeros((2, 4), np.int32), print_fn=None)
    assert ids.params == 10 * 3  # int32 taken from the example: no dtype= needed


# ----------------------------------------------------------------------------------------------
# A flat model: rows, totals, the printed table


def test_mlp_rows(mlp_printed):
    s, _ = mlp_printed
    assert [(r.path, r.type, r.depth, r.output_shape) for r in s.rows] == [
        ("dense", "Dense", 0, (-1, 3)),
        ("tanh", "function", 0, (-1, 3)),
        ("dense_1", "Dense", 0, (-1, 2)),
    ]
    assert [r.params for r in s.rows] == [dense_params(4, 3), 0, dense_params(3, 2)]
    assert [r.flops for r in s.rows] == [dense_flops(N, 4, 3), 0, dense_flops(N, 3, 2)]
    assert s.rows[1].transcendentals == N * 3  # XLA counts tanh apart from FLOPs


def test_mlp_totals_and_frozen(mlp_printed):
    s, _ = mlp_printed
    total = dense_params(4, 3) + dense_params(3, 2)
    assert (s.params, s.frozen_params, s.trainable_params) == (total, 15, total - 15)
    assert (s.state, s.bytes, s.batch_size) == (0, 4 * total, N)
    assert s.flops == dense_flops(N, 4, 3) + dense_flops(N, 3, 2)
    assert s.transcendentals == N * 3


def test_printed_table_has_a_line_per_layer_and_the_totals(mlp_printed):
    s, lines = mlp_printed
    (text,) = lines
    assert text == str(s)
    assert text.splitlines()[0] == "Model 'mlp': input (None, 4) -> output (None, 2)"
    # dense_1: 3*2 + 2 = 8 params, 32 bytes, 2*5*3*2 + 5*2 = 70 FLOPs
    assert re.search(r"^dense_1\s+Dense\s+\(None, 2\)\s+8\s+0\s+32 B\s+70 FLOP$", text, re.M)
    assert re.search(r"^tanh\s+function\s+\(None, 3\)\s+0\s+0\s+0 B\s+0 FLOP$", text, re.M)
    assert "Total params: 23 (92 B)" in text
    assert "Trainable params: 8" in text and "Frozen params: 15" in text
    assert "FLOPs (forward, batch 5): 205 FLOP, transcendentals 15" in text  # 135 + 70


def test_columns_are_aligned(mlp_printed):
    s, _ = mlp_printed
    lines = str(s).splitlines()
    header = next(line for line in lines if line.startswith("Layer"))
    rows = [line for line in lines if line.split()[0] in ("dense", "tanh", "dense_1")]
    assert len(rows) == 3
    # Numbers are right-aligned: each row's FLOPs column ends where the header's does.
    assert {len(line) for line in rows} == {len(header)}
    assert all(line.index("(None") == header.index("Output shape") for line in rows)


def test_print_fn_none_prints_nothing(capsys):
    s = summary(Dense(2), (-1, 3), print_fn=None)
    assert capsys.readouterr().out == ""
    assert repr(s) == "Summary(name='dense', params=8, state=0, flops=14)"


def test_to_dict_is_json_and_holds_the_numbers(mlp_printed):
    s, _ = mlp_printed
    d = s.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert (d["name"], d["input_shape"], d["output_shape"]) == ("mlp", [None, 4], [None, 2])
    assert d["rows"][2] == {
        "path": "dense_1", "depth": 0, "type": "Dense", "output_shape": [None, 2], "params": 8,
        "state": 0, "bytes": 32, "flops": 70, "transcendentals": 0, "param_dtype": "float32",
        "compute_dtype": "float32",
    }  # fmt: skip
    assert d["totals"] == {
        "params": 23, "trainable_params": 8, "frozen_params": 15, "param_bytes": 92, "state": 0,
        "state_bytes": 0, "flops": 205, "transcendentals": 15, "bytes": 92,
    }  # fmt: skip


def test_large_totals_show_the_exact_count_too():
    s = summary(Dense(100), (-1, 100), batch_size=N, print_fn=None)
    flops = dense_flops(N, 100, 100)  # 100,500
    assert f"FLOPs (forward, batch 5): 100.5 KFLOP ({flops:,}), transcendentals 0" in str(s)
    assert "Total params: 10,100 (40.4 KB)" in str(s)


def test_to_markdown(mlp_printed):
    s, _ = mlp_printed
    lines = s.to_markdown().splitlines()
    assert lines[0] == "| Layer | Type | Output shape | Params | State | Bytes | FLOPs |"
    assert lines[1] == "| --- | --- | --- | ---: | ---: | ---: | ---: |"
    assert lines[4] == "| `dense_1` | Dense | (None, 2) | 8 | 0 | 32 B | 70 FLOP |"
    assert "- Frozen params: 15" in lines


# ----------------------------------------------------------------------------------------------
# Nested combinators


def test_nested_rows_paths_depths_types(net):
    assert [(r.path, r.depth, r.type) for r in net.rows] == [
        ("encoder", 0, "serial"),
        ("encoder/dense", 1, "Dense"),
        ("encoder/batch_norm", 1, "BatchNorm"),
        ("encoder/relu", 1, "function"),
        ("parallel", 0, "parallel"),
        ("parallel/dense", 1, "Dense"),
        ("parallel/serial", 1, "serial"),
        ("parallel/serial/dense", 2, "Dense"),
        ("parallel/serial/dropout", 2, "Dropout"),
        ("residual", 0, "residual"),
        ("residual/dense", 1, "Dense"),
        ("residual/tanh", 1, "function"),
        ("parallel_1", 0, "parallel"),
        ("parallel_1/dense", 1, "Dense"),
        ("parallel_1/dense_1", 1, "Dense"),
    ]
    assert net.rows[-1].output_shape == (-1, 3) and net.rows[-3].output_shape == (-1, 5)


def test_nested_counts(net):
    rows = {r.path: r for r in net.rows}
    encoder = dense_params(5, 8) + 2 * 8  # Dense + BatchNorm gamma, beta
    assert rows["encoder"].params == encoder and rows["encoder"].state == 2 * 8
    assert rows["parallel"].params == 2 * dense_params(8, 4)
    assert rows["parallel/serial"].params == dense_params(8, 4)
    assert rows["residual"].params == dense_params(4, 4)
    assert rows["parallel_1"].params == dense_params(4, 2) + dense_params(4, 3)
    params, state = jax.eval_shape(lambda k: nested().init(k, (-1, 5))[1:], jax.random.key(1))
    sizes = [a.size for a in jax.tree.leaves(params)]
    assert net.params == sum(sizes) == sum(r.params for r in net.rows if r.depth == 0)
    assert net.state == sum(a.size for a in jax.tree.leaves(state)) == 16
    assert net.bytes == 4 * (net.params + net.state)


def test_combinator_flops_are_children_plus_merge(net):
    rows = {r.path: r for r in net.rows}
    flops = {p: r.flops for p, r in rows.items()}
    assert flops["parallel/dense"] == dense_flops(N, 8, 4)
    assert flops["parallel/serial"] == flops["parallel/serial/dense"] + 0  # dropout at eval: 0
    # sum of 2 branches: one add per output element; residual: x + f(x), one per element
    assert flops["parallel"] == flops["parallel/dense"] + flops["parallel/serial"] + N * 4
    assert flops["residual"] == flops["residual/dense"] + N * 4
    assert flops["parallel_1"] == dense_flops(N, 4, 2) + dense_flops(N, 4, 3)  # concat: 0
    assert flops["encoder/relu"] == N * 8  # a max per element
    top = [r for r in net.rows if r.depth == 0]
    assert net.flops == sum(r.flops for r in top)


def test_total_flops_equal_xla_on_the_whole_model(net, net_model):
    model = net_model
    params, state = jax.eval_shape(lambda k: model.init(k, (-1, 5))[1:], jax.random.key(0))
    x = jax.ShapeDtypeStruct((N, 5), jnp.float32)
    compiled = jax.jit(lambda p, s, x: model.apply(p, s, x)[0]).lower(params, state, x).compile()
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, list) else analysis
    assert net.flops == analysis["flops"]
    assert net.transcendentals == analysis["transcendentals"]


def test_root_merges_count_in_the_total():
    s = summary(jaxnn.residual(Dense(4), name="block"), (-1, 4), batch_size=N, print_fn=None)
    assert [r.path for r in s.rows] == ["dense"]
    assert s.flops == dense_flops(N, 4, 4) + N * 4


def test_frozen_patterns(net, net_model):
    model = net_model  # the FLOPs of the same model are cached: nothing compiles again
    s = summary(model, (-1, 5), batch_size=N, frozen=["encoder/*", ("parallel_1", "dense", "w")],
                print_fn=None)  # fmt: skip
    frozen = dense_params(5, 8) + 2 * 8 + 4 * 2
    assert (s.frozen_params, s.trainable_params) == (frozen, net.params - frozen)
    kernels = summary(model, (-1, 5), batch_size=N, frozen=["w"], print_fn=None)
    assert kernels.frozen_params == 5 * 8 + 8 * 4 + 8 * 4 + 4 * 4 + 4 * 2 + 4 * 3


# ----------------------------------------------------------------------------------------------
# Given params and state


def test_given_params_give_the_same_counts_and_their_own_bytes(mlp_printed):
    s, _ = mlp_printed
    params, state = init(mlp(), (-1, 4), seed=7)
    half = jax.tree.map(lambda a: (a * 3).astype(jnp.bfloat16), params)
    t = summary(mlp(), (-1, 4), batch_size=N, params=half, state=state, print_fn=None)
    assert (t.params, t.state) == (s.params, s.state)
    assert t.bytes == 2 * s.params  # bfloat16: 2 bytes each
    assert [r.params for r in t.rows] == [r.params for r in s.rows]


def test_params_of_another_input_shape_are_named():
    params, _ = init(mlp(), (-1, 5))
    with pytest.raises(ValueError, match=r"summary: params do not match the model: at 'dense/w' "
                       r"expected shape \(4, 3\), found \(5, 3\)"):  # fmt: skip
        summary(mlp(), (-1, 4), params=params, print_fn=None)


def test_missing_and_unexpected_params_are_named():
    params, _ = init(mlp(), (-1, 4))
    params = {**params, "dense_1": {"w": params["dense_1"]["w"]}, "extra": {"w": jnp.ones(2)}}
    with pytest.raises(ValueError, match=r"missing 'dense_1/b' \(expected shape \(2,\)\); "
                       r"unexpected 'extra/w' \(shape \(2,\)\)"):  # fmt: skip
        summary(mlp(), (-1, 4), params=params, print_fn=None)


def test_state_is_checked_too():
    with pytest.raises(ValueError, match=r"summary: state do not match the model: .*'batch_norm/"
                       r"mean' expected shape \(3,\), found \(4,\)"):  # fmt: skip
        summary(jaxnn.serial(BatchNorm()), (-1, 3),
                state={"batch_norm": {"mean": jnp.zeros(4), "var": jnp.ones(3)}}, print_fn=None)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Errors


def test_an_input_shape_the_model_rejects_names_summary():
    with pytest.raises(ValueError, match=r"summary: model 'mlp' on input_shape \(4,\): serial "
                       r"'mlp', layer 0 \('dense'\): .*Add a batch axis"):  # fmt: skip
        summary(mlp(), (4,), print_fn=None)


def test_bad_arguments():
    with pytest.raises(ValueError, match="summary: batch_size must be >= 1; got 0"):
        summary(mlp(), (-1, 4), batch_size=0, print_fn=None)
    with pytest.raises(ValueError, match=r"frozen pattern 'decoder/\*' matches no parameter"):
        summary(mlp(), (-1, 4), frozen=["decoder/*"], print_fn=None)
    with pytest.raises(TypeError, match=r"frozen must be a list .* got the string 'dense/\*'"):
        summary(mlp(), (-1, 4), frozen="dense/*", print_fn=None)
    with pytest.raises(TypeError, match=r"summary: model must be a jaxnn Layer; got .*jaxnn\.lift"):
        summary(jnp.tanh, (-1, 4), print_fn=None)
    with pytest.raises(TypeError, match="summary: key must be a PRNG key"):
        summary(mlp(), (-1, 4), key=0, print_fn=None)


# ----------------------------------------------------------------------------------------------
# Formatting helpers


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (0, "B", "0 B"),
        (999, "B", "999 B"),
        (1234, "B", "1.2 KB"),
        (3_400_000, "FLOP", "3.4 MFLOP"),
        (999_960, "B", "1.0 MB"),  # rounds up into the next prefix, never "1000.0 KB"
        (2.5e12, "FLOP", "2.5 TFLOP"),
    ],
)
def test_human_units(value, unit, text):
    assert human(value, unit) == text


def test_format_shape():
    assert format_shape((-1, 3)) == "(None, 3)"
    assert format_shape((-1,)) == "(None,)"
    assert format_shape(((-1, 2), {"a": (4, -1)})) == "[(None, 2), {a: (4, None)}]"


def test_summary_is_a_frozen_dataclass(mlp_printed):
    s, _ = mlp_printed
    assert isinstance(s, Summary)
    with pytest.raises(AttributeError):
        s.params = 0  # type: ignore[misc]
    assert math.isclose(s.bytes, s.param_bytes + s.state_bytes)


def test_hand_written_layers_with_and_without_traceable_init():
    def scale_init(key, input_shape):
        return input_shape, {"scale": jnp.ones(input_shape[-1])}, {}

    def concrete_init(key, input_shape):  # NumPy on a random draw: cannot run under eval_shape
        w = np.asarray(jax.random.normal(key, (input_shape[-1],)))
        return input_shape, {"w": jnp.asarray(w)}, {"calls": jnp.zeros(())}

    def apply(params, state, x, *, key=None, train=False):
        return x * next(iter(params.values()))[None], state

    model = jaxnn.serial(
        jaxnn.Layer(scale_init, apply, "scale"), jaxnn.Layer(concrete_init, apply, "concrete")
    )
    s = summary(model, (-1, 3), batch_size=N, print_fn=None)
    assert [(r.path, r.type, r.params, r.state) for r in s.rows] == [
        ("scale", "Layer", 3, 0),
        ("concrete", "Layer", 3, 1),
    ]
    assert [r.flops for r in s.rows] == [N * 3, N * 3]  # one multiply per element


def test_recurrent_flops_count_every_time_step():
    from jaxnn.layers import LSTM

    n, t, d, u = 2, 5, 3, 4
    long = summary(LSTM(u), (-1, t, d), batch_size=n, print_fn=None)
    one = summary(LSTM(u), (-1, 1, d), batch_size=n, print_fn=None)
    assert long.flops == t * one.flops and long.transcendentals == t * one.transcendentals
    # the two matrix products of every step alone: x (N, D) @ (D, 4U) and h (N, U) @ (U, 4U)
    assert long.flops >= t * 2 * n * (d + u) * 4 * u


@pytest.mark.parametrize(
    ("precision", "param", "compute", "param_bytes"),
    [
        ("float32", "float32", "float32", 4),
        ("mixed_bfloat16", "float32", "bfloat16", 4),  # float32 master, bfloat16 compute
        ("mixed_float16", "float32", "float16", 4),
        ("bfloat16", "bfloat16", "bfloat16", 2),
    ],
)
def test_precision_gives_each_layer_its_dtypes_and_bytes(precision, param, compute, param_bytes):
    model = jaxnn.serial(Dense(8), BatchNorm(), jnp.tanh, Dense(2))
    s = summary(model, (-1, 4), precision=precision, print_fn=None)
    assert s.precision == precision
    dense, norm, tanh, _ = s.rows
    assert (dense.param_dtype, dense.compute_dtype) == (param, compute)
    assert (tanh.param_dtype, tanh.compute_dtype) == ("-", compute)  # no params
    assert dense.bytes == (4 * 8 + 8) * param_bytes
    assert norm.bytes == 16 * param_bytes + 16 * 4  # running statistics stay float32
    text, md = str(s), s.to_markdown()
    if precision == "float32":
        assert "Dtype" not in text and "Precision" not in text
    else:
        assert "Dtype" in text.splitlines()[2] and f"Precision: {precision}" in text
        cell = compute if param == compute else f"{param}/{compute}"
        assert re.search(rf"^dense\s+Dense\s+\(None, 8\)\s+{cell}\s+40 ", text, re.M)
        assert f"| `dense` | Dense | (None, 8) | {cell} | 40 |" in md
    assert s.to_dict()["precision"] == precision
    assert s.to_dict()["rows"][0]["compute_dtype"] == compute


def test_a_layer_kept_in_another_dtype_shows_the_column_and_an_unknown_policy_is_named():
    s = summary(jaxnn.serial(Dense(2, param_dtype="bfloat16")), (-1, 3), print_fn=None)
    assert s.rows[0].param_dtype == "bfloat16" and "Dtype" in str(s)
    # A layer's own compute dtype: float32 params, bfloat16 compute, per layer.
    s = summary(jaxnn.serial(Dense(2, dtype="bfloat16"), Dense(1)), (-1, 3), print_fn=None)
    assert [(r.param_dtype, r.compute_dtype) for r in s.rows] == [
        ("float32", "bfloat16"),
        ("float32", "float32"),
    ]
    assert re.search(r"^dense\s+Dense\s+\(None, 2\)\s+float32/bfloat16\s", str(s), re.M)
    with pytest.raises(ValueError, match=r"summary: unknown precision 'half'; choose one of"):
        summary(jaxnn.serial(Dense(2)), (-1, 3), precision="half", print_fn=None)
