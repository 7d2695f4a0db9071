"""Tests of jaxnn.models.features: intermediates, layer_paths and submodel."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn import Layer, parallel, residual, serial
from jaxnn.layers import BatchNorm, Dense, Dropout
from jaxnn.models.features import OUTPUT_KEY, intermediates, layer_paths, submodel
from jaxnn.paths import leaves_with_paths

BN_EPSILON = 1e-3  # BatchNorm's default

PATHS = [
    "dense",
    "batch_norm",
    "relu",
    "encoder",
    "encoder/dense",
    "encoder/tanh",
    "parallel",
    "parallel/dense",
    "parallel/serial",
    "parallel/serial/dense",
    "parallel/serial/dense_1",
    "parallel/dense_1",
    "residual",
    "residual/dense",
    "residual/tanh",
    "dropout",
    "dense_1",
]


def make_model():
    return serial(
        Dense(5),
        BatchNorm(),
        jax.nn.relu,
        serial(Dense(4), jnp.tanh, name="encoder"),
        parallel(Dense(2), serial(Dense(3), Dense(2)), Dense(1)),  # 2 + 2 + 1 = 5 features
        residual(Dense(5), jnp.tanh),
        Dropout(0.5),
        Dense(3),
        name="net",
    )


@pytest.fixture(scope="module")
def setup():
    model = make_model()
    _, params, state = model.init(jax.random.key(0), (-1, 3))
    rng = np.random.default_rng(0)
    # Non-trivial BatchNorm statistics and affine params, so that evaluation mode is visible.
    params["batch_norm"] = {
        "gamma": jnp.asarray(rng.uniform(0.5, 2.0, 5), jnp.float32),
        "beta": jnp.asarray(rng.normal(size=5), jnp.float32),
    }
    state["batch_norm"] = {
        "mean": jnp.asarray(rng.normal(size=5), jnp.float32),
        "var": jnp.asarray(rng.uniform(0.5, 2.0, 5), jnp.float32),
    }
    x = jnp.asarray(rng.normal(size=(6, 3)), jnp.float32)
    return model, params, state, x


@pytest.fixture(scope="module")
def features(setup):
    model, params, state, x = setup
    return intermediates(model, params, state, x)


def _np(tree):
    return jax.tree.map(lambda a: np.asarray(a, np.float64), tree)


def _dense(p, h):
    return h @ p["w"] + p["b"]


def reference_outputs(params, state, x):
    """Every layer's output in evaluation mode, chained by hand in NumPy (float64)."""
    p, s, x = _np(params), _np(state), np.asarray(x, np.float64)
    out = {}
    h = out["dense"] = _dense(p["dense"], x)
    bn, stats = p["batch_norm"], s["batch_norm"]
    h = out["batch_norm"] = (h - stats["mean"]) / np.sqrt(stats["var"] + BN_EPSILON) * bn[
        "gamma"
    ] + bn["beta"]
    h = out["relu"] = np.maximum(h, 0.0)
    out["encoder/dense"] = _dense(p["encoder"]["dense"], h)
    h = out["encoder/tanh"] = out["encoder"] = np.tanh(out["encoder/dense"])
    a = out["parallel/dense"] = _dense(p["parallel"]["dense"], h)
    b = out["parallel/serial/dense"] = _dense(p["parallel"]["serial"]["dense"], h)
    b = out["parallel/serial/dense_1"] = _dense(p["parallel"]["serial"]["dense_1"], b)
    out["parallel/serial"] = b
    c = out["parallel/dense_1"] = _dense(p["parallel"]["dense_1"], h)
    h = out["parallel"] = np.concatenate([a, b, c], axis=-1)
    out["residual/dense"] = _dense(p["residual"]["dense"], h)
    out["residual/tanh"] = np.tanh(out["residual/dense"])
    h = out["residual"] = h + out["residual/tanh"]
    out["dropout"] = h  # evaluation: the identity
    out["dense_1"] = out["output"] = _dense(p["dense_1"], h)
    return out


def _at(tree, path):
    for name in path.split("/"):
        tree = tree[name]
    return tree


# ----------------------------------------------------------------------------------------------
# intermediates


def test_intermediates_keys_are_paths_in_call_order_then_output(setup, features):
    model = setup[0]
    assert list(features) == PATHS + [OUTPUT_KEY]
    assert layer_paths(model) == PATHS
    assert OUTPUT_KEY == "output"


