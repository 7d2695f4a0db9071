"""Tests for jaxnn.export: StableHLO (jax.export) and ONNX files of a model's inference function."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn.export import export, exported_text, load_exported
from jaxnn.layers import (
    LSTM,
    BatchNorm,
    Bidirectional,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool,
)

# The module itself: `jaxnn.export` may be the function that the package re-exports.
export_lib = importlib.import_module("jaxnn.export")


def _perturbed(model, input_shape, seed):
    """A TrainState whose params and state are far from their initial values (as if trained)."""
    ts = jaxnn.TrainState.create(model, jax.random.key(seed), input_shape, optax.sgd(0.1))
    rng = np.random.default_rng(seed)  # NumPy: no small XLA program to compile per leaf
    params = jax.tree.map(lambda p: p + 0.3 * rng.standard_normal(p.shape, np.float32), ts.params)
    # Running statistics: means 0.5, variances in [0.5, 2], so evaluation mode is visible.
    state = jax.tree_util.tree_map_with_path(
        lambda path, s: (
            np.linspace(0.5, 2.0, s.size, dtype=np.float32).reshape(s.shape)
            if "var" in jax.tree_util.keystr(path)
            else np.full(s.shape, 0.5, np.float32)
        ),
        ts.state,
    )
    return ts._replace(params=jax.device_put(params), state=jax.device_put(state))


MODELS = {
    "mlp": (lambda: jaxnn.serial(Dense(16), jnp.tanh, Dense(3)), (-1, 8)),
    "cnn": (
        lambda: jaxnn.serial(Conv2D(4, 3), jax.nn.relu, MaxPool(2), Flatten(), Dense(3)),
        (-1, 8, 8, 1),
    ),
    "bn_dropout": (
        lambda: jaxnn.serial(Dense(16), BatchNorm(), jax.nn.relu, Dropout(0.5), Dense(3)),
        (-1, 8),
    ),
    "lstm": (lambda: jaxnn.serial(LSTM(6), Dense(3)), (-1, 5, 4)),
}
# Where the exported file and predict compute the same graph bit for bit on the CPU (BatchNorm's
# normalisation fuses differently inside predict's padded batches: ~1e-7 apart).
EXACT = {"mlp", "cnn", "lstm"} if jax.default_backend() == "cpu" else set()


@pytest.fixture(scope="module")
def models():
    """Builds each model and its TrainState once for the module, when a test first asks."""
    built = {}

    def get(name):
        if name not in built:
            build, shape = MODELS[name]
            model = build()
            built[name] = (model, _perturbed(model, shape, seed=len(name)), shape)
        return built[name]

    return get


@pytest.fixture(params=sorted(MODELS))
def trained(request, models):
    return (request.param, *models(request.param))


@pytest.fixture(scope="module")
def mlp(models):
    return models("mlp")[:2]


@pytest.fixture(scope="module")
def mlp_file(mlp, tmp_path_factory):
    model, ts = mlp
    return export(model, ts, (-1, 8), tmp_path_factory.mktemp("mlp") / "mlp.stablehlo")


def _assert_matches(y, want):
    """Equal to float32 rounding; bit for bit on the CPU, where it is the same compiled graph."""
    y, want = np.asarray(y), np.asarray(want)
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
    if EXACT:
        np.testing.assert_array_equal(y, want)


def _inputs(shape, n, seed):
    return jax.random.normal(jax.random.key(seed), (n, *shape[1:]))


def _numpy_mlp(params, x):
    """The MLP written out in NumPy: tanh(x W1 + b1) W2 + b2."""
    p = jax.tree.map(np.asarray, params)
    h = np.tanh(np.asarray(x) @ p["dense"]["w"] + p["dense"]["b"])
    return h @ p["dense_1"]["w"] + p["dense_1"]["b"]


# --- StableHLO round trip -----------------------------------------------------------------------


def test_stablehlo_matches_predict_for_two_batch_sizes(trained, tmp_path):
    name, model, ts, shape = trained
    f = load_exported(export(model, ts, shape, tmp_path / f"{name}.stablehlo"))
    x = _inputs(shape, 7, 1)
    want = np.asarray(jaxnn.predict(model, ts, x))  # rows are independent in evaluation mode
    for n in (3, 7):  # one file, two batch sizes: the batch axis is symbolic
        y = np.asarray(f(x[:n]))
        assert y.shape == (n, 3)
        np.testing.assert_allclose(y, want[:n], rtol=1e-6, atol=1e-6)
        if name in EXACT:
            np.testing.assert_array_equal(y, want[:n])


def test_mlp_file_matches_numpy_and_is_exact_against_predict(mlp, mlp_file):
    model, ts = mlp
    x = jnp.linspace(-1.0, 1.0, 5 * 8).reshape(5, 8)
    y = np.asarray(load_exported(mlp_file)(x))
    np.testing.assert_allclose(y, _numpy_mlp(ts.params, x), rtol=1e-5, atol=1e-6)
    _assert_matches(y, jaxnn.predict(model, ts, x))


def test_bn_and_dropout_use_evaluation_mode(models, tmp_path):
    model, ts, shape = models("bn_dropout")
    f = load_exported(export(model, ts, shape, tmp_path / "bn.stablehlo"))
    x = _inputs(shape, 4, 0)
    # BatchNorm uses the running statistics (mean 0.5, var in [0.5, 2]) and dropout is the
    # identity: a row's output does not depend on the rest of the batch ...
    np.testing.assert_allclose(f(x)[:1], f(x[:1]), rtol=1e-6, atol=1e-6)
    # ... and differs from normalising with the batch's own statistics.
    batch_stats = jax.jit(
        lambda x: model.apply(ts.params, ts.state, x, key=jax.random.key(0), train=True)[0]
    )
    assert np.abs(np.asarray(f(x)) - np.asarray(batch_stats(x))).max() > 1e-2


def test_params_state_pair_and_other_suffixes(mlp, tmp_path):
    model, ts = mlp
    x = _inputs((-1, 8), 2, 5)
    want = np.asarray(jaxnn.predict(model, ts, x))
    for suffix in (".jaxexport", ".bin"):
        path = export(model, (ts.params, ts.state), (None, 8), tmp_path / f"m{suffix}")
        _assert_matches(load_exported(path)(x), want)
    # Any suffix with an explicit format; the jax-only way reads it as well.
    path = export(model, ts, (-1, 8), tmp_path / "model.hlo", format="stablehlo")
    reloaded = jax.export.deserialize(path.read_bytes())
    _assert_matches(reloaded.call(x), want)
    assert reloaded.fun_name == "serial"
    assert sorted(os.listdir(tmp_path)) == ["m.bin", "m.jaxexport", "model.hlo"]  # nothing else


def test_example_array_fixes_the_batch_size(mlp, tmp_path):
    model, ts = mlp
    x = np.asarray(_inputs((-1, 8), 4, 6))
    f = load_exported(export(model, ts, x, tmp_path / "fixed.stablehlo"))
    _assert_matches(f(x), jaxnn.predict(model, ts, x))
    with pytest.raises(ValueError, match=r"x must have shape \(4, 8\).*got \(3, 8\)"):
        f(x[:3])


def test_dict_input_shares_one_batch_axis(tmp_path):
    model = jaxnn.serial(lambda x: jnp.concatenate([x["a"], x["b"]], axis=-1), Dense(2))
    shapes = {"a": (-1, 2), "b": (-1, 3)}
    ts = _perturbed(model, shapes, seed=4)
    f = load_exported(export(model, ts, shapes, tmp_path / "dict.stablehlo"))
    x = {"a": jnp.ones((4, 2)), "b": jnp.arange(12.0).reshape(4, 3) / 12}
    w, b = (np.asarray(v) for v in (ts.params["dense"]["w"], ts.params["dense"]["b"]))
    want = np.concatenate([np.asarray(x["a"]), np.asarray(x["b"])], axis=1) @ w + b
    np.testing.assert_allclose(np.asarray(f(x)), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(
        ValueError, match=r"x\['b'\] has batch = 3 but an earlier input has batch = 4"
    ):
        f({"a": x["a"], "b": x["b"][:3]})
    with pytest.raises(
        TypeError, match=r"structure of the exported input.*got PyTreeDef\(\{'a': \*\}\)"
    ):
        f({"a": x["a"]})


def test_integer_input_dtype(tmp_path):
    model = jaxnn.serial(jaxnn.layers.Embedding(10, 4), Flatten(), Dense(2))
    ts = _perturbed(model, (-1, 5), seed=5)
    f = load_exported(export(model, ts, (-1, 5), tmp_path / "emb.bin", dtype=jnp.int32))
    tokens = jnp.arange(15, dtype=jnp.int32).reshape(3, 5) % 10
    want = jax.jit(lambda t: model.apply(ts.params, ts.state, t)[0])(tokens)
    _assert_matches(f(tokens), want)
    with pytest.raises(TypeError, match=r"x must have dtype int32; got float32.*astype\('int32'\)"):
        f(tokens.astype(jnp.float32))


def test_multi_platform_lowering_runs_here(mlp, tmp_path):
    model, ts = mlp
    here = jax.export.default_export_platform()
    other = "tpu" if here != "tpu" else "cpu"
    path = export(model, ts, (-1, 8), tmp_path / "multi.stablehlo", platforms=(here, other))
    assert jax.export.deserialize(path.read_bytes()).platforms == (here, other)
    x = _inputs((-1, 8), 3, 7)
    _assert_matches(load_exported(path)(x), jaxnn.predict(model, ts, x))
    elsewhere = export(model, ts, (-1, 8), tmp_path / "other.stablehlo", platforms=other)
    with pytest.raises(ValueError, match=rf"exported for platforms .*{other}"):
        load_exported(elsewhere)(x)


def test_exported_text_shows_symbolic_batch_and_weights(mlp_file):
    text = exported_text(mlp_file)
    assert "module @jit_serial" in text
    assert "tensor<?x8xf32>" in text  # the symbolic batch axis
    assert text.count("stablehlo.dot_general") == 2  # two Dense layers
    assert "stablehlo.tanh" in text


def test_reload_in_a_process_without_jaxnn(mlp, mlp_file, tmp_path):
    model, ts = mlp
    x = np.asarray(_inputs((-1, 8), 6, 8))
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["jaxnn"] = None  # any import of jaxnn, direct or not, would fail
        import jax, numpy as np
        f = jax.export.deserialize(open({str(mlp_file)!r}, "rb").read()).call
        y = np.asarray(f(np.load({str(tmp_path / "x.npy")!r})))
        print(json.dumps({{"y": y.tolist(), "modules": sorted(m for m in sys.modules if m.split(".")[0] == "jaxnn")}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the repository: jaxnn must not be importable by accident
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["modules"] == ["jaxnn"]  # only the blocker: nothing of jaxnn was loaded
    _assert_matches(np.asarray(out["y"], np.float32), jaxnn.predict(model, ts, x))


# --- export errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, options, error, match",
    [
        ("m.pt", {}, ValueError, r"cannot tell the format from the suffix .*\.pt"),
        ("m.onnx", {"format": "stablehlo"}, ValueError, r"format='stablehlo' but the suffix"),
        (
            "m.bin",
            {"format": "tflite"},
            ValueError,
            r"format must be one of \['onnx', 'stablehlo'\]",
        ),
        (
            "m.bin",
            {"platforms": ("gpu",)},
            ValueError,
            r"platforms must be names from \['cpu', 'cuda', 'rocm', 'tpu'\].*got \('gpu',\)",
        ),
        ("m.bin", {"platforms": ()}, ValueError, r"platforms must be names"),
        ("m.bin", {"opset": 17}, ValueError, r"opset applies to ONNX only"),
        ("m.onnx", {"platforms": "cpu"}, ValueError, r"platforms applies to StableHLO"),
        ("missing/m.bin", {}, FileNotFoundError, r"the folder .*missing' of .* does not exist"),
        (".", {"format": "stablehlo"}, IsADirectoryError, r"is a folder; give a file name"),
    ],
)
def test_export_rejects_bad_arguments(mlp, tmp_path, path, options, error, match):
    model, ts = mlp
    with pytest.raises(error, match=match):
        export(model, ts, (-1, 8), tmp_path / path, **options)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "input_shape, error, match",
    [
        ((-1, -1), ValueError, r"-1 \(any size\) only on the batch axis.*got \(-1, -1\)"),
        ((-1, -2), ValueError, r"no other negative size; got \(-1, -2\)"),
        ("784", TypeError, r"input_shape must be a shape such as \(-1, 784\).*got str '784'"),
        ((-1, 5), ValueError, r"Dense 'dense'.*"),  # the model's own error, naming the layer
    ],
)
def test_export_rejects_bad_input_shapes(mlp, tmp_path, input_shape, error, match):
    model, ts = mlp
    with pytest.raises(error, match=match):
        export(model, ts, input_shape, tmp_path / "m.bin")


def test_export_rejects_a_bad_train_state(mlp, tmp_path):
    model, ts = mlp
    with pytest.raises(TypeError, match=r"TrainState or a \(params, state\) pair; got dict"):
        export(model, ts.params, (-1, 8), tmp_path / "m.bin")


def test_export_names_a_model_that_needs_a_fixed_batch(tmp_path):
    # np.ones needs a concrete batch size; with a fixed one the model traces.
    model = jaxnn.serial(lambda x: x * np.ones(x.shape[0], np.float32)[:, None], Dense(2))
    ts = _perturbed(model, (4, 3), seed=6)
    with pytest.raises(
        ValueError, match=r"traces with a fixed batch size but not with a symbolic one"
    ):
        export(model, ts, (-1, 3), tmp_path / "m.bin")
    f = load_exported(export(model, ts, (4, 3), tmp_path / "m.bin"))
    x = jnp.ones((4, 3))
    np.testing.assert_allclose(f(x), model.apply(ts.params, ts.state, x)[0], rtol=1e-6)


def test_a_failed_export_keeps_the_previous_file(mlp, mlp_file, tmp_path):
    model, ts = mlp
    good = export(model, ts, (-1, 8), tmp_path / "m.stablehlo")
    before = good.read_bytes()
    with pytest.raises(ValueError, match="Dense 'dense'"):
        export(model, ts, (-1, 5), good)
    assert good.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.stablehlo"]  # no temporary file left behind


# --- load_exported errors -----------------------------------------------------------------------


def test_load_rejects_missing_truncated_and_foreign_files(mlp_file, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_exported: no exported model at .*nope\.bin"):
        load_exported(tmp_path / "nope.bin")
    data = mlp_file.read_bytes()
    for name, content in [
        ("half.bin", data[: len(data) // 2]),
        ("empty.bin", b""),
        ("text.bin", b"not a model" * 20),
    ]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=r"is truncated, corrupt or not a jax.export file"):
            load_exported(tmp_path / name)
    (tmp_path / "m.onnx").write_bytes(data)
    with pytest.raises(ValueError, match=r"is an ONNX file.*onnxruntime.InferenceSession"):
        load_exported(tmp_path / "m.onnx")
    (tmp_path / "m.pkl").write_bytes(data)
    with pytest.raises(
        ValueError,
        match=r"does not end in a jax.export suffix \['.bin', '.jaxexport', '.stablehlo'\]",
    ):
        load_exported(tmp_path / "m.pkl")
    with pytest.raises(ValueError, match=r"exported_text: .* is truncated"):
        exported_text(tmp_path / "half.bin")


@pytest.mark.parametrize(
    "shape, match",
    [
        ((3, 5), r"x must have shape \(batch, 8\) .*got \(3, 5\)"),
        ((8,), r"x must have shape \(batch, 8\) .*got \(8,\)"),
        ((0, 8), r"take any value >= 1\); got \(0, 8\)"),
    ],
)
def test_load_rejects_inputs_of_another_shape(mlp_file, shape, match):
    with pytest.raises(ValueError, match=match):
        load_exported(mlp_file)(jnp.ones(shape))


def test_loaded_function_works_under_jit_and_with_numpy(mlp, mlp_file):
    model, ts = mlp
    f = load_exported(mlp_file)
    x = np.asarray(_inputs((-1, 8), 3, 9), np.float64)  # float64 NumPy becomes float32
    want = np.asarray(jaxnn.predict(model, ts, x.astype(np.float32)))
    _assert_matches(jax.jit(lambda v: f(v) * 2)(x), want * 2)
    assert f.__name__ == "serial"


# --- ONNX ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ort():
    pytest.importorskip("jax2onnx")
    return pytest.importorskip("onnxruntime")


def _session(ort, path):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_onnx_matches_predict_with_a_dynamic_batch(ort, trained, tmp_path):
    name, model, ts, shape = trained
    path = export(model, ts, shape, tmp_path / f"{name}.onnx")
    session = _session(ort, path)
    (x_info,), (y_info,) = session.get_inputs(), session.get_outputs()
    assert (x_info.name, x_info.shape) == ("x", ["batch", *shape[1:]])
    assert (y_info.name, y_info.shape) == ("y", ["batch", 3])
    for n, seed in ((3, 1), (7, 2)):
        x = np.asarray(_inputs(shape, n, seed))
        (y,) = session.run(None, {"x": x})
        np.testing.assert_allclose(y, np.asarray(jaxnn.predict(model, ts, x)), rtol=1e-5, atol=1e-5)
    assert os.listdir(tmp_path) == [f"{name}.onnx"]  # weights inside, no .data file


def test_onnx_opset_and_dict_inputs(ort, tmp_path):
    onnx = pytest.importorskip("onnx")
    model = jaxnn.serial(lambda x: jnp.concatenate([x["a"], x["b"]], axis=-1), Dense(2))
    shapes = {"a": (-1, 2), "b": (-1, 3)}
    ts = _perturbed(model, shapes, seed=7)
    path = export(model, ts, shapes, tmp_path / "dict.onnx", opset=18)
    assert {o.domain: o.version for o in onnx.load(str(path)).opset_import}[""] == 18
    x = {"a": np.ones((4, 2), np.float32), "b": np.arange(12, dtype=np.float32).reshape(4, 3)}
    (y,) = _session(ort, path).run(None, {"x_a": x["a"], "x_b": x["b"]})
    np.testing.assert_allclose(y, model.apply(ts.params, ts.state, x)[0], rtol=1e-5, atol=1e-5)


def test_onnx_never_writes_a_model_that_fails_or_disagrees(ort, tmp_path):
    # jax2onnx 0.17 cannot convert a reversed scan, and turns an overlapping MaxPool (window 3,
    # stride 2) into a node onnxruntime rejects. Either export says so and writes nothing, or
    # (a later jax2onnx) the file it writes agrees with JAX.
    cases = [
        (
            jaxnn.serial(Bidirectional(LSTM, 3), Dense(2)),
            (-1, 5, 2),
            NotImplementedError,
            r"cannot convert model 'serial' to ONNX: .*everse",
        ),
        (
            jaxnn.serial(MaxPool(3, strides=2), Flatten(), Dense(2)),
            (-1, 8, 8, 1),
            RuntimeError,
            r"does not run in onnxruntime .*MaxPool",
        ),
    ]
    for i, (model, shape, error, match) in enumerate(cases):
        ts = _perturbed(model, shape, seed=8)
        path = tmp_path / f"m{i}.onnx"
        try:
            export(model, ts, shape, path)
        except error as raised:
            assert re.search(match, str(raised)), str(raised)
            assert not path.exists()
            continue
        x = np.asarray(_inputs(shape, 3, 0))
        (y,) = _session(ort, path).run(None, {"x": x})
        np.testing.assert_allclose(y, jaxnn.predict(model, ts, x), rtol=1e-5, atol=1e-5)


def test_onnx_verification_catches_a_wrong_conversion(ort, mlp, tmp_path, monkeypatch):
    model, ts = mlp
    convert = export_lib.onnx_bytes

    def wrong(fn, *args):  # a converter bug: every output off by 0.01
        return convert(lambda x: fn(x) + 0.01, *args)

    monkeypatch.setattr(export_lib, "onnx_bytes", wrong)
    with pytest.raises(
        RuntimeError,
        match=r"disagrees with JAX on a sample batch \(output 0: max \|difference\| 0\.01",
    ):
        export(model, ts, (-1, 8), tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []
    export(model, ts, (-1, 8), tmp_path / "m.onnx", verify=False)  # the user's choice
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_onnx_without_jax2onnx_says_what_to_install(mlp, tmp_path, monkeypatch):
    model, ts = mlp
    monkeypatch.setitem(sys.modules, "jax2onnx", None)  # `import jax2onnx` raises ImportError
    with pytest.raises(
        ImportError, match=r'needs the jax2onnx package: pip install "jaxnn\[onnx\]"'
    ):
        export(model, ts, (-1, 8), tmp_path / "m.onnx")
