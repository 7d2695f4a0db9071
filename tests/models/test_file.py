import json
import os
import subprocess
import sys
import textwrap
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from safetensors.numpy import load as read_safetensors

import jaxnn
from jaxnn import optimizers
from jaxnn.layers import BatchNorm, Dense, Dropout
from jaxnn.models import load_model, save_model
from jaxnn.train import TrainState


def circle(n=160, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    y = (np.hypot(x[:, 0], x[:, 1]) < 0.6).astype(np.int32)
    return x, y


def mlp():
    return jaxnn.serial(Dense(8), BatchNorm(), jnp.tanh, Dropout(0.1), Dense(2))


FIT = dict(
    loss="softmax_cross_entropy",
    optimizer="adam",
    learning_rate=0.01,
    batch_size=16,
    metrics=["accuracy"],
    seed=3,
    verbose=0,
)


def assert_trees_equal(a, b):
    a, b = (t._replace(key=jax.random.key_data(t.key)) for t in (a, b))
    jax.tree.map(np.testing.assert_array_equal, a, b)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model fit for 2 epochs and saved: (model, train_state, history, path)."""
    x, y = circle()
    model = mlp()
    ts, history = jaxnn.fit(model, (x, y), epochs=2, **FIT)
    path = save_model(tmp_path_factory.mktemp("m") / "circle.jaxnn", model, ts)
    return model, ts, history, path


def test_load_restores_the_model_and_every_array_bit_for_bit(trained):
    model, ts, _, path = trained
    loaded = load_model(path)
    assert loaded.model.config == model.config
    assert_trees_equal(loaded.train_state, ts)
    x, _ = circle(50, seed=1)
    np.testing.assert_array_equal(
        jaxnn.predict(loaded.model, loaded.train_state, x), jaxnn.predict(model, ts, x)
    )


def test_the_file_is_a_zip_that_any_safetensors_reader_understands(trained):
    _, ts, _, path = trained
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.safetensors"]
        metadata = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
        tensors = read_safetensors(archive.read("model.safetensors"))
    assert metadata["format"] == "jaxnn.model" and metadata["format_version"] == 1
    assert (
        metadata["jax_version"] == jax.__version__
        and metadata["jaxnn_version"] == jaxnn.__version__
    )
    assert metadata["input_shape"] == [-1, 2] and metadata["output_shape"] == [-1, 2]
    assert config["model"]["type"] == "serial"
    assert (
        config["fit_kwargs"]["optimizer"] == "adam" and config["fit_kwargs"]["initial_epoch"] == 2
    )
    np.testing.assert_array_equal(tensors["params/dense/w"], ts.params["dense"]["w"])
    np.testing.assert_array_equal(tensors["state/batch_norm/var"], ts.state["batch_norm"]["var"])
    np.testing.assert_array_equal(
        tensors["opt_state/0/mu/dense_1/b"], ts.opt_state[0].mu["dense_1"]["b"]
    )
    assert int(tensors["step"]) == int(ts.step) == 20


def test_training_resumes_exactly_from_the_file(trained, tmp_path):
    _, _, history, path = trained
    x, y = circle()
    full, full_history = jaxnn.fit(mlp(), (x, y), epochs=4, **FIT)
    loaded = load_model(path)
    kwargs = dict(loaded.fit_kwargs, verbose=0)
    assert kwargs["initial_epoch"] == 2 and kwargs["loss"] == "softmax_cross_entropy"
    resumed, resumed_history = jaxnn.fit(
        loaded.model, (x, y), epochs=4, initial_state=loaded.train_state, **kwargs
    )
    assert_trees_equal(resumed, full)
    assert history.history["loss"] + resumed_history.history["loss"] == full_history.history["loss"]


@pytest.mark.parametrize("name", optimizers.names())
def test_every_named_optimizer_state_round_trips(name, tmp_path):
    model = Dense(3)
    opt = optimizers.get(name)
    ts = TrainState.create(model, jax.random.key(0), (-1, 2), opt)
    grads = jax.tree.map(jnp.ones_like, ts.params)
    updates, opt_state = opt.update(grads, ts.opt_state, ts.params)
    ts = ts._replace(opt_state=opt_state, params=optax.apply_updates(ts.params, updates))
    save_model(tmp_path / "m.jaxnn", model, ts, input_shape=(-1, 2))
    assert_trees_equal(load_model(tmp_path / "m.jaxnn", optimizer=name).train_state, ts)


def test_a_fresh_process_predicts_bit_identically(trained, tmp_path):
    model, ts, _, path = trained
    x, _ = circle(30, seed=2)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import numpy as np, jaxnn
        m = jaxnn.load_model({str(path)!r})
        np.save({str(tmp_path / "y.npy")!r}, jaxnn.predict(m.model, m.train_state, np.load({str(tmp_path / "x.npy")!r})))
    """)
    subprocess.run(
        [sys.executable, "-c", script], check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"}
    )
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), jaxnn.predict(model, ts, x))


def test_an_optax_object_is_not_described_and_can_be_given_at_load(tmp_path):
    x, y = circle(64)
    model = Dense(2)
    ts, _ = jaxnn.fit(
        model,
        (x, y),
        loss="softmax_cross_entropy",
        optimizer=optax.sgd(0.1, momentum=0.5),
        epochs=1,
        verbose=0,
    )
    save_model(tmp_path / "m.jaxnn", model, ts)
    with zipfile.ZipFile(tmp_path / "m.jaxnn") as archive:
        config = json.loads(archive.read("config.json"))
    assert "optimizer" in config["fit_kwargs_not_saved"] and "optimizer" not in config["fit_kwargs"]
    assert load_model(tmp_path / "m.jaxnn").train_state.opt_state is None
    restored = load_model(tmp_path / "m.jaxnn", optimizer=optax.sgd(0.1, momentum=0.5)).train_state
    assert_trees_equal(restored, ts)


