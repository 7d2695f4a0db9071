import io
import json
import sys
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn.interop import KerasModel, from_keras

h5py = pytest.importorskip("h5py")

# Keras' own deprecation warnings are not jaxnn's concern.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")

ATOL = 1e-5


def rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------------------------------
# Hand-written archives: no Keras needed


def write_keras(path, config, weights):
    """A .keras zip: config.json plus model.weights.h5 with ``{group_path: [arrays]}``."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        for group_path, arrays in weights.items():
            group = h5.create_group(f"{group_path}/vars")
            for i, array in enumerate(arrays):
                group.create_dataset(str(i), data=array)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", buffer.getvalue())
    return path


def layer_entry(class_name, **config):
    return {"module": "keras.layers", "class_name": class_name, "config": config}


def sequential_config(*layers, input_shape=(None, 3)):
    entries = [
        layer_entry(
            "InputLayer", name="input_layer", batch_shape=list(input_shape), dtype="float32"
        )
    ]
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": entries + list(layers)}}


@pytest.fixture
def dense_file(tmp_path):
    """Dense(4, relu) -> BatchNormalization -> Dense(2, softmax), weights drawn here."""
    r = rng(1)
    w = {
        "k1": r.normal(size=(3, 4)), "b1": r.normal(size=4), "gamma": r.uniform(0.5, 1.5, 4),
        "beta": r.normal(size=4), "mean": r.normal(size=4), "var": r.uniform(0.5, 2.0, 4),
        "k2": r.normal(size=(4, 2)), "b2": r.normal(size=2),
    }  # fmt: skip
    w = {k: v.astype(np.float32) for k, v in w.items()}
    config = sequential_config(
        layer_entry("Dense", name="hidden", units=4, activation="relu", use_bias=True),
        layer_entry(
            "BatchNormalization",
            name="norm",
            axis=-1,
            momentum=0.9,
            epsilon=0.01,
            center=True,
            scale=True,
        ),
        layer_entry("Dense", name="out", units=2, activation="softmax", use_bias=True),
    )
    weights = {
        "layers/dense": [w["k1"], w["b1"]],
        "layers/batch_normalization": [w["gamma"], w["beta"], w["mean"], w["var"]],
        "layers/dense_1": [w["k2"], w["b2"]],
    }
    return write_keras(tmp_path / "model.keras", config, weights), w


def test_from_keras_hand_written_file_matches_numpy(dense_file):
    path, w = dense_file
    model, params, state, input_shape = from_keras(path)
    assert input_shape == (-1, 3)
    assert [child.config["type"] for child in model.children] == ["Dense", "BatchNorm", "Dense"]
    assert (
        model.children[1].config["momentum"] == 0.9 and model.children[1].config["epsilon"] == 0.01
    )
    np.testing.assert_array_equal(state["norm"]["var"], w["var"])
    x = rng(2).normal(size=(5, 3)).astype(np.float32)
    h = np.maximum(x @ w["k1"] + w["b1"], 0)
    h = (h - w["mean"]) / np.sqrt(w["var"] + 0.01) * w["gamma"] + w["beta"]
    logits = h @ w["k2"] + w["b2"]
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y, new_state = model.apply(params, state, jnp.asarray(x))
    np.testing.assert_allclose(y, expected, atol=ATOL, rtol=1e-5)
    assert new_state is not None and set(new_state) == {"hidden", "norm", "out"}


def test_from_keras_returns_a_named_tuple(dense_file):
    imported = from_keras(str(dense_file[0]))
    assert isinstance(imported, KerasModel)
    assert imported.model.name == "seq"
    assert jax.tree.map(jnp.shape, imported.params["hidden"]) == {"b": (4,), "w": (3, 4)}


def test_from_keras_model_fine_tunes_with_fit(dense_file):
    model, params, state, input_shape = from_keras(dense_file[0])
    x = rng(5).normal(size=(128, 3)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    opt = optax.adam(0.05)
    ts = jaxnn.TrainState.create(model, jax.random.key(0), input_shape, opt)
    ts = ts._replace(params=params, state=state)  # start from the file's weights
    ts, history = jaxnn.fit(
        model, (x, y), loss="sparse_categorical_crossentropy", optimizer=opt, epochs=30,
        batch_size=32, initial_state=ts, verbose=0,
    )  # fmt: skip
    assert history.history["loss"][-1] < 0.3 < history.history["loss"][0]
    assert not np.allclose(ts.state["norm"]["mean"], state["norm"]["mean"])  # moving statistics


def test_from_keras_file_errors(tmp_path, dense_file):
    with pytest.raises(FileNotFoundError, match="from_keras: no such file .*missing.keras"):
        from_keras(tmp_path / "missing.keras")
    text = tmp_path / "notes.keras"
    text.write_text("not a zip")
    with pytest.raises(
        ValueError, match=r"from_keras: '.*notes.keras' is not a .keras file \(not a zip archive\)"
    ):
        from_keras(text)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(dense_file[0].read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.keras' is not a .keras file"):
        from_keras(truncated)
    empty = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(
        ValueError,
        match=r"empty.keras' has no config.json and no model.weights.h5; it holds \['metadata.json'\]",
    ):
        from_keras(empty)


def rewrite(src, dst, **members):
    """Copies the archive ``src`` to ``dst`` with some members replaced."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for name in old.namelist():
            new.writestr(name, members.get(name.replace(".", "_"), old.read(name)))
    return dst


