import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.cli.common import UserError
from jaxnn.cli.models import output_shape as output_shape_of
from jaxnn.cli.spec import SpecError, build, parse


def _layers(model):
    return [layer["type"] for layer in model.config["layers"]]


def test_parse_tokens_positional_keyword_and_tuple_arguments():
    spec = "Dense(64, relu) dropout(.5), conv2d(32, (3, 3), padding=same, use_bias=false)"
    items = parse(spec)
    assert [(i.name, i.args, i.kwargs) for i in items] == [
        ("dense", (64, "relu"), {}),
        ("dropout", (0.5,), {}),
        ("conv2d", (32, (3, 3)), {"padding": "same", "use_bias": False}),
    ]
    assert isinstance(items[0].args[0], int) and isinstance(items[1].args[0], float)
    # where each item and value stands, for the caret of an error
    assert (items[1].start, items[1].end) == (16, 27)  # dropout(.5)
    assert items[2].spans["padding"] == (spec.index("same"), spec.index("same") + 4)


def test_parse_values_numbers_strings_and_constants():
    (item,) = parse("x(1e-3, -2, 'a b', \"c\", none, TRUE)")
    assert item.args == (0.001, -2, "a b", "c", None, True)


@pytest.mark.parametrize(
    "spec, column, message",
    [
        ("dense(64,, relu)", 10, "expected a value"),
        ("dense(64", 9, "expected ',' or ')', found the end of the spec"),
        ("dense(64) $", 11, "unexpected character '$'"),
        ("dense(64) 'abc", 11, "a quote that is never closed"),
        ("dense(units=3, 4)", 16, "a positional argument follows a keyword argument"),
        ("dense(units=3, units=4)", 16, "units= is given twice"),
        ("   ", 4, "the spec names no layer"),
        ("(3)", 1, "expected a layer name"),
    ],
)
def test_parse_errors_point_at_the_bad_token(spec, column, message):
    with pytest.raises(SpecError, match=re.escape(message)) as info:
        parse(spec)
    error = info.value
    assert error.position == column - 1
    assert f"column {column}:" in str(error)
    # the last two lines: the spec indented by two, then the carets under the bad text
    shown, carets = str(error).splitlines()[-2:]
    assert shown.rstrip() == ("  " + spec).rstrip()
    assert carets.index("^") == 2 + error.position


def test_caret_line_spans_the_whole_bad_name():
    with pytest.raises(SpecError) as info:
        build("dense(16) rleu dense(2)")
    shown, carets = str(info.value).splitlines()[-2:]
    start = carets.index("^")
    assert shown[start : start + carets.count("^")] == "rleu"


def test_build_matches_the_same_model_written_in_python(key):
    from jaxnn import serial
    from jaxnn.layers import Activation, Dense, Dropout

    built = build("dense(8, relu) dropout(0.1) tanh dense(3)")
    by_hand = serial(Dense(8, activation="relu"), Dropout(0.1), Activation("tanh"), Dense(3))
    assert built.config == by_hand.config
    x = jnp.arange(8.0).reshape(2, 4)
    _, params, state = built.init(key, (-1, 4))
    y, _ = jax.jit(built.apply)(params, state, x)
    w1, b1, w2, b2 = (
        np.asarray(params[layer][name]) for layer in ("dense", "dense_1") for name in ("w", "b")
    )
    expected = np.tanh(np.maximum(np.asarray(x) @ w1 + b1, 0)) @ w2 + b2
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "spec, input_shape, output_shape, types",
    [
        ("conv2d(4,3,relu) maxpool(2) flatten dense(10)", (-1, 8, 8, 1), (-1, 10),
         ["Conv2D", "MaxPool", "Flatten", "Dense"]),
        ("conv2d(4, 3, padding=same) batchnorm global_avg_pool", (-1, 6, 6, 2), (-1, 4),
         ["Conv2D", "BatchNorm", "GlobalAvgPool"]),
        ("embedding(100,16) lstm(8) dense(1)", (-1, 5), (-1, 1), ["Embedding", "LSTM", "Dense"]),
        ("reshape(8,8,1) conv1d(2,3)", (-1, 64), None, None),
        ("gru(4, return_sequences=true) layer_norm", (-1, 5, 3), (-1, 5, 4), ["GRU", "LayerNorm"]),
        ("conv2d(4, 3, padding=same) group_norm(2) rms_norm", (-1, 6, 6, 2), (-1, 6, 6, 4),
         ["Conv2D", "GroupNorm", "RMSNorm"]),
    ],
)  # fmt: skip
def test_build_layers_and_shapes(spec, input_shape, output_shape, types):
    model = build(spec)
    if output_shape is None:  # conv1d on (8, 8, 1) images is the layer's own error at init
        with pytest.raises(UserError, match="the model does not fit inputs of shape"):
            output_shape_of(model, input_shape)
        return
    assert output_shape_of(model, input_shape)[0] == output_shape
    assert _layers(model) == types


