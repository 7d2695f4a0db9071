"""Training a search's configurations over several seeds, vectorised where it can.

Configurations are put in *groups* that share everything static (the architecture, the
optimizer, the batch size, the epochs ...); within a group, every configuration and seed is one
*member*, and the members train together in one compiled call (:mod:`jaxnn.search.vectorized`),
so a group compiles once however many seeds, learning rates, ``l1``/``l2`` rates and dropout
rates it holds. Models that differ only in the rates of their Dropout layers count as one
architecture (:mod:`jaxnn.search.dropout`).
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxnn import losses as losses_lib
from jaxnn.callbacks import Callback, EarlyStopping, TerminateOnNaN
from jaxnn.core import Layer
from jaxnn.search import dropout, space
from jaxnn.search.result import Best, Run, better, mode_of, summarise
from jaxnn.search.vectorized import Member, Setup, Trained, Watch, train_group
from jaxnn.train import data as data_lib
from jaxnn.train.loop import fit
from jaxnn.train.step import resolve_metrics

__all__ = ["Outcome", "Plan", "plan", "train_configs"]

_FIT_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(fit).parameters.items()
    if p.kind is p.KEYWORD_ONLY
}
# fit arguments that a search does not take, and why.
_REFUSED = {
    "seed": "give seeds=N or seeds=[...] instead",
    "initial_state": "every model starts from its own seed",
    "warm_start": "every model starts from its own seed",
    "initial_epoch": "every model trains from epoch 0",
    "steps_per_chunk": "a search compiles whole epochs",
    "data_on_device": "a search keeps the data on the device",
    "devices": "a search runs on one device",
    "mesh": "a search runs on one device",
    "shard_params": "a search runs on one device",
}


class Plan(NamedTuple):
    """A search's inputs, checked: the model template, grid, seeds, data and fit arguments."""

    template: space.Template
    values: dict[str, list[Any]]
    seeds: list[int]
    arrays: data_lib.Arrays
    val: data_lib.Arrays | None
    fit_kwargs: dict[str, Any]
    early_stopping: EarlyStopping | None
    monitor: str
    mode: str
    max_memory: int | None
    verbose: int


def _check_fit_kwargs(fit_kwargs: dict[str, Any], where: str) -> dict[str, Any]:
    for name in fit_kwargs:
        if name in _REFUSED:
            raise ValueError(f"{where}: fit argument {name}= is not taken here: {_REFUSED[name]}.")
        if name not in _FIT_DEFAULTS:
            hint = space.suggest(name, list(_FIT_DEFAULTS))
            raise TypeError(
                f"{where}: unknown fit argument {name!r}.{hint} fit takes: "
                f"{', '.join(sorted(_FIT_DEFAULTS))}."
            )
    if "loss" not in fit_kwargs:
        raise TypeError(f"{where}: loss= is required, as for fit (e.g. loss='mse').")
    if fit_kwargs.get("precision") not in (None, "float32"):
        raise ValueError(
            f"{where}: precision={fit_kwargs['precision']!r}: a search trains in float32 only."
        )
    return {**_FIT_DEFAULTS, **fit_kwargs}


def _early_stopping(callbacks: Sequence[Any], where: str) -> EarlyStopping | None:
    found = None
    for cb in callbacks:
        if isinstance(cb, EarlyStopping) and found is None:
            found = cb
        elif not isinstance(cb, TerminateOnNaN):
            kind = type(cb).__name__ if isinstance(cb, Callback) else repr(cb)
            raise TypeError(
                f"{where}: callbacks may hold one EarlyStopping (applied to every model on its "
                f"own) and TerminateOnNaN; got {kind}."
            )
    return found


def _validating(values: dict[str, list[Any]], kwargs: dict[str, Any]) -> bool:
    split = values.get("validation_split", [kwargs["validation_split"]])
    return kwargs["validation_data"] is not None or any(s is not None for s in split)


