"""Links from the TensorFlow Playground: its fragment read into this Playground's controls.

The fragments below are written the way playground.tensorflow.org writes them (``State.serialize``
in its ``src/state.ts``: every key but a ``null`` one, so ``regularization`` is left out when it
is none); the expected controls are worked out by hand from the mapping table in
docs/guides/playground.md.
"""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxnn.playground.settings import Settings, SettingsError, parse_settings
from jaxnn.playground.tfhash import MAX_HASH_LENGTH, parse_tf_hash

# The TensorFlow Playground's start page, as its address bar shows it.
DEFAULT = (
    "#activation=tanh&batchSize=10&dataset=circle&regDataset=reg-plane&learningRate=0.03"
    "&regularizationRate=0&noise=0&networkShape=4,2&seed=0.21709&showTestData=false"
    "&discretize=false&percTrainData=50&x=true&y=true&xTimesY=false&xSquared=false"
    "&ySquared=false&cosX=false&sinX=false&cosY=false&sinY=false&collectStats=false"
    "&problem=classification&initZero=false&hideText=false"
)
# The spiral, as a lecture shares it: ReLU, L2, three hidden layers, sine features.
SPIRAL = (
    "#activation=relu&regularization=L2&batchSize=25&dataset=spiral&regDataset=reg-plane"
    "&learningRate=0.01&regularizationRate=0.001&noise=15&networkShape=8,8,5&seed=0.64182"
    "&showTestData=true&discretize=true&percTrainData=70&x=true&y=true&xTimesY=true"
    "&xSquared=false&ySquared=false&cosX=false&sinX=true&cosY=false&sinY=true"
    "&collectStats=false&problem=classification&initZero=false&hideText=false"
)
# Regression on the multi-Gaussian, no hidden layer (an empty networkShape).
REGRESSION = (
    "#activation=linear&batchSize=10&dataset=xor&regDataset=reg-gauss&learningRate=0.003"
    "&regularizationRate=0&noise=5&networkShape=&seed=0.00042&showTestData=false"
    "&discretize=false&percTrainData=80&x=true&y=true&xTimesY=false&xSquared=true"
    "&ySquared=true&cosX=false&sinX=false&cosY=false&sinY=false&collectStats=false"
    "&problem=regression&initZero=false&hideText=false"
)


def _unmapped(text):
    return {key: reason for key, _, reason in parse_tf_hash(text).unmapped}


def test_the_tf_playground_start_page_is_this_playgrounds_start():
    link = parse_tf_hash(DEFAULT)
    assert link.controls == {
        "problem": "classification", "dataset": "circle", "noise": "0", "train_percent": "50",
        "batch_size": "10", "points": "500", "features": "x1,x2", "hidden": "4,2",
        "activation": "tanh", "learning_rate": "0.03", "regularization": "none",
        "regularization_rate": "0", "seed": "21709",
    }  # fmt: skip
    assert link.view == {"show_test": False, "discretize": False}
    # cosX=false, collectStats=false, initZero=false, hideText=false: what happens here anyway.
    assert link.unmapped == []
    assert parse_settings(link.controls) == (Settings(seed=21709), [])


def test_a_shared_spiral_link_maps_every_key():
    link = parse_tf_hash(SPIRAL)
    settings, notes = parse_settings(link.controls)
    assert settings == Settings(
        problem="classification", dataset="spiral", noise=15, train_percent=70, batch_size=25,
        points=500, seed=64182, features=("x1", "x2", "x1x2", "sin_x1", "sin_x2"),
        hidden=(8, 8, 5), activation="relu", learning_rate=0.01, regularization="l2",
        regularization_rate=0.001,
    )  # fmt: skip
    assert notes == [] and link.unmapped == []
    assert link.view == {"show_test": True, "discretize": True}