def test_from_keras_damaged_members(tmp_path, dense_file):
    path = dense_file[0]
    bad_json = rewrite(path, tmp_path / "json.keras", config_json=b"{not json")
    with pytest.raises(ValueError, match="json.keras' is damaged"):
        from_keras(bad_json)
    bad_h5 = rewrite(path, tmp_path / "h5.keras", model_weights_h5=b"garbage")
    with pytest.raises(ValueError, match="model.weights.h5 is damaged"):
        from_keras(bad_h5)


def test_from_keras_weights_that_do_not_fit(tmp_path):
    config = sequential_config(layer_entry("Dense", name="d", units=2, activation="linear"))
    wrong = write_keras(
        tmp_path / "w.keras", config, {"layers/dense": [np.ones((5, 2)), np.ones(2)]}
    )
    with pytest.raises(
        ValueError, match=r"layer 'd' has weights .*\(5, 2\).* but its input needs .*\(3, 2\)"
    ):
        from_keras(wrong)
    missing = write_keras(tmp_path / "m.keras", config, {})
    with pytest.raises(
        ValueError,
        match=r"Keras layer 'd' \(Dense\): the weights file holds 0 arrays for this layer; its config needs 2 \(kernel, bias\)",
    ):
        from_keras(missing)


def test_from_keras_unsupported_layer_and_option(tmp_path):
    noise = write_keras(
        tmp_path / "n.keras",
        sequential_config(layer_entry("GaussianNoise", name="noise", stddev=0.1)),
        {},
    )
    with pytest.raises(
        NotImplementedError,
        match=r"Keras layer 'noise' \(GaussianNoise\): this layer type has no jaxnn equivalent. Supported Keras layers: Activation, AveragePooling1D, .*Dense, .*LSTM, .*Softmax",
    ):
        from_keras(noise)
    config = sequential_config(layer_entry("Dense", name="d", units=2, activation="exponential"))
    act = write_keras(tmp_path / "a.keras", config, {"layers/dense": [np.ones((3, 2)), np.ones(2)]})
    with pytest.raises(
        NotImplementedError,
        match=r"'d' \(Dense\): activation='exponential' has no jaxnn equivalent. Supported activations: elu, gelu",
    ):
        from_keras(act)
    config = sequential_config(
        layer_entry("ReLU", name="r", max_value=2.0, negative_slope=0.0, threshold=0.0)
    )
    with pytest.raises(
        NotImplementedError, match=r"'r' \(ReLU\): option max_value=2.0 .*is not supported"
    ):
        from_keras(write_keras(tmp_path / "r.keras", config, {}))
    config = sequential_config(
        layer_entry("Conv1D", name="c", filters=2, kernel_size=[3], data_format="channels_first")
    )
    with pytest.raises(
        NotImplementedError,
        match=r"'c' \(Conv1D\): option data_format='channels_first' is not supported; jaxnn can express only data_format='channels_last'",
    ):
        from_keras(write_keras(tmp_path / "c.keras", config, {}))
    subclassed = write_keras(
        tmp_path / "s.keras", {"class_name": "MyModel", "config": {"name": "m"}}, {}
    )
    with pytest.raises(
        NotImplementedError,
        match="the model is a 'MyModel'; from_keras reads Sequential and functional models",
    ):
        from_keras(subclassed)


def test_from_keras_without_h5py_says_what_to_install(monkeypatch, dense_file):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r'pip install "jaxnn\[keras\]"'):
        from_keras(dense_file[0])


# ------------------------------------------------------------------------------------------------
# Models built and saved by Keras itself


ACTIVATIONS = [
    "relu",
    "sigmoid",
    "tanh",
    "elu",
    "selu",
    "gelu",
    "softplus",
    "swish",
    "leaky_relu",
    "hard_sigmoid",
    "linear",
]