def test_weights_only_into_a_model_built_in_code(tmp_path):
    model = jaxnn.serial(Dense(3), lambda x: 2 * x)
    _, params, state = model.init(jax.random.key(0), (-1, 2))
    with pytest.raises(ValueError, match=r"'lambda'.*load_model\(path, model=\.\.\.\)"):
        save_model(tmp_path / "m.jaxnn", model, (params, state), input_shape=(-1, 2))
    plain = jaxnn.serial(Dense(3), jnp.tanh)
    save_model(tmp_path / "m.jaxnn", plain, (params, state), input_shape=(-1, 2))
    loaded = load_model(tmp_path / "m.jaxnn", model=model)
    assert loaded.model is model and loaded.train_state.opt_state is None
    jax.tree.map(np.testing.assert_array_equal, loaded.train_state.params, params)


def test_a_failed_save_leaves_the_previous_file(trained, tmp_path):
    model, ts, _, path = trained
    target = tmp_path / "keep.jaxnn"
    target.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="was built by hand"):
        save_model(target, jaxnn.serial(jaxnn.Layer(model.init, model.apply, "x")), ts)
    assert target.read_bytes() == path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.jaxnn"]


def test_save_needs_an_input_shape_and_matching_arrays(tmp_path):
    model = Dense(3)
    _, params, state = model.init(jax.random.key(0), (-1, 2))
    with pytest.raises(ValueError, match=r"input_shape is needed"):
        save_model(tmp_path / "m.jaxnn", model, (params, state))
    with pytest.raises(
        ValueError, match=r"params/w has shape \(2, 3\) float32, the model expects \(4, 3\) float32"
    ):
        save_model(tmp_path / "m.jaxnn", model, (params, state), input_shape=(-1, 4))
    with pytest.raises(
        TypeError,
        match=r"train_state must be a jaxnn.TrainState or a \(params, state\) pair; got dict",
    ):
        save_model(tmp_path / "m.jaxnn", model, params, input_shape=(-1, 2))


def _rewrite(src, dst, **changes):
    """Copies a model file, replacing the named entries' contents."""
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for name in a.namelist():
            data = changes.get(name.replace(".", "_"), a.read(name))
            if data is not None:
                b.writestr(name, data)


def test_bad_files_give_clear_errors(trained, tmp_path):
    model, ts, _, path = trained
    good = path.read_bytes()
    (tmp_path / "cut.jaxnn").write_bytes(good[: len(good) // 2])
    with pytest.raises(
        ValueError,
        match=r"cut.jaxnn' is not a readable jaxnn model file: not a complete zip archive",
    ):
        load_model(tmp_path / "cut.jaxnn")
    (tmp_path / "noise.jaxnn").write_bytes(os.urandom(300))
    with pytest.raises(ValueError, match=r"not a complete zip archive"):
        load_model(tmp_path / "noise.jaxnn")
    with pytest.raises(FileNotFoundError, match=r"no file at .*missing.jaxnn"):
        load_model(tmp_path / "missing.jaxnn")
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"")
    with pytest.raises(
        ValueError,
        match=r"lacks \['metadata.json', 'model.safetensors'\].*Keras file: use jaxnn.interop.from_keras",
    ):
        load_model(tmp_path / "model.keras")
    metadata = json.loads(zipfile.ZipFile(path).read("metadata.json"))
    _rewrite(
        path, tmp_path / "new.jaxnn", metadata_json=json.dumps({**metadata, "format_version": 7})
    )
    with pytest.raises(
        ValueError,
        match=r"format version 7, written by jaxnn .*reads versions up to 1\. Upgrade jaxnn",
    ):
        load_model(tmp_path / "new.jaxnn")
    _rewrite(path, tmp_path / "foreign.jaxnn", metadata_json=json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match=r"does not name the format 'jaxnn.model'"):
        load_model(tmp_path / "foreign.jaxnn")
    _rewrite(path, tmp_path / "json.jaxnn", config_json=b"{not json")
    with pytest.raises(ValueError, match=r"config.json is not valid JSON"):
        load_model(tmp_path / "json.jaxnn")
    _rewrite(path, tmp_path / "st.jaxnn", model_safetensors=b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(
        ValueError, match=r"model.safetensors declares a header of 16 bytes \(the member holds 10"
    ):
        load_model(tmp_path / "st.jaxnn")


def test_config_and_tensors_that_do_not_match_are_named(trained, tmp_path):
    model, ts, _, path = trained
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    config["model"]["layers"][1]["type"] = "BatchNormalization"
    _rewrite(path, tmp_path / "type.jaxnn", config_json=json.dumps(config))
    with pytest.raises(
        ValueError, match=r"unknown layer type 'BatchNormalization'.*register_layer"
    ):
        load_model(tmp_path / "type.jaxnn")
    wider = jaxnn.serial(Dense(9), BatchNorm(), jnp.tanh, Dropout(0.1), Dense(2))
    with pytest.raises(
        ValueError,
        match=r"params/dense/w has shape \(2, 8\) float32, the model expects \(2, 9\) float32",
    ):
        load_model(path, model=wider)
    extra = jaxnn.serial(Dense(8), jnp.tanh, Dropout(0.1), Dense(2))
    with pytest.raises(ValueError, match=r"params/batch_norm/beta is not in the model"):
        load_model(path, model=extra)