def test_regression_reads_reg_dataset_and_draws_1200_points():
    link = parse_tf_hash(REGRESSION)
    settings, notes = parse_settings(link.controls)
    # dataset=xor is the classification data set the TF Playground remembers; it is not shown.
    assert (settings.problem, settings.dataset, settings.points) == (
        "regression",
        "multigauss",
        1200,
    )
    assert settings.hidden == () and settings.layer_sizes() == [4, 1]
    assert settings.features == ("x1", "x2", "x1^2", "x2^2")
    assert (settings.seed, settings.train_percent, settings.noise) == (42, 80, 5)
    assert (settings.activation, settings.learning_rate) == ("linear", 0.003)
    assert notes == [] and link.unmapped == []


def test_keys_left_out_read_as_the_tf_playgrounds_defaults():
    link = parse_tf_hash("#networkShape=3&x=false")
    assert link.controls["hidden"] == "3" and link.controls["features"] == "x2"
    assert link.controls["activation"] == "tanh" and link.controls["dataset"] == "circle"
    assert "seed" not in link.controls  # the TF Playground draws one; this page keeps its own
    assert parse_tf_hash("").controls == parse_tf_hash("#").controls
    assert parse_settings(parse_tf_hash("").controls)[0] == Settings()


@pytest.mark.parametrize(
    ("fragment", "reason"),
    [
        ("cosX=true", "there is no cos(X1) input here"),
        ("cosY=true", "there is no cos(X2) input here"),
        ("initZero=true", "always starts from random initial weights, never from zeros"),
        ("collectStats=true", "collects no statistics"),
        ("hideText=true", "no article text to hide"),
        ("tutorial=dp", "no tutorials"),
        ("problem_hide=true", "does not hide controls"),
        ("speed=9", "not a TensorFlow Playground setting"),
    ],
)
def test_keys_without_a_counterpart_are_named_with_the_reason(fragment, reason):
    key, value = fragment.split("=")
    link = parse_tf_hash(f"#activation=relu&{fragment}")
    assert [entry[:2] for entry in link.unmapped] == [(key, value)]
    assert reason in link.unmapped[0][2]
    assert link.controls["activation"] == "relu"  # the rest still applies


def test_flags_that_ask_for_what_happens_anyway_are_not_reported():
    text = "cosX=false&cosY=false&initZero=false&collectStats=false&hideText=false&x_hide=false"
    assert parse_tf_hash(text).unmapped == []


@pytest.mark.parametrize(
    ("fragment", "control", "reason"),
    [
        ("learningRate=fast", "learning_rate", "learningRate must be a finite number; got 'fast'"),
        ("learningRate=1e999", "learning_rate", "must be a finite number; got '1e999'"),
        ("learningRate=NaN", "learning_rate", "must be a finite number; got 'NaN'"),
        ("batchSize=2.5", "batch_size", "batchSize must be a whole number; got '2.5'"),
        ("noise=0x10", "noise", "noise must be a finite number; got '0x10'"),
        ("percTrainData=" + "9" * 30, "train_percent", "must be a finite number"),
        ("networkShape=4,x", "hidden", "whole numbers separated by commas (e.g. 4,2); got '4,x'"),
        ("networkShape=4,-1", "hidden", "got '4,-1'"),
        ("networkShape=4,,2", "hidden", "got '4,,2'"),
        ("networkShape=" + "1" * 12, "hidden", "whole numbers separated by commas"),
        ("activation=gelu", "activation", "unknown activation 'gelu'; the known ones are relu"),
        ("regularization=L3", "regularization", "unknown regularization 'L3'"),
        ("problem=ranking", "problem", "unknown problem 'ranking'"),
        ("dataset=moons", "dataset", "the known ones are circle, xor, gauss, spiral"),
        ("showTestData=yes", None, "showTestData must be true or false; got 'yes'"),
        ("x=1", "features", "x must be true or false; got '1'"),
        ("seed=" + "s" * 65, "seed", "seed must be at most 64 characters; got 65"),
    ],
)
def test_a_bad_value_is_not_applied_and_says_why(fragment, control, reason):
    key = fragment.split("=")[0]
    link = parse_tf_hash(fragment)
    assert [entry[0] for entry in link.unmapped] == [key]
    assert reason in link.unmapped[0][2]
    defaults = parse_tf_hash("").controls
    if control is not None:
        assert link.controls.get(control) == defaults.get(control)  # left at the default
    assert link.view == {"show_test": False, "discretize": False}