def test_intermediates_equal_hand_chained_numpy_forward(setup, features):
    _, params, state, x = setup
    expected = reference_outputs(params, state, x)
    assert set(expected) == set(features)
    for path, want in expected.items():
        np.testing.assert_allclose(features[path], want, rtol=1e-5, atol=1e-5, err_msg=path)


def test_intermediates_output_is_the_model_output(setup, features):
    model, params, state, x = setup
    y, _ = model.apply(params, state, x)
    np.testing.assert_allclose(features[OUTPUT_KEY], y, rtol=1e-6, atol=1e-6)


def test_intermediates_in_training_reproduce_the_models_own_call(setup):
    model, params, state, x = setup
    key = jax.random.key(3)
    got = intermediates(model, params, state, x, key=key, train=True)
    y, _ = model.apply(params, state, x, key=key, train=True)
    np.testing.assert_allclose(got[OUTPUT_KEY], y, rtol=1e-5, atol=1e-6)
    # BatchNorm in training normalises with the batch statistics (biased variance).
    h = np.asarray(got["dense"], np.float64)
    bn = _np(params["batch_norm"])
    want = (h - h.mean(0)) / np.sqrt(h.var(0) + BN_EPSILON) * bn["gamma"] + bn["beta"]
    np.testing.assert_allclose(got["batch_norm"], want, rtol=1e-4, atol=1e-5)
    # Dropout(0.5) keeps an element as 2x its input or zeroes it; both happen.
    before, after = np.asarray(got["residual"]), np.asarray(got["dropout"])
    kept = after != 0
    np.testing.assert_allclose(after[kept], 2 * before[kept], rtol=1e-6)
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(
        got["dense_1"], _dense(_np(params["dense_1"]), after), rtol=1e-5, atol=1e-5
    )


def test_intermediates_compiles_once_per_shape():
    traces = []

    def init(key, input_shape):
        return input_shape, {}, {}

    def apply(params, state, x, *, key=None, train=False):
        traces.append(x.shape)  # runs only while tracing
        return 2 * x, state

    model = serial(Layer(init, apply, "double"), Dense(2))
    _, params, state = model.init(jax.random.key(0), (-1, 3))
    x = jnp.arange(12.0).reshape(4, 3)
    first = intermediates(model, params, state, x)
    second = intermediates(model, params, state, x + 1)
    assert traces == [(4, 3)]
    np.testing.assert_allclose(first["double"], 2 * np.arange(12.0).reshape(4, 3))
    np.testing.assert_allclose(second["double"], 2 * np.arange(12.0).reshape(4, 3) + 2)
    intermediates(model, params, state, x[:2])
    assert traces == [(4, 3), (2, 3)]


def test_intermediates_select_paths_by_pattern(setup, features):
    model, params, state, x = setup
    picked = intermediates(model, params, state, x, paths=["parallel/*", "output"])
    assert list(picked) == [
        "parallel/dense",
        "parallel/serial",
        "parallel/serial/dense",
        "parallel/serial/dense_1",
        "parallel/dense_1",
        "output",
    ]
    for path, value in picked.items():
        np.testing.assert_allclose(value, features[path], rtol=1e-6, atol=1e-6)
    assert list(intermediates(model, params, state, x, paths="encoder")) == ["encoder"]
    exact = intermediates(model, params, state, x, paths=[("parallel", "dense")])
    assert list(exact) == ["parallel/dense"]


def test_intermediates_keep_pytree_outputs():
    pair = jaxnn.lift(lambda h: (h, h.sum(axis=-1)), name="pair")
    model = serial(Dense(3), pair)
    _, params, state = model.init(jax.random.key(0), (-1, 2))
    x = jnp.array([[1.0, 2.0], [3.0, -1.0]])
    got = intermediates(model, params, state, x)
    h = _dense(_np(params["dense"]), np.asarray(x, np.float64))
    assert isinstance(got["pair"], tuple) and isinstance(got[OUTPUT_KEY], tuple)
    np.testing.assert_allclose(got["pair"][0], h, rtol=1e-5)
    np.testing.assert_allclose(got["pair"][1], h.sum(-1), rtol=1e-5)


def test_intermediates_of_a_plain_layer_is_its_output():
    layer = Dense(2)
    _, params, state = layer.init(jax.random.key(0), (-1, 3))
    x = jnp.ones((2, 3))
    got = intermediates(layer, params, state, x)
    assert list(got) == [OUTPUT_KEY]
    np.testing.assert_allclose(got[OUTPUT_KEY], _dense(_np(params), np.ones((2, 3))), rtol=1e-6)