def randomize(model, r):
    """Draws every weight here (Keras' own initializers compile once per shape: slow on CPU)."""
    for w in model.weights:
        value = r.normal(0.0, 0.5, size=w.shape)
        if "variance" in w.path:
            value = r.uniform(0.5, 1.5, size=w.shape)
        w.assign(value.astype("float32"))


def build_models(keras, directory):
    """Every Keras model the tests load, saved once; returns {name: (keras_model, path, x)}."""
    kl = keras.layers
    r = rng(0)
    models = {}
    zero = {"kernel_initializer": "zeros"}
    zero_rnn = {**zero, "recurrent_initializer": "zeros"}

    def save(name, model, x):
        randomize(model, r)
        path = directory / f"{name}.keras"
        model.save(path)
        models[name] = (model, path, x)

    save("mlp", keras.Sequential(
        [keras.Input((6,)), *[kl.Dense(5, activation=a, **zero) for a in ACTIVATIONS],
         kl.Dropout(0.3), kl.ReLU(max_value=6.0), kl.Dense(4, **zero),
         kl.LeakyReLU(negative_slope=0.1), kl.ELU(), kl.Dense(3, **zero), kl.Activation("softmax")]),
        r.normal(size=(7, 6)).astype("float32"))  # fmt: skip

    cnn = keras.Sequential(
        [keras.Input((8, 8, 2)), kl.Conv2D(4, 3, padding="same", activation="relu", **zero),
         kl.BatchNormalization(momentum=0.8), kl.MaxPooling2D(2),
         kl.Conv2D(3, (2, 3), strides=(1, 2), **zero), kl.AveragePooling2D(2, strides=1, padding="same"),
         kl.Flatten(), kl.Dense(3, activation="softmax", **zero)])  # fmt: skip
    x_cnn = r.normal(size=(6, 8, 8, 2)).astype("float32")
    save("cnn", cnn, x_cnn)
    for _ in range(2):  # training steps move the batch norm's moving statistics
        cnn(x_cnn + 1.0, training=True)
    cnn.save(models["cnn"][1])

    save("conv1d", keras.Sequential(
        [keras.Input((12, 3)), kl.Conv1D(4, 3, padding="causal", activation="relu", **zero),
         kl.MaxPooling1D(2), kl.Conv1D(4, 3, dilation_rate=2, padding="same", use_bias=False, **zero),
         kl.AveragePooling1D(2), kl.GlobalMaxPooling1D(), kl.Dense(2, **zero)]),
        r.normal(size=(4, 12, 3)).astype("float32"))  # fmt: skip

    ids = r.integers(1, 20, size=(5, 7))
    ids[1, 4:] = 0  # padded sequences
    ids[3, 2:] = 0
    save("embedding_lstm", keras.Sequential(
        [keras.Input((7,), dtype="int32"), kl.Embedding(20, 4, mask_zero=True,
         embeddings_initializer="zeros"), kl.LSTM(5, return_sequences=True, **zero_rnn),
         kl.LSTM(3, **zero_rnn), kl.Dense(2, **zero)]), ids)  # fmt: skip

    x_seq = r.normal(size=(4, 6, 3)).astype("float32")
    save("rnn", keras.Sequential(
        [keras.Input((6, 3)), kl.SimpleRNN(4, return_sequences=True, **zero_rnn),
         kl.GRU(4, return_sequences=True, **zero_rnn),
         kl.GRU(3, reset_after=False, go_backwards=True, **zero_rnn), kl.Dense(2, **zero)]),
        x_seq)  # fmt: skip
    save("rnn_sequences", keras.Sequential(
        [keras.Input((6, 3)), kl.GRU(3, return_sequences=True, use_bias=False, **zero_rnn),
         kl.SimpleRNN(2, go_backwards=True, **zero_rnn), kl.Reshape((2, 1)),
         kl.LSTM(3, return_sequences=True, **zero_rnn)]), x_seq)  # fmt: skip

    inputs = keras.Input((6, 6, 1))
    h = kl.Conv2D(4, 3, activation="relu", **zero)(inputs)
    h = kl.GlobalAveragePooling2D()(h)
    h = kl.LayerNormalization()(kl.Dense(4, **zero)(h))
    h = kl.GlobalAveragePooling1D()(kl.Reshape((2, 2))(h))
    outputs = kl.Softmax()(kl.Dense(3, **zero)(h))
    save("functional", keras.Model(inputs, outputs), r.normal(size=(3, 6, 6, 1)).astype("float32"))

    inputs = keras.Input((3,))
    left, right = (kl.Dense(2, name=n, **zero)(inputs) for n in ("left", "right"))
    save("branches", keras.Model(inputs, kl.Add()([left, right])), None)
    save("masked_output", keras.Sequential(
        [keras.Input((5,), dtype="int32"), kl.Embedding(9, 2, mask_zero=True),
         kl.SimpleRNN(2, return_sequences=True, **zero_rnn)]), None)  # fmt: skip
    save(
        "rnn_relu",
        keras.Sequential([keras.Input((5, 2)), kl.LSTM(2, activation="relu", **zero_rnn)]),
        None,
    )
    return models


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_BACKEND", "jax")
        keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip(f"Keras runs on the {keras.backend.backend()} backend; these tests need jax.")
    with keras_numerics():
        return build_models(keras, tmp_path_factory.mktemp("keras"))