def plan(
    model: Any,
    data: Any,
    *,
    grid: Any,
    seeds: Any,
    monitor: str | None,
    max_memory: int | None,
    verbose: int,
    fit_kwargs: dict[str, Any],
    where: str = "search",
) -> Plan:
    """Checks everything a search is given, before any training (and any file).

    Raises:
        ValueError, TypeError: As :func:`search` lists.
    """
    tpl = space.template(model, where=where)
    values = space.check_grid(grid, tpl, where=where)
    seed_values = space.seed_list(seeds, where=where)
    kwargs = _check_fit_kwargs(fit_kwargs, where)
    arrays = data_lib.check_arrays(data, kwargs["sample_weight"], where=where)
    val = None
    if kwargs["validation_data"] is not None:
        if "validation_split" in values or kwargs["validation_split"] is not None:
            raise ValueError(f"{where}: give validation_split or validation_data, not both.")
        val = data_lib.check_arrays(kwargs["validation_data"], None, where=f"{where} validation")
    loss_fn = losses_lib.get(kwargs["loss"])
    names = ["loss", *(m.name for m in resolve_metrics(kwargs["metrics"], loss_fn))]
    validating = _validating(values, kwargs)
    monitor = monitor or ("val_loss" if validating else "loss")
    known = names + [f"val_{n}" for n in names] * validating
    if monitor not in known:
        raise ValueError(
            f"{where}: monitor {monitor!r} is not a value the models log; they log "
            f"{', '.join(known)}."
        )
    early = _early_stopping(kwargs["callbacks"], where)
    return Plan(
        tpl, values, seed_values, arrays, val, kwargs, early, monitor, mode_of(monitor),
        max_memory, verbose,
    )  # fmt: skip


def _split(config: dict[str, Any], tpl: space.Template) -> tuple[dict, dict, dict]:
    """``(model values, static fit values, continuous rates)`` of one configuration."""
    model = {k: v for k, v in config.items() if k in tpl.names}
    rates = {
        k: float(v)
        for k, v in config.items()
        if k in space.VECTOR_KEYS and k not in tpl.names and _is_number(v)
    }
    static = {k: v for k, v in config.items() if k not in model and k not in rates}
    return model, static, rates


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_epochs(epochs: Any, where: str) -> int:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"{where}: epochs must be an int >= 1; got {epochs!r}.")
    return int(epochs)


def _setup(p: Plan, model: Layer, static: dict[str, Any], rates: dict, where: str) -> Setup:
    kw = {**p.fit_kwargs, **{k: v for k, v in static.items() if k not in space.RATE_KEYS}}
    loss_fn = losses_lib.get(kw["loss"])
    metrics = resolve_metrics(kw["metrics"], loss_fn)
    split = kw["validation_split"]
    n_train = len(p.arrays) - (int(round(len(p.arrays) * split)) if split is not None else 0)
    batch_size = data_lib.check_batch_size(kw["batch_size"], max(n_train, 1), where=where)
    if kw["on_nan"] not in ("stop", "continue"):
        raise ValueError(f"{where}: on_nan must be 'stop' or 'continue'; got {kw['on_nan']!r}.")
    rate_static = {k: v for k, v in static.items() if k in space.RATE_KEYS}
    if rate_static:  # l1/l2 given as something else than a number
        raise ValueError(f"{where}: the rates {sorted(rate_static)} must be numbers >= 0.")
    for key, value in rates.items():
        if key in space.RATE_KEYS and not value >= 0:
            raise ValueError(f"{where}: grid[{key!r}] must hold numbers >= 0; got {value}.")
    fit_kwargs = {
        k: kw[k] for k in ("loss", "optimizer", "learning_rate", "clip_norm", "batch_size",
                           "validation_split", "shuffle", "class_weight", "regularizer")
    }  # fmt: skip
    fit_kwargs.update(freeze=list(kw["freeze"]), metrics=list(kw["metrics"]), precision="float32")
    return Setup(
        model, loss_fn, metrics, kw["optimizer"], kw["learning_rate"], kw["clip_norm"],
        tuple(kw["freeze"]), kw["regularizer"], kw["class_weight"],
        _check_epochs(kw["epochs"], where), batch_size, bool(kw["shuffle"]), split,
        int(kw["validation_batch_size"]), kw["on_nan"] == "stop", fit_kwargs,
    )  # fmt: skip