def test_last_layer_named_output_is_the_models_output():
    model = serial(Dense(3), Dense(2, name="output"))
    _, params, state = model.init(jax.random.key(0), (-1, 2))
    got = intermediates(model, params, state, jnp.ones((1, 2)))
    assert list(got) == ["dense", "output"]


def test_intermediates_errors(setup):
    model, params, state, x = setup
    with pytest.raises(
        ValueError, match=r"pattern 'encoder/nope' matches no layer.*'encoder/dense'"
    ):
        intermediates(model, params, state, x, paths=["encoder/nope"])
    missing = {k: v for k, v in params.items() if k != "encoder"}
    with pytest.raises(
        ValueError, match=r"do not match model 'net'.*params: missing \['encoder/dense/b'"
    ):
        intermediates(model, missing, state, x)
    wrong = {**params, "dense_1": {"w": jnp.zeros((4, 3)), "b": params["dense_1"]["b"]}}
    with pytest.raises(ValueError, match=r"'dense_1/w' has shape \(4, 3\), expected \(5, 3\)"):
        intermediates(model, wrong, state, x)
    with pytest.raises(ValueError, match=r"state: missing \['batch_norm/mean', 'batch_norm/var'\]"):
        intermediates(model, params, {**state, "batch_norm": {}}, x)
    with pytest.raises(TypeError, match="train must be True or False; got 1"):
        intermediates(model, params, state, x, train=1)
    with pytest.raises(TypeError, match="intermediates: key must be a PRNG key"):
        intermediates(model, params, state, x, key=0, train=True)
    with pytest.raises(ValueError, match="Dropout 'dropout': apply\\(train=True\\) needs a key"):
        intermediates(model, params, state, x, train=True)


def test_inner_layer_named_output_is_an_error():
    model = parallel(Dense(2, name="output"), Dense(2))
    _, params, state = model.init(jax.random.key(0), (-1, 2))
    with pytest.raises(ValueError, match="layer at path 'output' is not the last layer"):
        intermediates(model, params, state, jnp.ones((1, 2)))


# ----------------------------------------------------------------------------------------------
# submodel


@pytest.mark.parametrize("path", PATHS + [OUTPUT_KEY])
def test_submodel_output_params_and_structure(setup, features, path):
    model, params, state, x = setup
    cut = submodel(model, path, params=params, state=state)
    assert cut.model.name == "net"
    # Its init gives exactly the structure and shapes of the pruned params and state.
    _, init_params, init_state = cut.model.init(jax.random.key(1), (-1, 3))
    for got, want in ((cut.params, init_params), (cut.state, init_state)):
        assert jax.tree.structure(got) == jax.tree.structure(want)
        assert jax.tree.map(jnp.shape, got) == jax.tree.map(jnp.shape, want)
    # The pruned trees hold the original arrays, under the original paths.
    for tree, original in ((cut.params, params), (cut.state, state)):
        for leaf_path, leaf in leaves_with_paths(tree):
            assert _at(original, leaf_path) is leaf
    y, _ = cut.model.apply(cut.params, cut.state, x)
    np.testing.assert_allclose(y, features[path], rtol=1e-5, atol=1e-6)


def test_submodel_keeps_the_prefix_of_each_serial(setup):
    model, params, state, _ = setup
    cut = submodel(model, "encoder/dense", params=params, state=state)
    assert list(cut.params) == ["dense", "batch_norm", "relu", "encoder"]
    assert list(cut.params["encoder"]) == ["dense"]
    assert list(cut.state["batch_norm"]) == ["mean", "var"]


def test_submodel_in_a_parallel_keeps_only_that_branch(setup):
    model, params, _, _ = setup
    first = submodel(model, "parallel/serial/dense", params=params)
    assert list(first.params["parallel"]) == ["serial"]
    assert list(first.params["parallel"]["serial"]) == ["dense"]
    third = submodel(model, "parallel/dense_1", params=params)
    assert list(third.params["parallel"]) == ["dense_1"]  # renamed, so the path is the same
    assert third.params["parallel"]["dense_1"]["w"].shape == (4, 1)


def test_submodel_inside_a_residual_has_no_skip(setup, features):
    model, params, state, x = setup
    cut = submodel(model, ("residual", "tanh"), params=params, state=state)
    y, _ = cut.model.apply(cut.params, cut.state, x)
    # The residual's output is its input (the parallel's output) plus the body's output.
    body = np.asarray(features["residual"]) - np.asarray(features["parallel"])
    np.testing.assert_allclose(y, body, rtol=1e-5, atol=1e-5)


