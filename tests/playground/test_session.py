"""A Playground session: data, network, the compiled epoch, frames and saving."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn.playground import Session, Settings, features, generate_code, load_data
from jaxnn.playground.session import GRID, NEURON_GRID, _grid, layer_outputs, regularizer

SETTINGS = Settings(
    dataset="xor", points=120, hidden=(3, 2), features=("x1", "x2", "x1x2"), batch_size=7,
    train_percent=60, noise=10, seed=3,
)  # fmt: skip


@pytest.fixture(scope="module")
def trained():
    session = Session(SETTINGS)
    first = session.frame()
    last = session.train(12)
    return session, first, last


def _decode(text):
    return np.frombuffer(base64.b64decode(text), np.uint8) / 127.5 - 1


def test_features_are_the_formulas_of_the_page():
    points = np.array([[1.0, -2.0], [0.5, 3.0]])
    got = features(points, ("x1", "x2", "x1^2", "x2^2", "x1x2", "sin_x1", "sin_x2"))
    x1, x2 = points.T
    want = np.stack([x1, x2, x1**2, x2**2, x1 * x2, np.sin(x1), np.sin(x2)], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_the_data_is_jaxnn_data_split_by_the_ratio():
    (x, y), (xt, yt) = load_data(SETTINGS)
    (x_ref, y_ref), (xt_ref, _) = jaxnn.data.xor(120, noise=0.1, seed=3, test_fraction=0.4)
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y[:, 0], y_ref)
    assert (len(x), len(xt), y.shape, yt.dtype) == (72, 48, (72, 1), np.float32)
    assert len(xt_ref) == 48


def test_regression_uses_the_regression_sets():
    (x, y), _ = load_data(Settings(problem="regression", dataset="plane", points=50))
    np.testing.assert_allclose(y[:, 0], x.sum(axis=1) / 10, atol=1e-6)


def test_an_epoch_visits_every_point_once_in_padded_batches():
    session = Session(SETTINGS)
    index, weight = session._batches()
    assert index.shape == (11, 7)  # ceil(72 / 7) steps of 7
    assert sorted(index.ravel()[weight.ravel() == 1].tolist()) == list(range(72))
    assert weight.sum() == 72


def test_the_loss_falls_and_the_epoch_counts(trained):
    _, first, last = trained
    assert (first["epoch"], last["epoch"]) == (0, 12)
    assert last["train_loss"] < 0.8 * first["train_loss"]
    assert [h[0] for h in last["history"]] == [0, 12]  # one entry per frame drawn


def test_an_epoch_is_the_same_sgd_steps_as_a_python_loop():
    # A second path: jaxnn.make_train_step called per batch, the last batch smaller.
    session = Session(SETTINGS)
    model, ts0 = session.model, session.train_state
    rng = np.random.default_rng(SETTINGS.seed)
    session.train(2)
    step = jax.jit(jaxnn.make_train_step(model, "sigmoid_binary_cross_entropy", optax.sgd(0.03)))
    ts, x, y = ts0, session._x, session._y
    for _ in range(2):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 7):
            batch = order[start : start + 7]
            ts, _ = step(ts, (x[batch], y[batch]))
    for a, b in zip(
        jax.tree.leaves(ts.params), jax.tree.leaves(session.train_state.params), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_frame_shows_the_model_over_the_plane(trained):
    session, _, last = trained
    grid = features(_grid(GRID), SETTINGS.features)
    logits, _ = session.model.apply(session.train_state.params, session.train_state.state, grid)
    want = 2 * jax.nn.sigmoid(logits[:, 0]) - 1
    np.testing.assert_allclose(_decode(last["output"]), want, atol=1 / 127.5 + 1e-6)
    assert [len(layer) for layer in last["neurons"]] == [3, 2]
    small = features(_grid(NEURON_GRID), SETTINGS.features)
    dense = jax.device_get(session.train_state.params["dense"])
    first_layer = np.tanh(small @ dense["w"] + dense["b"])
    np.testing.assert_allclose(_decode(last["neurons"][0][1]), first_layer[:, 1], atol=0.008)
    w = np.asarray(session.train_state.params["dense_1"]["w"])
    np.testing.assert_allclose(last["weights"][1]["w"], w, atol=5e-5)


def test_the_losses_are_binary_cross_entropy(trained):
    session, _, last = trained
    z = np.asarray(
        session.model.apply(session.train_state.params, session.train_state.state, session._xt)[0]
    )
    t = session._yt
    bce = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))
    assert last["test_loss"] == pytest.approx(bce, rel=1e-5)


def test_layer_outputs_end_with_the_model_output(trained):
    session, _, _ = trained
    x = session._x
    want, _ = session.model.apply(session.train_state.params, session.train_state.state, x)
    got = layer_outputs(SETTINGS, session.train_state.params, x)
    assert [o.shape for o in got] == [(72, 3), (72, 2), (72, 1)]
    np.testing.assert_allclose(got[-1], want, rtol=1e-5, atol=1e-6)


def test_rate_changes_keep_the_weights_and_others_start_again():
    session = Session(SETTINGS)
    session.train(3)
    params = session.train_state.params
    session.update(dataclasses.replace(SETTINGS, learning_rate=0.3, batch_size=2))
    assert session.epoch == 3 and session.train_state.params is params
    session.update(dataclasses.replace(SETTINGS, activation="relu"))
    assert session.epoch == 0 and len(session.history) == 0
    x_before = session.data[0][0]
    session.update(dataclasses.replace(SETTINGS, activation="relu", dataset="circle"))
    assert not np.array_equal(session.data[0][0], x_before)


def test_the_regularizer_is_the_keras_penalty_on_weights_only():
    params = {"dense": {"w": jnp.array([[1.0, -2.0]]), "b": jnp.array([5.0, 5.0])}}
    l2 = regularizer(Settings(regularization="l2", regularization_rate=0.1))
    l1 = regularizer(Settings(regularization="l1", regularization_rate=0.1))
    assert float(l2(params)) == pytest.approx(0.1 * (1 + 4))
    assert float(l1(params)) == pytest.approx(0.1 * (1 + 2))
    assert regularizer(Settings(regularization="l2", regularization_rate=0.0)) is None


def test_the_generated_code_trains_to_the_same_loss(trained, tmp_path, monkeypatch):
    session, _, last = trained
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "playground_code"}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(generate_code(SETTINGS, epochs=session.epoch), namespace)  # noqa: S102
    assert float(namespace["train_loss"]) == pytest.approx(last["train_loss"], rel=1e-4)
    assert float(namespace["test_loss"]) == pytest.approx(last["test_loss"], rel=1e-4)
    assert out.getvalue().startswith("epoch 12: training loss ")
    loaded = jaxnn.load_model(tmp_path / "playground.jaxnn")
    np.testing.assert_allclose(
        jaxnn.predict(loaded.model, loaded.train_state, session._x),
        session.model.apply(session.train_state.params, session.train_state.state, session._x)[0],
        rtol=1e-4, atol=1e-5,
    )  # fmt: skip


def test_generated_code_names_the_regularizer_and_the_data():
    code = generate_code(
        Settings(problem="regression", dataset="multigauss", regularization="l1",
                 regularization_rate=0.003, hidden=()), epochs=5)  # fmt: skip
    assert "regularizer=jaxnn.regularizers.l1(0.003)" in code
    assert "jaxnn.data.regression_gaussian(" in code
    assert 'loss = "mse"' in code
    assert "model = jaxnn.serial(Dense(1))" in code
    compile(code, "playground.py", "exec")


def test_save_writes_a_model_that_loads(trained, tmp_path):
    session, _, _ = trained
    path = session.save(tmp_path / "net.jaxnn")
    loaded = jaxnn.load_model(path)
    got = jaxnn.predict(loaded.model, loaded.train_state, session._xt)
    want = layer_outputs(SETTINGS, session.train_state.params, session._xt)[-1]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_regenerate_draws_new_points_and_weights():
    session = Session(SETTINGS)
    x_before = session.data[0][0]
    session.regenerate(99)
    assert session.settings.seed == 99 and not np.array_equal(session.data[0][0], x_before)
    np.testing.assert_array_equal(
        session.data[0][0], load_data(dataclasses.replace(SETTINGS, seed=99))[0][0]
    )
