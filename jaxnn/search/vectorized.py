"""Many models in one compiled call: ``jax.vmap`` over stacked train states.

The *members* of a group share one architecture, optimizer and batch size, and differ in their
seed and in continuous hyperparameters (the learning rate, the ``l1``/``l2`` rates and the
rates of the Dropout layers, for which the model is rebuilt inside the mapped function with the
member's traced rates, :mod:`jaxnn.search.dropout`). Each member
is trained as :func:`jaxnn.fit` trains one model, from the same pieces (:class:`Trainer`,
:func:`make_objective`, :func:`make_update`) and with the same random draws: from
``key = jax.random.key(seed)``, the parameters from ``fold_in(key, 0)``, the validation split from
``fold_in(key, 1)`` and the shuffles from ``fold_in(key, 2)``. The per-member function is mapped
with ``jax.vmap`` over a leading axis of the TrainStates, the keys and the hyperparameters, and
compiled once. So every member's parameters and history equal those of a separate ``fit`` call
to float precision (a batched matrix product may sum in another order).

``fit``'s compiled loop stops a model whose loss turns NaN or Inf; under ``vmap`` that loop stops
each member on its own (its state stays the last finite one, the others carry on), and early
stopping or pruning halts a member the same way, through its guard. Before training, the memory
the compiled call needs (XLA's own figures) is compared with what the device has free; a group
that does not fit is split into calls of fewer members, each padded to one size (one compile).
"""

from __future__ import annotations

import copy
import functools
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import optimizers, regularizers
from jaxnn.callbacks import EarlyStopping, FitRun, History
from jaxnn.core import Layer
from jaxnn.metrics import Metric
from jaxnn.train import data as data_lib
from jaxnn.train.inference import Training, remember_training, to_python
from jaxnn.train.runner import Evaluator, Guard, Trainer
from jaxnn.train.state import _COMPILE_FAST, TrainState
from jaxnn.train.step import make_objective, make_update

__all__ = ["Member", "Setup", "Trained", "memory_budget", "train_group"]

# The most epochs one compiled call runs (fit's _MAX_EPOCHS_PER_RUN).
_MAX_EPOCHS_PER_CALL = 64


class Member(NamedTuple):
    """One model of a group: its configuration's index, its seed and its continuous values.

    ``rates`` holds ``learning_rate``, ``l1``, ``l2`` and the dropout rates ``dropout[i]``, as
    far as the members of the group differ in them.
    """

    config: int
    seed: int
    rates: dict[str, float]


class Setup(NamedTuple):
    """What the members of a group share, resolved as ``fit`` resolves its arguments."""

    model: Layer
    loss: Callable
    metrics: list[Metric]
    optimizer: Any
    learning_rate: Any
    clip_norm: Any
    freeze: Sequence[Any]
    regularizer: Any
    class_weight: Any
    epochs: int
    batch_size: int
    shuffle: bool
    validation_split: float | None
    validation_batch_size: int
    stop_on_nan: bool
    fit_kwargs: dict[str, Any]
    # ``rebuild(rates) -> Layer`` when the members differ in their dropout rates: the model with
    # one member's (traced) rates; None trains ``model`` itself.
    rebuild: Callable[[dict[str, Any]], Layer] | None = None


class Trained(NamedTuple):
    """A trained member: its History (as ``fit`` returns it) and final TrainState."""

    member: Member
    history: History
    train_state: TrainState
    logs: dict[str, float]


def _optimizer(setup: Setup, rates: dict[str, Any]) -> Any:
    rate = rates.get("learning_rate", setup.learning_rate)
    opt = optimizers.get(setup.optimizer, rate, clip_norm=setup.clip_norm)
    return optimizers.freeze(opt, setup.freeze)


def _rates_penalty(rates: dict[str, Any]) -> Callable[[Any], Any]:
    """``l1_l2(l1, l2)`` over every kernel, for rates that may be traced (one per member)."""
    l1, l2 = rates.get("l1"), rates.get("l2")

    def penalty(params: Any) -> Any:
        total = jnp.zeros((), jnp.float32)
        for _, w in regularizers.select(params, ("w",), where="search l1/l2"):
            if l1 is not None:
                total = total + l1 * jnp.sum(jnp.abs(w))
            if l2 is not None:
                total = total + l2 * jnp.sum(jnp.square(w))
        return total

    return penalty


def _regularizer(setup: Setup, rates: dict[str, Any]) -> Callable[[Any], Any] | None:
    if "l1" not in rates and "l2" not in rates:
        return setup.regularizer
    penalty, given = _rates_penalty(rates), setup.regularizer
    return penalty if given is None else (lambda params: given(params) + penalty(params))


