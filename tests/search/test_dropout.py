"""Dropout rates train in one vmapped group, each member as its own fit call with that rate."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.cli.spec import build
from jaxnn.layers import Dense, Dropout
from jaxnn.models import to_config
from jaxnn.search import search
from jaxnn.search.dropout import architecture, rebuilder

LOSS = "softmax_cross_entropy"
COMMON = {"loss": LOSS, "metrics": ["accuracy"], "epochs": 3, "batch_size": 16, "verbose": 0}
SPEC = "dense(8,tanh) dropout({0.0,0.4}) dense(2)"
RATES = (0.0, 0.4)


def max_difference(a, b):
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    return max(
        float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
        for u, v in zip(leaves_a, leaves_b, strict=True)
    )


def assert_same_history(got, want):
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)


def count_compiles(run):
    """``run()``'s result, and how many training programs (``fun_name`` ``jit(run)``) it compiles."""
    count = [0]

    def listener(name, seconds, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            count[0] += kwargs.get("fun_name") == "jit(run)"

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        result = run()
    finally:
        jax._src.monitoring.unregister_event_duration_listener(listener)
    return result, count[0]


@pytest.fixture(scope="module")
def vectorised(data):
    """Two dropout rates (one of them 0) x two seeds, a validation split: one group of four."""
    return search(SPEC, data, seeds=2, validation_split=0.2, optimizer="adam", **COMMON)


@pytest.fixture(scope="module")
def separate(data):
    """The same four models, each trained by its own fit call with its rate as a float."""
    return {
        (rate, seed): jaxnn.fit(
            build(f"dense(8,tanh) dropout({rate}) dense(2)"),
            data,
            seed=seed,
            validation_split=0.2,
            optimizer="adam",
            **COMMON,
        )  # fmt: skip
        for rate in RATES
        for seed in range(2)
    }


def test_dropout_rates_train_in_one_group_equal_to_separate_fit_calls(vectorised, separate):
    assert vectorised.groups == 1 and vectorised.sizes == [4]
    assert [(r.config["drop_rate"], r.seed) for r in vectorised.runs] == list(separate)
    for run in vectorised.runs:
        ts, history = separate[run.config["drop_rate"], run.seed]
        assert max_difference(run.train_state.params, ts.params) <= 2e-6
        assert max_difference(run.train_state.opt_state, ts.opt_state) <= 2e-6
        assert int(run.train_state.step) == int(ts.step) == 3 * 5  # 72 training rows, batch 16
        assert_same_history(run.history, history.history)


def test_rates_change_the_training(separate):
    # The rates matter (else the test above could not tell them apart): the losses differ.
    losses = [separate[rate, 0][1].history["loss"][-1] for rate in RATES]
    assert len({round(v, 4) for v in losses}) == 2


def test_rows_hold_each_rate_mean_over_seeds(vectorised, separate):
    assert [r["drop_rate"] for r in vectorised.rows] == list(RATES)
    for row in vectorised.rows:
        values = np.array(
            [separate[row["drop_rate"], s][1].history["val_loss"][-1] for s in (0, 1)]
        )
        assert row["val_loss_mean"] == pytest.approx(values.mean(), rel=1e-5, abs=1e-6)


def test_best_model_is_a_normal_model_with_its_float_rate(vectorised, separate, tmp_path):
    best = vectorised.best
    rate = best.config["drop_rate"]
    layer = to_config(best.model)["layers"][1]
    assert layer == {"type": "Dropout", "drop_rate": rate, "name": "dropout"}
    assert type(layer["drop_rate"]) is float
    path = jaxnn.save_model(tmp_path / "best.jaxnn", best.model, best.train_state)
    loaded = jaxnn.load_model(path)
    assert loaded.model.config["layers"][1]["drop_rate"] == rate
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_allclose(
        jaxnn.predict(loaded.model, loaded.train_state, x),
        jaxnn.predict(best.model, separate[rate, best.seed][0], x),
        atol=1e-5,
    )


def test_three_rates_and_two_seeds_compile_one_training_program(data):
    # Settings no other test uses, so nothing is compiled already.
    kwargs = {**COMMON, "epochs": 2, "batch_size": 12}
    spec = "dense(8,tanh) dropout({0.0,0.3,0.6}) dense(2)"
    many, compiled = count_compiles(lambda: search(spec, data, seeds=2, **kwargs))
    assert many.groups == 1 and many.sizes == [6] and compiled == 1


def test_a_function_with_two_dropout_rates_is_one_group(data):
    def mlp(first, second):
        return jaxnn.serial(Dense(8), Dropout(first), jnp.tanh, Dropout(second), Dense(2))

    grid = {"first": [0.1, 0.5], "second": [0.0, 0.2]}
    result = search(mlp, data, grid=grid, learning_rate=0.05, **COMMON)
    assert result.groups == 1 and result.sizes == [4]
    run = result.runs[1]  # first 0.1, second 0.2
    assert run.config == {"first": 0.1, "second": 0.2}
    ts, history = jaxnn.fit(mlp(0.1, 0.2), data, learning_rate=0.05, **COMMON)
    assert max_difference(run.train_state.params, ts.params) <= 2e-6
    assert_same_history(run.history, history.history)


def test_a_model_without_a_config_trains_one_group_per_rate(data):
    def mlp(drop_rate):  # the lambda has no config, so the model cannot be rebuilt
        return jaxnn.serial(Dense(8), lambda x: jnp.tanh(x), Dropout(drop_rate), Dense(2))

    result, compiled = count_compiles(
        lambda: search(mlp, data, grid={"drop_rate": [0.2, 0.4]}, **COMMON)
    )
    assert result.groups == 2 and result.sizes == [1, 1] and compiled == 2
    ts, history = jaxnn.fit(mlp(0.4), data, **COMMON)
    assert max_difference(result.runs[1].train_state.params, ts.params) <= 2e-6
    assert_same_history(result.runs[1].history, history.history)


def test_architecture_ignores_only_the_rates():
    a = architecture(build("dense(8,tanh) dropout(0.1) dense(2)"))
    b = architecture(build("dense(8,tanh) dropout(0.4) dense(2)"))
    c = architecture(build("dense(9,tanh) dropout(0.1) dense(2)"))
    assert (a.rates, b.rates) == ((0.1,), (0.4,))
    assert a.key == b.key != c.key
    assert architecture(build("dense(8,tanh) dense(2)")) is None  # no dropout: nothing to vary
    rebuilt = rebuilder(a)({"dropout[0]": 0.25})
    assert to_config(rebuilt) == to_config(build("dense(8,tanh) dropout(0.25) dense(2)"))


@pytest.mark.parametrize(
    "model, grid, match",
    [
        ("dense(8,tanh) dropout({0.1,1.0}) dense(2)", None, r"must be in \[0, 1\); got 1.0"),
        ("dense(8,tanh) dropout({rate}) dense(2)", {"rate": [0.2, -0.1]}, r"got -0.1"),
        (
            lambda drop_rate: jaxnn.serial(Dense(2), Dropout(drop_rate)),
            {"drop_rate": [0.5, 1.5]},
            r"Dropout 'dropout': drop_rate is the probability .* got 1.5",
        ),
    ],
)
def test_a_bad_rate_is_refused_before_training(data, model, grid, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def run():
        with pytest.raises(ValueError, match=match):
            search(model, data, grid=grid, **COMMON)

    _, compiled = count_compiles(run)
    assert compiled == 0  # refused while the models are built, before anything trains
    assert list(tmp_path.iterdir()) == []  # nothing written
