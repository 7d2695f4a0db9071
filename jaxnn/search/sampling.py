"""Larger spaces through Optuna: random and TPE sampling, pruning, studies kept in a database.

Optuna asks for configurations a few at a time (``study.ask``); each batch trains through
:func:`~jaxnn.search.driver.train_configs`, vectorised as a grid is, and after every epoch each
trial reports its monitored value (the mean over its seeds) so the pruner can stop poor trials
early. Each finished trial stores its row in the study (``user_attrs``), so a search given the
same ``storage`` resumes: the trials done before count, and their rows come back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxnn.search.driver import Outcome, Plan, best_index, train_configs
from jaxnn.search.result import Best, better
from jaxnn.search.vectorized import Member

__all__ = ["STUDY_NAME", "import_optuna", "optuna_search"]

STUDY_NAME = "jaxnn-search"
# Trials asked for at once by TPE (random sampling asks for all): more train together, fewer
# learn from the others' results.
_TPE_BATCH = 4


def import_optuna(sampler: str) -> Any:
    """The ``optuna`` module.

    Raises:
        ImportError: Saying how to install it.
    """
    try:
        import optuna
    except ImportError as error:
        raise ImportError(
            f"search: sampler={sampler!r} needs Optuna: pip install 'jaxnn[search]' (or pip "
            f"install optuna), or use sampler='grid'."
        ) from error
    return optuna


def _choices(values: list[Any]) -> tuple[list[Any], bool]:
    """Optuna's categorical choices: the values, or their indices for tuples and objects."""
    plain = all(v is None or isinstance(v, (bool, int, float, str)) for v in values)
    return (list(values), False) if plain else (list(range(len(values))), True)


def _space(optuna: Any, values: dict[str, list[Any]]) -> tuple[dict[str, Any], set[str]]:
    distributions, indexed = {}, set()
    for key, options in values.items():
        if len(options) == 1 and type(options[0]).__module__.startswith("optuna.distributions"):
            distributions[key] = options[0]
            continue
        choices, by_index = _choices(options)
        distributions[key] = optuna.distributions.CategoricalDistribution(choices)
        if by_index:
            indexed.add(key)
    return distributions, indexed


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def _storage(storage: str | None) -> str | None:
    """The storage URL, with the folder of an SQLite file created."""
    prefix = "sqlite:///"
    if storage is not None and storage.startswith(prefix):
        Path(storage[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)
    return storage


def _study(optuna: Any, p: Plan, sampler: str, storage: str | None, pruner: Any) -> Any:
    samplers = {"random": optuna.samplers.RandomSampler, "tpe": optuna.samplers.TPESampler}
    return optuna.create_study(
        storage=_storage(storage),
        study_name=STUDY_NAME,
        sampler=samplers[sampler](seed=p.seeds[0]),
        pruner=pruner if pruner is not None else optuna.pruners.MedianPruner(n_warmup_steps=1),
        direction="maximize" if p.mode == "max" else "minimize",
        load_if_exists=True,
    )


class _Pruning:
    """A watcher per group: each trial reports its seeds' mean after every epoch."""

    def __init__(self, p: Plan, trials: Sequence[Any]) -> None:
        self.p, self.trials = p, trials
        self.pruned: set[int] = set()

    def __call__(self, members: list[Member]) -> Any:
        def watch(epoch: int, logs: dict[int, dict[str, float]]) -> set[int]:
            by_config: dict[int, list[float]] = {}
            for m, entry in logs.items():
                by_config.setdefault(members[m].config, []).append(
                    entry.get(self.p.monitor, math.nan)
                )
            stop = set()
            for config, values in by_config.items():
                trial = self.trials[config]
                value = float(np.mean(values))
                if math.isfinite(value):
                    trial.report(value, epoch)
                if trial.should_prune():
                    self.pruned.add(config)
                    stop |= {i for i, member in enumerate(members) if member.config == config}
            return stop

        return watch


def optuna_search(
    p: Plan, *, sampler: str, trials: int | None, storage: str | None, pruner: Any = None
) -> Outcome:
    """Samples ``trials`` configurations with Optuna and trains them, batch by batch.

    Raises:
        ValueError: If ``trials`` is not an int >= 1.
        ImportError: Without Optuna.
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(
            f"search: sampler={sampler!r} needs trials=N, how many configurations to try (an "
            f"int >= 1); got {trials!r}."
        )
    optuna = import_optuna(sampler)
    distributions, indexed = _space(optuna, p.values)
    study = _study(optuna, p, sampler, storage, pruner)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    earlier = [
        t for t in study.get_trials(deepcopy=False, states=finished) if "row" in t.user_attrs
    ]
    rows = [dict(t.user_attrs["row"]) for t in earlier]
    runs, best, groups, sizes = [], None, 0, []
    left = trials - len(earlier)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        while left > 0:
            batch = left if sampler == "random" else min(left, _TPE_BATCH)
            asked = [study.ask(fixed_distributions=distributions) for _ in range(batch)]
            configs = [
                {k: p.values[k][v] if k in indexed else v for k, v in t.params.items()}
                for t in asked
            ]
            configs = [{k: c[k] for k in p.values} for c in configs]
            pruning = _Pruning(p, asked)
            outcome = train_configs(p, configs, watch=pruning)
            groups += outcome.groups
            sizes += outcome.sizes
            for i, (trial, row) in enumerate(zip(asked, outcome.rows, strict=True)):
                trial.set_user_attr("row", {k: _jsonable(v) for k, v in row.items()})
                if i in pruning.pruned:
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                else:
                    value = row.get(f"{p.monitor}_mean", math.nan)
                    if math.isfinite(value):
                        study.tell(trial, value)
                    else:
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
            rows += outcome.rows
            runs += outcome.runs
            best = _better_best(p, best, outcome.best)
            left -= batch
    finally:
        optuna.logging.set_verbosity(verbosity)
    return Outcome(rows, runs, _overall_best(p, rows, best), groups, sizes)


def _better_best(p: Plan, a: Best | None, b: Best | None) -> Best | None:
    if a is None or b is None:
        return a or b
    key = f"{p.monitor}_mean"
    return b if better(b.row.get(key, math.nan), a.row.get(key, math.nan), p.mode) else a


def _overall_best(p: Plan, rows: list[dict[str, Any]], trained: Best | None) -> Best | None:
    """The best row overall; its model only when this session trained it."""
    key = f"{p.monitor}_mean"
    index = best_index(p, rows)
    if index is None:
        return trained
    row = rows[index]
    if trained is not None and not better(row.get(key, math.nan), trained.row[key], p.mode):
        return trained
    config = {k: row.get(k) for k in p.values}
    return Best(config, None, None, None, {}, row)