def _member_epochs(setup: Setup, n_train: int, n_val: int, max_epochs: int) -> Callable:
    """``run(rates, ts, guard, train, val, key, first, count)``: fit's epochs for one model."""

    def run(
        rates: dict, ts: Any, guard: Any, train: Any, val: Any, key: Any, first: Any, count: Any
    ):
        model = setup.model if setup.rebuild is None else setup.rebuild(rates)
        objective = make_objective(
            model, setup.loss, metrics=setup.metrics,
            regularizer=_regularizer(setup, rates), class_weight=setup.class_weight,
        )  # fmt: skip
        evaluator = None
        if n_val:
            evaluator = Evaluator(
                make_objective(model, setup.loss, metrics=setup.metrics),
                setup.metrics,
                n=n_val,
                batch_size=min(setup.validation_batch_size, n_val),
            )
        trainer = Trainer(
            make_update(objective, _optimizer(setup, rates)),
            setup.metrics,
            n=n_train,
            batch_size=setup.batch_size,
            shuffle=setup.shuffle,
            max_epochs=max_epochs,
            validate=None if evaluator is None else evaluator.pass_logs,
            stop_on_nan=setup.stop_on_nan,
        )
        return trainer.epochs(ts, guard, train, val, key, first, count)

    return run


def _draws(setup: Setup, members: Sequence[Member], input_shape: tuple, n_split: int) -> Any:
    """Every member's shuffle key, split order and initial TrainState, as ``fit`` draws them."""

    def draw(seed: Any, rates: dict) -> Any:
        key = jax.random.key(seed)
        init_key, split_key, shuffle_key = (jax.random.fold_in(key, i) for i in range(3))
        order = jax.random.permutation(split_key, n_split) if n_split else None
        ts = TrainState.create(setup.model, init_key, input_shape, _optimizer(setup, rates))
        return shuffle_key, order, ts

    seeds = np.asarray([m.seed for m in members], np.int32)
    return jax.jit(jax.vmap(draw), compiler_options=_COMPILE_FAST)(seeds, _stack_rates(members))


def _stack_rates(members: Sequence[Member]) -> dict[str, np.ndarray]:
    keys = members[0].rates.keys()
    return {k: np.asarray([m.rates[k] for m in members], np.float32) for k in keys}


