"""jaxnn.search with Optuna: random and TPE samplers, pruning, a study resumed from SQLite."""

from __future__ import annotations

import sys

import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.layers import Dense
from jaxnn.search import search

optuna = pytest.importorskip("optuna")

COMMON = {"loss": "softmax_cross_entropy", "epochs": 3, "batch_size": 16, "verbose": 0}
GRID = {"learning_rate": [0.003, 0.01, 0.03, 0.1], "batch_size": [16, 32]}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 3)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def model():
    return jaxnn.serial(Dense(4), jnp.tanh, Dense(2))


def test_random_trials_are_configurations_of_the_grid_and_resume_from_sqlite(data, tmp_path):
    storage = f"sqlite:///{tmp_path}/study/study.db"
    first = search(model(), data, grid=GRID, sampler="random", trials=3, storage=storage, **COMMON)
    assert len(first.rows) == 3 and len(first.runs) == 3
    for row in first.rows:
        assert (
            row["learning_rate"] in GRID["learning_rate"]
            and row["batch_size"] in GRID["batch_size"]
        )
    assert (tmp_path / "study" / "study.db").is_file()
    # the same storage: the 3 trials count, 2 more are trained, all 5 rows come back
    second = search(model(), data, grid=GRID, sampler="random", trials=5, storage=storage, **COMMON)
    assert len(second.rows) == 5 and len(second.runs) == 2
    assert second.rows[:3] == [{k: v for k, v in r.items()} for r in first.rows]
    study = optuna.load_study(study_name="jaxnn-search", storage=storage)
    assert len(study.trials) == 5
    values = sorted(t.value for t in study.trials)
    assert values[0] == pytest.approx(min(r["loss_mean"] for r in second.rows))


def test_a_trained_trial_equals_fit(data):
    result = search(model(), data, grid=GRID, sampler="tpe", trials=2, seeds=2, **COMMON)
    run = result.runs[-1]
    _, history = jaxnn.fit(model(), data, seed=run.seed, **{**COMMON, **run.config})
    np.testing.assert_allclose(run.history["loss"], history.history["loss"], rtol=1e-5)
    assert result.best.row["loss_mean"] == min(r["loss_mean"] for r in result.rows)


def test_pruned_trials_stop_after_their_first_report(data):
    pruner = optuna.pruners.ThresholdPruner(upper=1e-6)  # every loss is above: prune at once
    result = search(
        model(),
        data,
        grid=GRID,
        sampler="random",
        trials=2,
        seeds=2,
        pruner=pruner,
        **{**COMMON, "epochs": 5},
    )
    assert [len(r.history["loss"]) for r in result.runs] == [1, 1, 1, 1]
    assert [r["epochs"] for r in result.rows] == [1.0, 1.0]


def test_trials_are_required(data):
    with pytest.raises(ValueError, match=r"sampler='tpe' needs trials=N"):
        search(model(), data, grid=GRID, sampler="tpe", **COMMON)


def test_optuna_missing_is_an_import_error_naming_the_extra(data, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "optuna", None)
    storage = f"sqlite:///{tmp_path}/x/study.db"
    with pytest.raises(
        ImportError, match=r"sampler='tpe' needs Optuna: pip install 'jaxnn\[search\]'"
    ):
        search(model(), data, grid=GRID, sampler="tpe", trials=2, storage=storage, **COMMON)
    assert list(tmp_path.iterdir()) == []