def _check_targets(setup: Setup, arrays: data_lib.Arrays, where: str) -> None:
    """As ``fit`` checks them: the targets must fit the loss and the model's output.

    Shapes only (``jax.eval_shape``): nothing is compiled or run, while the loss's own value
    checks see the real targets (labels out of range, targets outside [0, 1]).
    """
    input_shape = (-1,) + tuple(arrays.x.shape[1:])
    _, params, state = jax.eval_shape(lambda: setup.model.init(jax.random.key(0), input_shape))
    x_spec = jax.ShapeDtypeStruct((1,) + tuple(arrays.x.shape[1:]), arrays.x.dtype)
    out = jax.eval_shape(lambda p, s, x: setup.model.apply(p, s, x)[0], params, state, x_spec)
    predictions = jax.ShapeDtypeStruct((len(arrays),) + tuple(out.shape[1:]), out.dtype)
    kwargs = {} if setup.class_weight is None else {"class_weight": setup.class_weight}
    try:
        jax.eval_shape(
            lambda q: setup.loss(q, arrays.y, sample_weight=arrays.w, **kwargs), predictions
        )
    except (ValueError, TypeError) as error:
        raise type(error)(
            f"{where}: the targets y do not fit the loss "
            f"{getattr(setup.loss, '__name__', setup.loss)!r} and the output of the model "
            f"{setup.model.name!r}, of shape {(-1,) + tuple(out.shape[1:])}: {error}"
        ) from error


class _Group(NamedTuple):
    model: Layer
    setup: Setup
    configs: list[int]
    members: list[Member]
    models: list[Layer]  # each configuration's model, built with its values (its dropout rates)
    arch: dropout.Architecture | None


def _model(
    p: Plan, model_values: dict[str, Any], cache: dict[str, tuple]
) -> tuple[Layer, dropout.Architecture | None, tuple[str, str]]:
    """A configuration's model, its dropout architecture and its group's architecture key.

    The key is the model's description (its spec with the values, or its function's call),
    or, for a model with Dropout layers and a config, that config without the rates.
    """
    described = p.template.describe(model_values)
    if described not in cache:
        model = p.template.build(model_values)
        cache[described] = (model, dropout.architecture(model))
    model, arch = cache[described]
    return model, arch, ("model", described) if arch is None else ("config", arch.key)


def _vectorise_dropout(group: _Group) -> _Group:
    """Rebuilds the group's model per member when its dropout rates differ; else drops them."""
    if group.arch is None:
        return group
    names = list(dropout.member_rates(group.arch))
    if len({tuple(m.rates[n] for n in names) for m in group.members}) > 1:
        setup = group.setup._replace(rebuild=dropout.rebuilder(group.arch))
        return group._replace(setup=setup)
    members = [m._replace(rates={k: v for k, v in m.rates.items() if k not in names})
               for m in group.members]  # fmt: skip
    return group._replace(members=members)


def _groups(p: Plan, configs: list[dict[str, Any]], where: str) -> list[_Group]:
    """The configurations' groups, in the order of their first configuration."""
    found: dict[tuple, _Group] = {}
    cache: dict[str, tuple] = {}
    for index, config in enumerate(configs):
        model_values, static, rates = _split(config, p.template)
        model, arch, shape = _model(p, model_values, cache)
        if arch is not None:
            rates = {**rates, **dropout.member_rates(arch)}
        key = (shape, repr(sorted(static.items(), key=lambda kv: kv[0])), tuple(rates))
        if key not in found:
            setup = _setup(p, model, static, rates, where)
            found[key] = _Group(model, setup, [], [], [], arch)
        group = found[key]
        group.configs.append(index)
        group.models.append(model)
        group.members.extend(Member(index, seed, rates) for seed in p.seeds)
    groups = [_vectorise_dropout(g) for g in found.values()]
    for group in groups:
        _check_targets(group.setup, p.arrays, where)
    return groups