def memory_budget() -> int:
    """Bytes a group may use: 80% of the device's free memory, or half the free host memory."""
    stats = jax.local_devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return int(0.8 * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")) // 2
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 4 * 1024**3


def _needed_bytes(compiled: Any) -> int | None:
    try:
        m = compiled.memory_analysis()
    except (NotImplementedError, RuntimeError):  # pragma: no cover - a backend without it
        return None
    if m is None:  # pragma: no cover
        return None
    total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
    return int(total - m.alias_size_in_bytes)


@jax.jit
def _take(tree: Any, rows: Any) -> Any:
    """The members ``rows`` of stacked arrays, in one compiled call (not one per array)."""
    return jax.tree.map(lambda a: jnp.take(a, rows, axis=0), tree)


@functools.partial(jax.jit, static_argnums=1)
def _unstack(tree: Any, count: int) -> list[Any]:
    """The first ``count`` members of stacked arrays, each on its own, in one compiled call."""
    return [jax.tree.map(lambda a, i=i: a[i], tree) for i in range(count)]


class _Data(NamedTuple):
    train: Any  # tuple (x, y, w), stacked per member when each member has its own split
    val: Any
    per_member: bool
    n_train: int
    n_val: int


def _data(setup: Setup, arrays: Any, val: Any, orders: Any) -> _Data:
    """The training and validation rows of every member (its own split with validation_split)."""
    if setup.validation_split is None:
        train = tuple(data_lib.to_device(arrays))
        val_t = None if val is None else tuple(data_lib.to_device(val))
        return _Data(train, val_t, False, len(arrays), 0 if val is None else len(val))
    parts = [data_lib.split_by_order(arrays, setup.validation_split, o) for o in np.asarray(orders)]
    stack = lambda sets: tuple(  # noqa: E731
        None if a[0] is None else np.stack(a) for a in zip(*sets, strict=True)
    )
    train, val_t = stack([p[0] for p in parts]), stack([p[1] for p in parts])
    return _Data(train, val_t, True, len(parts[0][0]), len(parts[0][1]))


class _Chunk(NamedTuple):
    rows: np.ndarray  # member indices, padded by repeating the first
    real: int  # how many are real members


def _chunks(count: int, size: int) -> list[_Chunk]:
    result = []
    for start in range(0, count, size):
        rows = np.arange(start, min(start + size, count))
        padded = np.concatenate([rows, np.full(size - len(rows), rows[0])])
        result.append(_Chunk(padded, len(rows)))
    return result


def _args(setup: Setup, drawn: Any, data: _Data, members: Sequence[Member], chunk: _Chunk) -> tuple:
    keys, _, ts = drawn
    rows = chunk.rows
    halted = np.arange(len(rows)) >= chunk.real  # padding members never train
    guard = Guard(
        np.zeros(len(rows), bool), halted, np.full(len(rows), -1, np.int32),
        np.full(len(rows), -1, np.int32),
    )  # fmt: skip
    rates, ts, keys = _take((_stack_rates(members), ts, keys), rows)
    train = _take(data.train, rows) if data.per_member else data.train
    val = _take(data.val, rows) if data.per_member and data.val is not None else data.val
    return rates, ts, guard, train, val, keys


def _compile(setup: Setup, data: _Data, args: tuple, max_epochs: int) -> Any:
    fn = _member_epochs(setup, data.n_train, data.n_val, max_epochs)
    axis = 0 if data.per_member else None
    val_axis = axis if data.val is not None else None
    batched = jax.vmap(fn, in_axes=(0, 0, 0, axis, val_axis, 0, None, None))
    return jax.jit(batched, donate_argnums=(1, 2)).lower(*args, 0, 1).compile()


def _group_size(
    setup: Setup, drawn: Any, data: _Data, members: Sequence[Member], max_epochs: int, budget: int
) -> tuple[int, Any]:
    """The most members per call that fit in ``budget`` bytes, and that call compiled."""
    size = len(members)
    while True:
        chunk = _chunks(len(members), size)[0]
        compiled = _compile(setup, data, _args(setup, drawn, data, members, chunk), max_epochs)
        need = _needed_bytes(compiled)
        if need is None or need <= budget or size == 1:
            return size, compiled
        size = max(1, min(size - 1, int(size * budget / need)))


Watch = Callable[[int, dict[int, dict[str, float]]], set[int]]


class _Member:
    """The host side of one member: its History, early stopping and why it stopped."""

    def __init__(self, setup: Setup, early: EarlyStopping | None, steps: int) -> None:
        # No TrainState here: the states live stacked on the device; EarlyStopping is given the
        # epoch in their place and keeps that as its best "state".
        self.run = FitRun(setup.model, None, History(), setup.epochs, steps)  # type: ignore[arg-type]
        self.early = copy.deepcopy(early)
        if self.early is not None:
            self.early.on_train_begin(self.run)
        self.done = False

    def epoch(
        self, epoch: int, logs: dict[str, float], seconds: float, rate: float, calls: int
    ) -> bool:
        """Records an epoch; returns whether it is this member's best so far (early stopping)."""
        self.run.history.append(epoch, logs, seconds, rate, epochs_in_call=calls)
        if self.early is None:
            return False
        self.run.train_state = epoch  # type: ignore[assignment]
        self.early.on_epoch_end(epoch, logs, self.run)
        self.done = self.done or self.run.stop_training
        return self.early.best_epoch == epoch


def _select(mask: Any, new: Any, old: Any) -> Any:
    def pick(n: Any, o: Any) -> Any:
        return jnp.where(mask.reshape((-1,) + (1,) * (n.ndim - 1)), n, o)

    return jax.tree.map(pick, new, old)


_select_jit = jax.jit(_select)


def _run_chunk(
    setup: Setup, compiled: Any, args: tuple, chunk: _Chunk, *, early: EarlyStopping | None,
    watch: Watch | None, steps: int, max_epochs: int, n_train: int,
) -> tuple[list[_Member], Any]:  # fmt: skip
    """Trains one chunk of members; returns their host records and final TrainStates."""
    rates, ts, guard, train, val, keys = args
    hosts = [_Member(setup, early, steps) for _ in range(chunk.real)]
    stepwise = early is not None or watch is not None
    restore = early is not None and early.restore_best_weights
    best = jax.tree.map(jnp.copy, ts) if restore else None
    first = 0
    while first < setup.epochs:
        count = 1 if stepwise else min(setup.epochs - first, max_epochs)
        start = time.perf_counter()
        ts, guard, table, done = compiled(rates, ts, guard, train, val, keys, first, count)
        table, done, seen = jax.device_get((table, done, guard))
        seconds = time.perf_counter() - start
        improved = np.zeros(len(chunk.rows), bool)
        logs_now: dict[int, dict[str, float]] = {}
        for m, host in enumerate(hosts):
            for i in range(int(done[m])):
                epoch, logs = first + i, to_python({k: v[m, i] for k, v in table.items()})
                if seen.failed[m] and epoch == seen.epoch[m]:
                    logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
                rate = n_train * count / max(seconds, 1e-9)
                improved[m] |= host.epoch(epoch, logs, seconds / count, rate, count)
                logs_now[m] = logs
            _stop_reason(host, seen, m, steps)
        if watch is not None and logs_now:
            for m in watch(first, logs_now):
                hosts[m].done = True
        if restore:
            best = _select_jit(jnp.asarray(improved), ts, best)
        halted = np.asarray(seen.halted).copy()
        for m, host in enumerate(hosts):
            halted[m] |= host.done
        first += count
        if (halted | np.asarray(seen.failed))[: chunk.real].all():
            break
        guard = Guard(seen.failed, halted, seen.epoch, seen.step)
    for host in hosts:
        if host.early is not None:
            host.early.on_train_end(host.run)
    if restore:
        use_best = np.array([h.early is not None and h.early.best_epoch is not None for h in hosts])
        use_best = np.concatenate([use_best, np.zeros(len(chunk.rows) - len(hosts), bool)])
        ts = _select_jit(jnp.asarray(use_best), best, ts)
    return hosts, ts


def _stop_reason(host: _Member, seen: Any, m: int, steps: int) -> None:
    run = host.run
    if seen.failed[m] and not host.done:
        run.stop(
            f"the loss became NaN or Inf at epoch {int(seen.epoch[m]) + 1}, step "
            f"{int(seen.step[m]) + 1} of {steps}; training stopped with the last finite state.",
            non_finite=True,
        )
        host.done = True
    elif seen.halted[m] and not host.done:
        run.stop("a logged value became NaN or Inf; training stopped.", non_finite=True)
        host.done = True


def train_group(
    setup: Setup,
    members: Sequence[Member],
    arrays: Any,
    val: Any,
    *,
    early_stopping: EarlyStopping | None = None,
    watch: Watch | None = None,
    max_memory: int | None = None,
) -> tuple[list[Trained], float, int]:
    """Trains every member of a group, vectorised; returns them, the seconds and calls' size.

    Args:
        setup: What the members share.
        members: The members, in order.
        arrays: The checked data (:class:`~jaxnn.train.data.Arrays`), whole before any split.
        val: Validation :class:`~jaxnn.train.data.Arrays` (``validation_data``) or ``None``.
        early_stopping: An :class:`~jaxnn.callbacks.EarlyStopping`; each member gets a copy.
        watch: ``watch(epoch, {member: logs}) -> members to stop``, called after every epoch
            with the logs of the members that ran it (Optuna's pruning).
        max_memory: Bytes one compiled call may use (default :func:`memory_budget`).

    Returns:
        ``(trained, seconds, members_per_call)``.
    """
    start = time.perf_counter()
    input_shape = (-1,) + tuple(arrays.x.shape[1:])
    n_split = len(arrays) if setup.validation_split is not None else 0
    drawn = _draws(setup, members, input_shape, n_split)
    data = _data(setup, arrays, val, drawn[1])
    stepwise = early_stopping is not None or watch is not None
    max_epochs = 1 if stepwise else min(setup.epochs, _MAX_EPOCHS_PER_CALL)
    budget = memory_budget() if max_memory is None else int(max_memory)
    size, compiled = _group_size(setup, drawn, data, members, max_epochs, budget)
    steps = data_lib.num_steps(data.n_train, setup.batch_size)
    trained: list[Trained] = []
    for chunk in _chunks(len(members), size):
        args = _args(setup, drawn, data, members, chunk)
        hosts, ts = _run_chunk(
            setup, compiled, args, chunk, early=early_stopping, watch=watch, steps=steps,
            max_epochs=max_epochs, n_train=data.n_train,
        )  # fmt: skip
        for m, (host, member_ts) in enumerate(zip(hosts, _unstack(ts, len(hosts)), strict=True)):
            member = members[int(chunk.rows[m])]
            history = host.run.history
            history.stop_reason, history.non_finite = host.run.stop_reason, host.run.non_finite
            _remember(setup, member, member_ts, history, input_shape)
            trained.append(Trained(member, history, member_ts, _final_logs(host)))
    return trained, time.perf_counter() - start, size


def _final_logs(host: _Member) -> dict[str, float]:
    """The logs of the epoch whose state is kept: the best one when early stopping restores."""
    history = host.run.history.history
    index = -1
    early = host.early
    if early is not None and early.restore_best_weights and early.best_epoch is not None:
        index = host.run.history.epoch.index(early.best_epoch)
    return {k: float(v[index]) for k, v in history.items() if v and np.ndim(v[index]) == 0}


def _remember(setup: Setup, member: Member, ts: Any, history: History, input_shape: tuple) -> None:
    """Records, as ``fit`` does, what the TrainState was trained with (for save_model)."""
    fit_kwargs = {
        **setup.fit_kwargs,
        "learning_rate": member.rates.get("learning_rate", setup.learning_rate),
        "seed": member.seed,
        "initial_epoch": len(history.epoch),
    }
    remember_training(ts, Training(setup.loss, setup.metrics, fit_kwargs, input_shape))
