"""from_keras on Keras 3's RMSNormalization and GroupNormalization: numerics, configs, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.interop import from_keras
from tests.interop.test_keras import (
    init_output_shape,
    keras_numerics,
    layer_entry,
    randomize,
    rng,
    sequential_config,
    write_keras,
)

# Keras' own deprecation warnings are not jaxnn's concern.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")

ATOL = 1e-5


# ------------------------------------------------------------------------------------------------
# Hand-written archives: no Keras needed


def test_hand_written_rms_and_group_norm_match_numpy(tmp_path):
    r = rng(3)
    scale, gamma, beta = r.normal(size=(2, 4)), r.normal(size=4), r.normal(size=4)
    config = sequential_config(
        layer_entry("RMSNormalization", name="rms", axis=[-2, -1], epsilon=0.01),
        layer_entry("GroupNormalization", name="gn", groups=2, axis=-1, epsilon=0.1),
        input_shape=(None, 2, 4),
    )
    weights = {"layers/rms_normalization": [scale], "layers/group_normalization": [gamma, beta]}
    model, params, state, input_shape = from_keras(
        write_keras(tmp_path / "m.keras", config, weights)
    )
    assert input_shape == (-1, 2, 4) and state == {"rms": {}, "gn": {}}
    assert [c.config["type"] for c in model.children] == ["RMSNorm", "GroupNorm"]
    x = r.normal(1.0, 2.0, size=(3, 2, 4)).astype(np.float32)
    y, _ = jax.jit(model.apply)(params, state, jnp.asarray(x))
    # NumPy: RMS over both axes of each sample, then 2 groups of 2 channels over the 2 positions
    h = x / np.sqrt((x**2).mean(axis=(1, 2), keepdims=True) + 0.01) * scale
    g = h.reshape(3, 2, 2, 2)
    g = (g - g.mean(axis=(1, 3), keepdims=True)) / np.sqrt(g.var(axis=(1, 3), keepdims=True) + 0.1)
    np.testing.assert_allclose(y, g.reshape(x.shape) * gamma + beta, rtol=1e-5, atol=ATOL)


@pytest.mark.parametrize(
    "entry, weights, error, match",
    [
        (layer_entry("RMSNormalization", name="r", axis=[1], epsilon=1e-6), {}, NotImplementedError,
         r"Keras layer 'r' \(RMSNormalization\): option axis=\[1\] is not supported; jaxnn's RMSNorm takes axes counted from the end"),
        (layer_entry("GroupNormalization", name="g", groups=2, axis=1), {}, NotImplementedError,
         r"Keras layer 'g' \(GroupNormalization\): option axis=1 is not supported; jaxnn normalises over the last axis only"),
        (layer_entry("RMSNormalization", name="r", axis=[-1]), {}, ValueError,
         r"'r' \(RMSNormalization\): the weights file holds 0 arrays for this layer; its config needs 1 \(scale\)"),
        (layer_entry("GroupNormalization", name="g", groups=2, center=False),
         {"layers/group_normalization": [np.ones(4), np.zeros(4)]}, ValueError,
         r"'g' \(GroupNormalization\): the weights file holds 2 arrays .* needs 1 \(gamma\)"),
        (layer_entry("GroupNormalization", name="g", groups=3),
         {"layers/group_normalization": [np.ones(4), np.zeros(4)]}, ValueError,
         r"GroupNorm 'g': groups=3 must divide the number of channels C=4"),
    ],
)  # fmt: skip
def test_conversion_errors(tmp_path, entry, weights, error, match):
    path = write_keras(
        tmp_path / "e.keras", sequential_config(entry, input_shape=(None, 4)), weights
    )
    with pytest.raises(error, match=match):
        from_keras(path)


# ------------------------------------------------------------------------------------------------
# Models built and saved by Keras itself


def build_models(keras, directory):
    """Keras models with the two layers, saved once; returns {name: (keras_model, path, x)}."""
    kl = keras.layers
    r = rng(5)
    models = {}

    def save(name, model, x):
        randomize(model, r)
        path = directory / f"{name}.keras"
        model.save(path)
        models[name] = (model, path, x)

    zero = {"kernel_initializer": "zeros"}
    save("image", keras.Sequential(
        [keras.Input((6, 6, 2)), kl.Conv2D(6, 3, padding="same", **zero),
         kl.GroupNormalization(groups=3), kl.GroupNormalization(groups=-1, center=False),
         kl.RMSNormalization(), kl.GlobalAveragePooling2D(), kl.Dense(3, **zero)]),
        r.normal(1.0, 2.0, size=(4, 6, 6, 2)).astype("float32"))  # fmt: skip
    save("sequence", keras.Sequential(
        [keras.Input((5, 8)), kl.Dense(8, **zero), kl.RMSNormalization(axis=[-2, -1], epsilon=1e-4),
         kl.GroupNormalization(groups=4, scale=False, epsilon=0.01), kl.Flatten(),
         kl.Dense(2, **zero)]),
        r.normal(0.5, 1.5, size=(3, 5, 8)).astype("float32"))  # fmt: skip
    return models


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_BACKEND", "jax")
        keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip(f"Keras runs on the {keras.backend.backend()} backend; these tests need jax.")
    with keras_numerics():
        return build_models(keras, tmp_path_factory.mktemp("keras_norms"))


@pytest.mark.parametrize("name", ["image", "sequence"])
def test_from_keras_matches_keras_predict(keras_models, name, tmp_path):
    keras_model, path, x = keras_models[name]
    model, params, state, input_shape = from_keras(path)
    assert input_shape == (-1, *x.shape[1:])
    y, _ = jax.jit(model.apply)(params, state, jnp.asarray(x))
    with keras_numerics():
        expected = keras_model.predict(x, verbose=0)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, atol=ATOL, rtol=1e-5)
    assert init_output_shape(model, input_shape) == (-1, *expected.shape[1:])
    # ... and through a jaxnn model file, without Keras
    saved = jaxnn.save_model(tmp_path / "m.jaxnn", model, (params, state), input_shape=input_shape)
    loaded = jaxnn.load_model(saved)
    ts = loaded.train_state
    np.testing.assert_array_equal(jax.jit(loaded.model.apply)(ts.params, ts.state, x)[0], y)


def test_from_keras_layer_configs_and_weights(keras_models):
    keras_model, path, _ = keras_models["image"]
    model, params, _, _ = from_keras(path)
    configs = {c.name: c.config for c in model.children}
    _, group, instance, rms, *_ = keras_model.layers
    assert configs[group.name]["groups"] == 3 and configs[group.name]["epsilon"] == 1e-3
    # Keras' groups=-1 (instance normalisation) is saved built: one group per channel
    assert configs[instance.name]["groups"] == 6 and configs[instance.name]["use_bias"] is False
    assert set(params[instance.name]) == {"gamma"}
    assert configs[rms.name]["axis"] == -1 and configs[rms.name]["epsilon"] == 1e-6
    np.testing.assert_array_equal(params[rms.name]["gamma"], np.asarray(rms.scale))
    np.testing.assert_array_equal(params[group.name]["beta"], np.asarray(group.beta))
    keras_model, path, _ = keras_models["sequence"]
    configs = {c.name: c.config for c in from_keras(path).model.children}
    _, rms, group, *_ = keras_model.layers
    assert configs[rms.name]["axis"] == (-2, -1) and configs[rms.name]["epsilon"] == 1e-4
    assert configs[group.name]["use_scale"] is False and configs[group.name]["groups"] == 4