def test_a_long_value_is_shortened_where_it_is_quoted():
    (entry,) = parse_tf_hash("activation=" + "a" * 500).unmapped
    assert entry[1] == "a" * 37 + "..." and len(entry[2]) < 200


def test_numbers_out_of_range_are_clamped_by_parse_settings_with_a_note():
    link = parse_tf_hash("batchSize=99&networkShape=9,0,1,1,1,1,1&learningRate=0.02&noise=-5")
    assert link.unmapped == []
    settings, notes = parse_settings(link.controls)
    assert settings.batch_size == 30 and settings.noise == 0 and settings.learning_rate == 0.03
    assert settings.hidden == (8, 1, 1, 1, 1, 1)
    assert "batch_size must be in [1, 30]; got 99, using 30." in notes
    assert "at most 6 hidden layers; got 7, keeping the first." in notes
    assert "learning_rate must be one of" in " ".join(notes)


def test_a_huge_network_shape_is_cut_to_six_layers_of_eight():
    link = parse_tf_hash("networkShape=" + ",".join(["999999999"] * 400))
    assert link.unmapped == []
    settings, notes = parse_settings(link.controls)
    assert settings.hidden == (8,) * 6 and len(notes) == 2


def test_percent_escapes_repeats_and_blanks_read_as_on_the_tf_playground():
    link = parse_tf_hash("#networkShape=4%2C3&activation=relu&activation=sigmoid&noise=&&=x")
    assert link.controls["hidden"] == "4,3" and link.controls["activation"] == "sigmoid"
    assert link.controls["noise"] == "0" and link.unmapped == []


def test_seeds_become_whole_numbers_the_same_way_every_time():
    assert parse_tf_hash("seed=0.21709").controls["seed"] == "21709"
    assert parse_tf_hash("seed=.5").controls["seed"] == "5"
    assert parse_tf_hash("seed=42").controls["seed"] == "42"
    # Other text: its CRC-32 (zlib's, the standard polynomial), kept below 2**31.
    assert parse_tf_hash("seed=lecture 3").controls["seed"] == str(
        zlib.crc32(b"lecture 3") & 0x7FFFFFFF
    )


def test_a_fragment_longer_than_the_limit_is_refused():
    with pytest.raises(SettingsError, match=f"at most {MAX_HASH_LENGTH} characters; got 5000"):
        parse_tf_hash("x" * 5000)


_TF_KEYS = ["activation", "regularization", "batchSize", "dataset", "regDataset",
            "learningRate", "regularizationRate", "noise", "networkShape", "seed",
            "showTestData", "discretize", "percTrainData", "x", "y", "xTimesY", "xSquared",
            "ySquared", "cosX", "sinX", "cosY", "sinY", "collectStats", "tutorial", "problem",
            "initZero", "hideText", "x_hide"]  # fmt: skip
_PAIR = st.tuples(
    st.one_of(st.sampled_from(_TF_KEYS), st.text(max_size=8)),
    st.one_of(st.sampled_from(["true", "false", "4,2", "0.03", "relu", "", "1e9"]), st.text()),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PAIR, max_size=12))
def test_any_fragment_gives_controls_that_parse_settings_accepts(pairs):
    text = "&".join(f"{key}={value}" for key, value in pairs)
    link = parse_tf_hash(text)  # never raises below the length limit
    settings, _ = parse_settings(link.controls)  # never raises either: every value was checked
    assert set(link.controls) <= {"seed", *Settings().to_query()}
    assert settings.hidden == tuple(settings.hidden) and len(settings.hidden) <= 6
    assert all(isinstance(value, bool) for value in link.view.values())
