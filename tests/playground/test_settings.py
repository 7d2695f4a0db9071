"""The Playground's controls: reading, clamping, refusing and writing back."""

from __future__ import annotations

import pytest

from jaxnn.playground.settings import Settings, SettingsError, parse_settings


def test_defaults_are_the_tf_playground_start():
    s = Settings()
    assert (s.dataset, s.hidden, s.activation, s.learning_rate) == ("circle", (4, 2), "tanh", 0.03)
    assert s.layer_sizes() == [2, 4, 2, 1]


def test_a_query_round_trips():
    s = Settings(
        problem="regression", dataset="multigauss", noise=15, train_percent=70, batch_size=3,
        points=300, seed=42, features=("x1", "x1^2", "sin_x2"), hidden=(8, 1, 3),
        activation="leaky_relu", learning_rate=0.003, regularization="l2",
        regularization_rate=0.3,
    )  # fmt: skip
    again, notes = parse_settings(s.to_query())
    assert again == s and notes == []


def test_zero_hidden_layers_is_allowed():
    s, notes = parse_settings({"hidden": ""})
    assert s.hidden == () and s.layer_sizes() == [2, 1] and notes == []


def test_out_of_range_values_are_clamped_with_a_note():
    s, notes = parse_settings(
        {"hidden": "9,0", "noise": "80", "batch_size": "-3", "train_percent": "95"}
    )
    assert s.hidden == (8, 1) and s.noise == 50 and s.batch_size == 1 and s.train_percent == 90
    assert notes == [
        "noise must be in [0, 50]; got 80, using 50.",
        "train_percent must be in [10, 90]; got 95, using 90.",
        "batch_size must be in [1, 30]; got -3, using 1.",
        "neurons per layer must be in [1, 8]; got 9, using 8.",
        "neurons per layer must be in [1, 8]; got 0, using 1.",
    ]


def test_more_than_six_layers_keeps_the_first_six():
    s, notes = parse_settings({"hidden": "1,2,3,4,5,6,7"})
    assert s.hidden == (1, 2, 3, 4, 5, 6)
    assert notes == ["at most 6 hidden layers; got 7, keeping the first."]


def test_rates_snap_to_the_nearest_choice_on_a_log_scale():
    s, notes = parse_settings({"learning_rate": "-1", "regularization_rate": "0.02"})
    assert s.learning_rate == 0.00001 and s.regularization_rate == 0.03
    assert notes[0].startswith("learning_rate must be one of [1e-05, 0.0001")
    assert notes[0].endswith("got -1, using 1e-05.")
    s, notes = parse_settings({"learning_rate": "0.1"})
    assert s.learning_rate == 0.1 and notes == []


def test_unknown_names_fall_back_to_the_default_with_the_known_ones():
    s, notes = parse_settings({"activation": "ReLu", "dataset": "moons"})
    assert s.activation == "relu"  # names are case-insensitive
    assert s.dataset == "circle"
    assert notes == [
        "unknown dataset 'moons'; using 'circle'. Known: circle, xor, gaussian, spiral."
    ]
    s, notes = parse_settings({"activation": "swishy"})
    assert s.activation == "tanh" and "unknown activation 'swishy'" in notes[0]


def test_switching_the_problem_picks_one_of_its_data_sets():
    s, notes = parse_settings({"problem": "regression"})
    assert (s.problem, s.dataset, notes) == ("regression", "plane", [])
    back, _ = parse_settings({"problem": "classification"}, s)
    assert back.dataset == "circle"


def test_features_keep_the_page_order_and_need_one():
    s, notes = parse_settings({"features": "sin_x1,x1,x1,cos"})
    assert s.features == ("x1", "sin_x1")
    assert notes == [
        "unknown features ['cos'] ignored. Known: x1, x2, x1^2, x2^2, x1x2, sin_x1, sin_x2."
    ]
    s, notes = parse_settings({"features": ""})
    assert s.features == ("x1", "x2")
    assert notes == ["at least one input feature is needed; using x1 and x2."]


def test_a_change_applies_on_top_of_the_base():
    base = Settings(hidden=(3,), seed=5)
    s, _ = parse_settings({"activation": "elu"}, base)
    assert (s.hidden, s.seed, s.activation) == ((3,), 5, "elu")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"noise": "lots"}, "noise must be a number; got 'lots'."),
        ({"hidden": "4,two"}, "hidden must be a number; got 'two'."),
        ({"learning_rate": "nan"}, "learning_rate must be a finite number; got 'nan'."),
        ({"colour": "red"}, "unknown controls ['colour']; the controls are ["),
    ],
)
def test_unreadable_values_are_refused(values, message):
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_settings(values)