class _Progress:
    """A progress bar over configurations on stderr (a line per update when not a terminal)."""

    def __init__(self, total: int, verbose: int, monitor: str) -> None:
        self.total, self.done, self.verbose, self.monitor = total, 0, verbose, monitor
        self.tty = sys.stderr.isatty()

    def update(self, count: int, best: float | None) -> None:
        if not self.verbose:
            return
        self.done += count
        width = 30
        filled = round(width * self.done / max(self.total, 1))
        shown = "" if best is None else f", best {self.monitor} {best:.4g}"
        line = f"search [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
        line += f"configurations{shown}"
        end = "\n" if not self.tty or self.done >= self.total else ""
        sys.stderr.write(("\r" if self.tty else "") + line + end)
        sys.stderr.flush()


class Outcome(NamedTuple):
    """The rows, runs and best of a set of trained configurations."""

    rows: list[dict[str, Any]]
    runs: list[Run]
    best: Best | None
    groups: int
    sizes: list[int]


def train_configs(
    p: Plan,
    configs: list[dict[str, Any]],
    *,
    watch: Callable[[list[Member]], Watch] | None = None,
    where: str = "search",
) -> Outcome:
    """Trains every configuration over every seed; ``watch(members)`` makes a group's watcher."""
    groups = _groups(p, configs, where)
    trained: dict[int, list[Trained]] = {}
    seconds: dict[int, float] = {}
    progress = _Progress(len(configs), p.verbose, p.monitor)
    best_value: float | None = None
    sizes = []
    for group in groups:
        done, spent, size = train_group(
            group.setup, group.members, p.arrays, p.val, early_stopping=p.early_stopping,
            watch=None if watch is None else watch(group.members), max_memory=p.max_memory,
        )  # fmt: skip
        sizes.append(size)
        for t in done:
            trained.setdefault(t.member.config, []).append(t)
        for index in group.configs:
            seconds[index] = spent / len(group.configs)
            value = float(np.mean([t.logs.get(p.monitor, math.nan) for t in trained[index]]))
            if best_value is None or better(value, best_value, p.mode):
                best_value = value
        progress.update(len(group.configs), best_value)
    rows, runs = [], []
    for index, config in enumerate(configs):
        members = trained[index]
        rows.append(
            summarise(config, [t.logs for t in members],
                      [len(t.history.epoch) for t in members], seconds[index])
        )  # fmt: skip
        runs += [Run(config, t.member.seed, t.history.history, t.train_state, t.logs)
                 for t in members]  # fmt: skip
    models = {i: m for g in groups for i, m in zip(g.configs, g.models, strict=True)}
    return Outcome(rows, runs, _best(p, rows, runs, configs, models), len(groups), sizes)


def best_index(p: Plan, rows: list[dict[str, Any]]) -> int | None:
    """The index of the row with the best mean of the monitored value (``None`` for no rows)."""
    key = f"{p.monitor}_mean"
    index = None
    for i, row in enumerate(rows):
        if index is None or better(row.get(key, math.nan), rows[index].get(key, math.nan), p.mode):
            index = i
    return index


def _best(
    p: Plan, rows: list[dict], runs: list[Run], configs: list[dict], models: dict[int, Layer]
) -> Best | None:
    index = best_index(p, rows)
    if index is None:
        return None
    mine = [r for r in runs if r.config is configs[index]]
    pick = mine[0]
    for run in mine[1:]:
        if better(run.logs.get(p.monitor, math.nan), pick.logs.get(p.monitor, math.nan), p.mode):
            pick = run
    return Best(configs[index], pick.seed, models[index], pick.train_state, pick.history,
                rows[index])  # fmt: skip
