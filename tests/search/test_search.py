"""jaxnn.search: vectorised models equal separate fit calls; rows, tables, plots and errors."""

from __future__ import annotations

import copy
import csv
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn import regularizers
from jaxnn.callbacks import EarlyStopping
from jaxnn.cli.spec import build
from jaxnn.layers import Dense
from jaxnn.search import SearchResult, search

LOSS = "softmax_cross_entropy"
COMMON = {"loss": LOSS, "metrics": ["accuracy"], "epochs": 3, "batch_size": 16, "verbose": 0}


def model():
    return jaxnn.serial(Dense(8), jnp.tanh, Dense(2))


def close_trees(a, b, atol=2e-6):
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    return (
        max(
            float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
            for x, y in zip(leaves_a, leaves_b, strict=True)
        )
        <= atol
    )


def assert_same_history(got, want, rtol=1e-5):
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=1e-6, err_msg=name)


@pytest.fixture(scope="module")
def vectorised(data):
    """Two learning rates x three seeds, validation split: one group of six members."""
    return search(
        model(),
        data,
        grid={"learning_rate": [0.01, 0.1]},
        seeds=3,
        validation_split=0.2,
        optimizer="adam",
        **COMMON,
    )


@pytest.fixture(scope="module")
def separate(data):
    """The same six models, each trained by its own fit call."""
    fits = {}
    for lr in (0.01, 0.1):
        for seed in range(3):
            fits[lr, seed] = jaxnn.fit(
                model(),
                data,
                learning_rate=lr,
                seed=seed,
                validation_split=0.2,
                optimizer="adam",
                **COMMON,
            )
    return fits


def test_vmapped_models_equal_separate_fit_calls(vectorised, separate):
    assert vectorised.groups == 1 and vectorised.sizes == [6]
    assert len(vectorised.runs) == 6
    for run in vectorised.runs:
        ts, history = separate[run.config["learning_rate"], run.seed]
        assert close_trees(run.train_state.params, ts.params)
        assert close_trees(run.train_state.opt_state, ts.opt_state)
        assert int(run.train_state.step) == int(ts.step) == 3 * 5  # 72 training rows, batch 16
        assert_same_history(run.history, history.history)


def test_rows_hold_mean_and_std_over_seeds(vectorised, separate):
    assert [r["learning_rate"] for r in vectorised.rows] == [0.01, 0.1]
    for row in vectorised.rows:
        last = [separate[row["learning_rate"], s][1].history for s in range(3)]
        for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
            values = np.array([h[name][-1] for h in last])
            assert row[f"{name}_mean"] == pytest.approx(values.mean(), rel=1e-5, abs=1e-6)
            assert row[f"{name}_std"] == pytest.approx(values.std(), rel=1e-4, abs=1e-6)
        assert row["seeds"] == 3 and row["epochs"] == 3.0 and row["seconds"] > 0


def test_best_is_the_configuration_with_the_lowest_mean_val_loss(vectorised, separate):
    means = {r["learning_rate"]: r["val_loss_mean"] for r in vectorised.rows}
    best_lr = min(means, key=means.get)
    best = vectorised.best
    assert best.config == {"learning_rate": best_lr}
    per_seed = {s: separate[best_lr, s][1].history["val_loss"][-1] for s in range(3)}
    assert best.seed == min(per_seed, key=per_seed.get)
    assert close_trees(best.train_state.params, separate[best_lr, best.seed][0].params)
    # the returned model predicts like the fit one
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(
        jaxnn.predict(best.model, best.train_state, x),
        jaxnn.predict(model(), separate[best_lr, best.seed][0], x),
        atol=1e-5,
    )


def test_csv_has_mean_and_std_columns(vectorised):
    text = vectorised.to_csv()
    rows = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert header == [
        "learning_rate",
        "seeds",
        "accuracy_mean",
        "accuracy_std",
        "loss_mean",
        "loss_std",
        "val_accuracy_mean",
        "val_accuracy_std",
        "val_loss_mean",
        "val_loss_std",
        "epochs",
        "seconds",
    ]
    assert [float(r["val_loss_mean"]) for r in rows] == pytest.approx(
        [r["val_loss_mean"] for r in vectorised.rows]
    )


def test_markdown_shows_mean_plus_minus_std_and_bolds_the_best(vectorised):
    lines = vectorised.to_markdown().splitlines()
    assert (
        lines[0]
        == "| learning_rate | seeds | accuracy | loss | val_accuracy | val_loss | epochs | seconds |"
    )
    assert len(lines) == 4
    best = vectorised.best.row
    bold = [line for line in lines if line.startswith("| **")]
    assert (
        len(bold) == 1
        and f"**{best['val_loss_mean']:.4g} ± {best['val_loss_std']:.2g}**" in bold[0]
    )