def test_aliases_and_case_name_the_same_layer():
    assert _layers(build("MaxPool2D(2) max_pool(2) BatchNormalization")) == [
        "MaxPool",
        "MaxPool",
        "BatchNorm",
    ]


def test_rms_norm_and_group_norm_arguments_and_aliases():
    model = build(
        "group_norm(4, epsilon=1e-5) rmsnorm(axis=(-2, -1), use_scale=false) "
        "GroupNormalization(groups=2) RMSNormalization"
    )
    gn, rms, gn_keyword, rms_default = model.config["layers"]
    assert (gn["type"], gn["groups"], gn["epsilon"]) == ("GroupNorm", 4, 1e-5)
    assert (rms["type"], rms["axis"], rms["use_scale"]) == ("RMSNorm", (-2, -1), False)
    assert (gn_keyword["type"], gn_keyword["groups"]) == ("GroupNorm", 2)
    assert (rms_default["type"], rms_default["axis"]) == ("RMSNorm", -1)
    assert build("group_norm").config["layers"][0]["groups"] == 32  # the constructor's default
    # groups must divide the channels: the layer's own error, when the input is known
    with pytest.raises(
        UserError, match=r"does not fit .*groups=3 must divide the number of channels C=4"
    ):
        output_shape_of(build("group_norm(3)"), (-1, 5, 4))


@pytest.mark.parametrize(
    "spec, message, bad",
    [
        ("dense(16) rleu", r"unknown layer 'rleu'\. Did you mean 'relu'", "rleu"),
        ("dense(64, rleu)", r"unknown activation 'rleu'\. Did you mean 'relu'", "rleu"),
        ("dense(64, activation=tnah)", r"unknown activation 'tnah'\. Did you mean 'tanh'", "tnah"),
        ("dense(3, unit=3)", r"unknown argument 'unit'\. Did you mean 'units'", "unit"),
        ("dense(3, units=3)", "units= is already given by position", "units"),
        ("dense(1, relu, 3)", r"takes at most 2 positional arguments \(units, activation\)", "3"),
        ("dense", r"dense\(\.\.\.\) needs units", "dense"),
        ("dropout(1.5)", r"Dropout 'dropout': drop_rate .* must be in \[0, 1\)", "dropout(1.5)"),
        ("group_norm(0)", r"GroupNorm 'group_norm': groups must be >= 1; got 0", "group_norm(0)"),
        ("group_norm(2, 3)", r"takes at most 1 positional arguments \(groups\)", "3"),
        ("rms_norm(2)", r"rms_norm\(\.\.\.\) takes at most 0 positional arguments \(none\)", "2"),
        (
            "rms_norm(axis=0)",
            r"RMSNorm 'rms_norm': axis must hold distinct negative ints",
            "rms_norm(axis=0)",
        ),
    ],
)
def test_build_errors_name_the_problem_and_point_at_it(spec, message, bad):
    with pytest.raises(SpecError, match=message) as info:
        build(spec)
    shown, carets = str(info.value).splitlines()[-2:]
    start = carets.index("^")
    assert shown[start : start + carets.count("^")] == bad


def test_unknown_layer_lists_the_known_layers_and_activations():
    with pytest.raises(SpecError) as info:
        build("denze(3)")
    message = str(info.value)
    assert "Did you mean 'dense'?" in message
    assert "Known layers and activations: activation, arctan" in message
    assert "lstm" in message and "tanh" in message