def test_submodel_of_the_whole_model_returns_it_unchanged(setup):
    model, params, state, _ = setup
    for upto in (OUTPUT_KEY, (), "", "dense_1"):
        cut = submodel(model, upto, params=params, state=state)
        assert cut.model is model and cut.params is params and cut.state is state
    by_name, by_tuple = submodel(model, "encoder"), submodel(model, ("encoder",))
    assert by_name.model.config == by_tuple.model.config
    assert by_name.model.config["layers"][-1]["name"] == "encoder"
    assert submodel(model, "encoder").params is None


def test_submodel_of_a_root_parallel_with_two_serial_branches():
    model = parallel(Dense(2), serial(Dense(3), jnp.tanh), serial(Dense(4), jnp.tanh))
    _, params, state = model.init(jax.random.key(0), (-1, 2))
    x = jnp.array([[0.5, -1.0], [2.0, 0.25]])
    p = _np(params)
    xn = np.asarray(x, np.float64)
    expected = {
        "dense": _dense(p["dense"], xn),
        "serial/dense": _dense(p["serial"]["dense"], xn),
        "serial_1/tanh": np.tanh(_dense(p["serial_1"]["dense"], xn)),
    }
    for path, want in expected.items():
        cut = submodel(model, path, params=params, state=state)
        assert list(cut.params) == [path.split("/")[0]]
        assert cut.model.name == "parallel"
        y, _ = cut.model.apply(cut.params, cut.state, x)
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_submodel_errors(setup):
    model, params, state, _ = setup
    with pytest.raises(
        ValueError, match=r"unknown layer path 'encoder/nope' in model 'net'.*'encoder/dense'"
    ):
        submodel(model, "encoder/nope")
    with pytest.raises(ValueError, match="unknown layer path 'w'.*known paths are \\[\\]"):
        submodel(Dense(2), "w")
    with pytest.raises(
        TypeError, match="upto must be a path such as 'encoder/dense_1' .*; got int 3"
    ):
        submodel(model, 3)
    broken = {**params, "encoder": {"dense": params["encoder"]["dense"]}}
    with pytest.raises(
        ValueError,
        match=r"params do not match the model: at 'encoder' expected one entry per layer, "
        r"\['dense', 'tanh'\]; got \['dense'\]",
    ):
        submodel(model, "dense", params=broken)
    with pytest.raises(ValueError, match="state do not match the model: at the root .* got list"):
        submodel(model, "dense", state=[state])


# ----------------------------------------------------------------------------------------------
# Transfer learning: train, cut, add a head, freeze the reused layers, train the head.


@pytest.fixture(scope="module")
def points():
    x = np.random.default_rng(1).uniform(-1, 1, size=(256, 2)).astype(np.float32)
    quadrant = (2 * (x[:, 0] > 0) + (x[:, 1] > 0)).astype(np.int32)
    first_quadrant = (quadrant == 3).astype(np.int32)  # x > 0 and y > 0: not linear in x
    return x, quadrant, first_quadrant


def test_transfer_learning_freezes_the_reused_layers(points):
    x, quadrant, first_quadrant = points
    base = serial(serial(Dense(16), jnp.tanh, name="encoder"), Dense(4), name="base")
    fit_args = dict(loss="softmax_cross_entropy", optimizer="adam", batch_size=32, verbose=0)
    trained, _ = jaxnn.fit(base, (x, quadrant), learning_rate=0.05, epochs=20, **fit_args)

    cut = submodel(base, "encoder/tanh", params=trained.params, state=trained.state)
    model = serial(cut.model, Dense(2, name="head"), name="transfer")
    frozen = ["base/*"]
    optimizer = jaxnn.optimizers.freeze(jaxnn.optimizers.get("adam", 0.05), frozen)
    start = jaxnn.TrainState.create(model, jax.random.key(1), (-1, 2), optimizer)
    start = start._replace(params={**start.params, "base": cut.params})
    head_before = jax.tree.map(np.asarray, start.params["head"])
    ts, history = jaxnn.fit(
        model,
        (x, first_quadrant),
        learning_rate=0.05,
        epochs=10,
        freeze=frozen,
        initial_state=start,
        **fit_args,
    )
    for (path, after), (_, before) in zip(
        leaves_with_paths(ts.params["base"]), leaves_with_paths(cut.params), strict=True
    ):
        assert np.asarray(after).tobytes() == np.asarray(before).tobytes(), path
    assert not np.allclose(ts.params["head"]["w"], head_before["w"])
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert losses[-1] < 0.2  # predicting the majority class (75 %) gives 0.56