def test_files_are_written_atomically(vectorised, tmp_path):
    vectorised.to_csv(tmp_path / "r.csv")
    vectorised.to_markdown(tmp_path / "r.md")
    assert (tmp_path / "r.csv").read_text() == vectorised.to_csv()
    assert (tmp_path / "r.md").read_text() == vectorised.to_markdown() + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.md"]


def test_compilations_do_not_grow_with_seeds_and_learning_rates(data):
    counts = []

    def listener(name, seconds, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            counts[-1] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        for seeds, rates in ((1, [0.1]), (4, [0.01, 0.03, 0.1])):
            counts.append(0)
            search(model(), data, grid={"learning_rate": rates}, seeds=seeds, **COMMON)
    finally:
        jax._src.monitoring.unregister_event_duration_listener(listener)
    assert counts[0] == counts[1] > 0


def test_memory_limit_splits_a_group_with_the_same_results(data):
    whole = search(model(), data, grid={"learning_rate": [0.01, 0.1]}, seeds=2, **COMMON)
    split = search(
        model(), data, grid={"learning_rate": [0.01, 0.1]}, seeds=2, max_memory=1, **COMMON
    )
    assert whole.sizes == [4] and split.sizes == [1]
    for a, b in zip(whole.runs, split.runs, strict=True):
        assert (a.config, a.seed) == (b.config, b.seed)
        assert close_trees(a.train_state.params, b.train_state.params, atol=1e-6)
        assert_same_history(a.history, b.history)


def test_early_stopping_stops_each_model_on_its_own(data):
    stopping = EarlyStopping("val_loss", patience=1, min_delta=0.02, restore_best_weights=True)
    kwargs = {**COMMON, "epochs": 8, "validation_split": 0.2}
    result = search(
        model(), data, grid={"learning_rate": [0.003, 0.3]}, seeds=2, callbacks=[stopping], **kwargs
    )
    lengths = set()
    for run in result.runs:
        ts, history = jaxnn.fit(
            model(),
            data,
            learning_rate=run.config["learning_rate"],
            seed=run.seed,
            callbacks=[copy.deepcopy(stopping)],
            **kwargs,
        )
        assert_same_history(run.history, history.history)
        assert close_trees(run.train_state.params, ts.params)
        lengths.add(len(history.epoch))
    assert len(lengths) > 1  # the models stopped at different epochs


def test_l2_rate_is_vectorised_and_equals_fit_with_the_regularizer(data):
    result = search(model(), data, grid={"l2": [0.0, 0.05]}, seeds=1, learning_rate=0.05, **COMMON)
    assert result.groups == 1
    for run, rate in zip(result.runs, (0.0, 0.05), strict=True):
        ts, history = jaxnn.fit(
            model(), data, learning_rate=0.05, regularizer=regularizers.l2(rate), **COMMON
        )
        assert_same_history(run.history, history.history)
        assert close_trees(run.train_state.params, ts.params)


def test_spec_value_sets_make_one_group_per_architecture(data):
    result = search(
        "dense({4,8},tanh) dense(2)", data, grid={"learning_rate": [0.01, 0.1]}, **COMMON
    )
    assert result.keys == ["units", "learning_rate"]
    assert [(r["units"], r["learning_rate"]) for r in result.rows] == [
        (4, 0.01),
        (4, 0.1),
        (8, 0.01),
        (8, 0.1),
    ]
    assert result.groups == 2 and result.sizes == [2, 2]
    run = result.runs[2]  # units 8, learning rate 0.01, seed 0
    ts, history = jaxnn.fit(build("dense(8,tanh) dense(2)"), data, learning_rate=0.01, **COMMON)
    assert_same_history(run.history, history.history)


def test_width_depth_placeholders_and_a_heat_map(data):
    result = search(
        "[dense({width},relu)]*{depth} dense(2)",
        data,
        grid={"width": [4, 8], "depth": [1, 2]},
        **COMMON,
    )
    assert result.groups == 4
    params = [jax.tree.map(jnp.shape, r.train_state.params) for r in result.runs]
    assert [len(p) for p in params] == [2, 3, 2, 3]  # depth 1 and 2 hidden layers, then the head
    assert params[3]["dense_1"]["w"] == (8, 8)
    fig = result.plot_heatmap("width", "depth", "loss")
    image = fig.axes[0].images[0].get_array()
    expected = [
        [result.rows[0]["loss_mean"], result.rows[2]["loss_mean"]],
        [result.rows[1]["loss_mean"], result.rows[3]["loss_mean"]],
    ]
    np.testing.assert_allclose(image, expected)
    fig = result.plot("loss")
    assert [ax.get_xlabel() for ax in fig.axes] == ["width", "depth"]


def test_a_function_of_hyperparameters(data):
    def mlp(width, activation="tanh"):
        return build(f"dense({width},{activation}) dense(2)")

    result = search(mlp, data, grid={"width": [3, 5]}, **COMMON)
    assert [r["width"] for r in result.rows] == [3, 5]
    assert result.runs[1].train_state.params["dense"]["w"].shape == (4, 5)


def test_repr_and_seeds_as_a_list(data):
    result = search(model(), data, seeds=[7, 11], **COMMON)
    assert [r.seed for r in result.runs] == [7, 11]
    _, history = jaxnn.fit(model(), data, seed=11, **COMMON)
    assert_same_history(result.runs[1].history, history.history)
    assert repr(result).startswith("SearchResult(1 configurations")


@pytest.mark.parametrize(
    "model_, grid, kwargs, error, match",
    [
        (
            "dense({4,8},tanh) dense(2)",
            {"learning_rate": []},
            {},
            ValueError,
            r"grid\['learning_rate'\] is empty",
        ),
        (
            "dense({},tanh) dense(2)",
            None,
            {},
            ValueError,
            r"empty value set or an empty value in '\{\}'",
        ),
        ("dense({4,,8},tanh) dense(2)", None, {}, ValueError, r"empty value in '\{4,,8\}'"),
        (
            "dense(4,tanh) dense(2)",
            {"width": [4]},
            {},
            ValueError,
            r"grid key 'width' is neither a placeholder of the model \(it has none\)",
        ),
        (
            "dense({width},tanh) dense(2)",
            {"widht": [4]},
            {},
            ValueError,
            r"'widht' is neither .*Did you mean 'width'\?",
        ),
        (
            "dense({width},tanh) dense(2)",
            {},
            {},
            ValueError,
            r"hyperparameter 'width' has no values",
        ),
        (
            None,
            {"lerning_rate": [0.1]},
            {},
            ValueError,
            r"grid key 'lerning_rate' .*Did you mean 'learning_rate'\?",
        ),
        (None, {"seed": [1, 2]}, {}, ValueError, r"seeds=N or seeds=\[...\], not in the grid"),
        (
            "dense({4,8}) dense(2)",
            {"units": [3]},
            {},
            ValueError,
            r"grid\['units'\] is given twice",
        ),
        (
            None,
            None,
            {"lerning_rate": 0.1},
            TypeError,
            r"unknown fit argument 'lerning_rate'. Did you mean 'learning_rate'\?",
        ),
        (None, None, {"seed": 3}, ValueError, r"seed= is not taken here: give seeds=N"),
        (
            None,
            None,
            {"sampler": "bayes"},
            ValueError,
            r"unknown sampler 'bayes'; known samplers: grid, random, tpe",
        ),
        (
            None,
            None,
            {"trials": 5},
            ValueError,
            r"trials=, storage= and pruner= belong to the Optuna samplers",
        ),
        (
            None,
            None,
            {"monitor": "val_loss"},
            ValueError,
            r"monitor 'val_loss' is not a value the models log; they log loss, accuracy",
        ),
        (None, None, {"seeds": 0}, ValueError, r"seeds must be >= 1"),
        (
            None,
            None,
            {"callbacks": [jaxnn.callbacks.CSVLogger("x.csv")]},
            TypeError,
            r"one EarlyStopping .* got CSVLogger",
        ),
        (None, {"l2": [-1.0]}, {}, ValueError, r"grid\['l2'\] must hold numbers >= 0; got -1.0"),
        (42, None, {}, TypeError, r"model must be a jaxnn Layer, a model spec"),
    ],
)
def test_bad_input_names_the_value(data, model_, grid, kwargs, error, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=match):
        search(model() if model_ is None else model_, data, grid=grid, **{**COMMON, **kwargs})
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_loss_is_required(data):
    with pytest.raises(TypeError, match=r"loss= is required, as for fit"):
        search(model(), data, verbose=0)


def test_targets_that_do_not_fit_the_loss_are_refused_before_training(data):
    x, y = data
    with pytest.raises(
        ValueError, match=r"search: the targets y do not fit the loss 'softmax_cross_entropy'"
    ):
        search(model(), (x, y + 5), **COMMON)


def test_result_plot_errors_name_the_metric(vectorised):
    with pytest.raises(
        ValueError, match=r"unknown metric 'acc'; the rows hold \['accuracy', 'loss'"
    ):
        vectorised.plot("acc")
    with pytest.raises(ValueError, match=r"'width' is not a hyperparameter of this search"):
        vectorised.plot_heatmap("width", "depth")


def test_result_is_exported_at_the_top_level():
    assert jaxnn.search is search and jaxnn.SearchResult is SearchResult