def keras_numerics():
    """Keras relies on implicit rank promotion, which conftest.py makes an error for jaxnn."""
    return jax.numpy_rank_promotion("allow")


def init_output_shape(model, input_shape):
    """``model.init``'s output shape, traced without drawing the weights."""
    found = []
    jax.eval_shape(lambda key: found.append(model.init(key, input_shape)[0]), jax.random.key(0))
    return found[0]


@pytest.mark.parametrize(
    "name", ["mlp", "cnn", "conv1d", "embedding_lstm", "rnn", "rnn_sequences", "functional"]
)
def test_from_keras_matches_keras_predict(keras_models, name, tmp_path):
    keras_model, path, x = keras_models[name]
    model, params, state, input_shape = from_keras(path)
    assert input_shape == (-1, *x.shape[1:])
    y, new_state = jax.jit(model.apply)(params, state, jnp.asarray(x))
    with keras_numerics():
        expected = keras_model.predict(x, verbose=0)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, atol=ATOL, rtol=1e-5)
    jax.tree.map(np.testing.assert_array_equal, new_state, state)  # evaluation: unchanged
    # jaxnn's own layers, with configs, and init agrees on the output shape
    assert all(child.config is not None for child in model.children)
    assert init_output_shape(model, input_shape) == (-1, *expected.shape[1:])
    # ... so the imported model is a jaxnn model file away from running without Keras
    saved = jaxnn.save_model(tmp_path / "m.jaxnn", model, (params, state), input_shape=input_shape)
    loaded = jaxnn.load_model(saved)
    y_loaded = jax.jit(loaded.model.apply)(loaded.train_state.params, loaded.train_state.state, x)[
        0
    ]
    np.testing.assert_array_equal(y_loaded, y)


def test_from_keras_layer_types(keras_models):
    keras_model, path, _ = keras_models["rnn"]
    model = from_keras(path).model
    assert [c.config["type"] for c in model.children] == ["SimpleRNN", "GRU", "GRU", "Dense"]
    assert [c.name for c in model.children] == [layer.name for layer in keras_model.layers]
    gru = model.children[2].config
    assert (
        gru["reset_after"] is False and gru["reverse"] is True and gru["return_sequences"] is False
    )


def test_from_keras_batch_norm_statistics_and_training_mode(keras_models):
    keras_model, path, x = keras_models["cnn"]
    model, params, state, _ = from_keras(path)
    bn = keras_model.layers[1]
    name = bn.name
    np.testing.assert_allclose(state[name]["mean"], np.asarray(bn.moving_mean), rtol=1e-6)
    assert float(jnp.abs(state[name]["mean"]).max()) > 0.01  # the training steps moved it
    # training mode: batch statistics and the moving-average update agree with Keras
    y, new_state = model.apply(params, state, jnp.asarray(x), key=jax.random.key(0), train=True)
    with keras_numerics():
        expected = np.asarray(keras_model(x, training=True))  # updates bn's moving statistics
    np.testing.assert_allclose(y, expected, atol=ATOL, rtol=1e-5)
    np.testing.assert_allclose(new_state[name]["mean"], np.asarray(bn.moving_mean), atol=1e-6)
    np.testing.assert_allclose(new_state[name]["var"], np.asarray(bn.moving_variance), atol=1e-6)


def test_from_keras_graph_and_mask_errors(keras_models):
    with pytest.raises(
        NotImplementedError,
        match=r"layer 'add' \(Add\) takes inputs from \['left', 'right'\]; from_keras reads models whose layers form one chain",
    ):
        from_keras(keras_models["branches"][1])
    with pytest.raises(
        NotImplementedError,
        match=r"the model's output is the masked sequence of 'embedding.*' \(mask_zero=True\)",
    ):
        from_keras(keras_models["masked_output"][1])
    with pytest.raises(
        NotImplementedError,
        match=r"\(LSTM\): option activation='relu' is not supported; jaxnn can express only activation='tanh'",
    ):
        from_keras(keras_models["rnn_relu"][1])
