"""from_keras on Keras 3's DepthwiseConv2D and SeparableConv2D: numerics, layouts, errors."""

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


def numpy_depthwise(x, kernel, bias):
    """A "valid", stride-1 depthwise convolution with Keras' kernel layout (K_h, K_w, C, M)."""
    kh, kw, c, m = kernel.shape
    n, h, w, _ = x.shape
    y = np.zeros((n, h - kh + 1, w - kw + 1, c, m))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i : i + h - kh + 1, j : j + w - kw + 1, :, None]
            y += patch * kernel[i, j]
    return y.reshape(*y.shape[:3], c * m) + bias  # output channel c M + m, as in Keras


# ------------------------------------------------------------------------------------------------
# Hand-written archives: no Keras needed


def test_hand_written_depthwise_and_separable_match_numpy(tmp_path):
    r = rng(4)
    dw, dw_b = r.normal(size=(3, 2, 2, 3)), r.normal(size=6)
    sep_dw, sep_pw, sep_b = (
        r.normal(size=(2, 2, 6, 1)),
        r.normal(size=(1, 1, 6, 4)),
        r.normal(size=4),
    )
    config = sequential_config(
        layer_entry("DepthwiseConv2D", name="dw", kernel_size=[3, 2], depth_multiplier=3,
                    activation="linear", use_bias=True),
        layer_entry("SeparableConv2D", name="sep", filters=4, kernel_size=[2, 2],
                    depth_multiplier=1, activation="tanh", use_bias=True),
        input_shape=(None, 6, 5, 2),
    )  # fmt: skip
    weights = {
        "layers/depthwise_conv2d": [dw, dw_b],
        "layers/separable_conv2d": [sep_dw, sep_pw, sep_b],
    }
    model, params, state, input_shape = from_keras(
        write_keras(tmp_path / "m.keras", config, weights)
    )
    assert input_shape == (-1, 6, 5, 2)
    assert [c.config["type"] for c in model.children] == ["DepthwiseConv2D", "SeparableConv2D"]
    assert params["dw"]["w"].shape == (3, 2, 1, 6)
    assert params["sep"]["depthwise"]["w"].shape == (2, 2, 1, 6)
    x = r.normal(size=(2, 6, 5, 2)).astype(np.float32)
    y, _ = jax.jit(model.apply)(params, state, jnp.asarray(x))
    h = numpy_depthwise(x, dw, dw_b)
    expected = np.tanh(numpy_depthwise(h, sep_dw, 0.0) @ sep_pw[0, 0] + sep_b)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=ATOL)


@pytest.mark.parametrize(
    "entry, weights, error, match",
    [
        (layer_entry("DepthwiseConv2D", name="d", kernel_size=[3, 3], data_format="channels_first"),
         {}, NotImplementedError,
         r"Keras layer 'd' \(DepthwiseConv2D\): option data_format='channels_first' is not supported"),
        (layer_entry("DepthwiseConv2D", name="d", kernel_size=[3, 3], use_bias=True), {}, ValueError,
         r"'d' \(DepthwiseConv2D\): the weights file holds 0 arrays for this layer; its config needs 2 \(depthwise_kernel, bias\)"),
        (layer_entry("SeparableConv2D", name="s", filters=2, kernel_size=[3, 3], use_bias=False),
         {"layers/separable_conv2d": [np.ones((3, 3, 4, 1))]}, ValueError,
         r"'s' \(SeparableConv2D\): the weights file holds 1 arrays .* needs 2 \(depthwise_kernel, pointwise_kernel\)"),
        (layer_entry("DepthwiseConv2D", name="d", kernel_size=[3, 3], activation="nope"),
         {"layers/depthwise_conv2d": [np.ones((3, 3, 4, 1)), np.zeros(4)]}, NotImplementedError, r"Keras layer 'd' \(DepthwiseConv2D\): activation='nope' has no jaxnn equivalent"),
    ],
)  # fmt: skip
def test_conversion_errors(tmp_path, entry, weights, error, match):
    path = write_keras(
        tmp_path / "e.keras", sequential_config(entry, input_shape=(None, 5, 5, 4)), weights
    )
    with pytest.raises(error, match=match):
        from_keras(path)


# ------------------------------------------------------------------------------------------------
# A model built and saved by Keras itself


@pytest.fixture(scope="module")
def keras_model(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_BACKEND", "jax")
        keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip(f"Keras runs on the {keras.backend.backend()} backend; these tests need jax.")
    kl = keras.layers
    with keras_numerics():
        model = keras.Sequential([
            keras.Input((9, 8, 3)),
            kl.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
            kl.DepthwiseConv2D((2, 3), strides=2, dilation_rate=1, use_bias=False),
            kl.SeparableConv2D(5, 3, padding="same", dilation_rate=2, activation="tanh"),
            kl.SeparableConv2D(4, (3, 2), strides=(2, 1), depth_multiplier=3, use_bias=False),
            kl.GlobalAveragePooling2D(),
        ])  # fmt: skip
        randomize(model, rng(6))
        path = tmp_path_factory.mktemp("keras_depthwise") / "m.keras"
        model.save(path)
    return model, path, rng(7).normal(size=(3, 9, 8, 3)).astype("float32")


def test_from_keras_matches_keras_predict(keras_model, tmp_path):
    keras_model, path, x = keras_model
    model, params, state, input_shape = from_keras(path)
    assert input_shape == (-1, *x.shape[1:])
    assert [c.config["type"] for c in model.children] == [
        "DepthwiseConv2D", "DepthwiseConv2D", "SeparableConv2D", "SeparableConv2D", "GlobalAvgPool",
    ]  # fmt: skip
    y, _ = jax.jit(model.apply)(params, state, jnp.asarray(x))
    with keras_numerics():
        expected = keras_model.predict(x, verbose=0)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, atol=ATOL, rtol=1e-5)
    assert init_output_shape(model, input_shape) == (-1, *expected.shape[1:])
    saved = jaxnn.save_model(tmp_path / "m.jaxnn", model, (params, state), input_shape=input_shape)
    loaded = jaxnn.load_model(saved)
    ts = loaded.train_state
    np.testing.assert_array_equal(jax.jit(loaded.model.apply)(ts.params, ts.state, x)[0], y)
