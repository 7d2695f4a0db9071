"""Compiled loops: training epochs or chunks of steps, and evaluation passes, as ``lax`` loops.

A *run of epochs* is one dispatch: for each epoch it draws the permutation on the device, gathers
each batch by its row indices, runs the steps in a ``lax.scan``, sums the batch statistics,
computes the epoch's logs, and evaluates the validation data, all inside a ``lax.while_loop``
over epochs. The host reads only the small table of per-epoch logs. A *chunk* is a slice of one
epoch's steps, for progress within long epochs, for models that are slow inside a loop, and for
data streamed from the host (its batches are gathered there and sent as the scan's inputs; the
step body is the same, so the numbers are the same).

The TrainState is donated to every call: one copy of the params and optimizer state lives on the
device, not two. Instead of replaying from a kept copy, a step whose loss is not finite is not
applied: the state stays the last finite one, a *guard* records the epoch and step, and every
later step and epoch of the call (and of any call already dispatched behind it) does nothing.
The guard is a ``lax.cond`` around the optimizer update, so a finite run is bit-identical to an
unguarded one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.core import Layer
from jaxnn.metrics import Metric, merge
from jaxnn.train.data import epoch_indices, num_steps
from jaxnn.train.state import TrainState
from jaxnn.train.step import Objective, Stats, logs_from_stats
from jaxnn.types import Array

__all__ = ["Evaluator", "Guard", "Trainer", "gather", "make_predictor", "zero_stats"]

Update = Callable[..., tuple[TrainState, Stats]]


class Guard(NamedTuple):
    """Why a compiled run stopped early, carried from call to call on the device.

    Attributes:
        failed: A step's loss was not finite; that step and all later ones were not applied.
        halted: An epoch's logs (training or validation) held a NaN or Inf; later epochs are not
            run (the state after that epoch is kept, as ``TerminateOnNaN`` asks).
        epoch: The epoch of the failed step (``-1`` if none).
        step: The failed step's index in its epoch (``-1`` if none).
    """

    failed: Any
    halted: Any
    epoch: Any
    step: Any

    @classmethod
    def fresh(cls) -> Guard:
        """A guard that has seen nothing (host values: no compilation)."""
        return cls(np.bool_(False), np.bool_(False), np.int32(-1), np.int32(-1))


def gather(data: Any, rows: Array) -> Any:
    """Rows of every array in ``data`` (indices are in bounds by construction, so clip mode)."""
    return jax.tree.map(lambda a: jnp.take(a, rows, axis=0, mode="clip"), data)


def _row_access(n: int, batch_size: int, split_mesh: Any) -> tuple[Callable, Callable]:
    """``(take(data, rows), batches(key))``: how a pass gathers its rows and lays out batches.

    Data whole on every device: :func:`gather` and :func:`~jaxnn.train.data.epoch_indices`.
    Data split by rows over ``split_mesh``: each device's own block
    (:func:`~jaxnn.train.split.local_gather`, :func:`~jaxnn.train.split.block_indices`).
    """
    if split_mesh is None:
        return gather, functools.partial(epoch_indices, n, batch_size)
    from jaxnn.train import split

    blocks = split_mesh.shape["data"]
    return (
        functools.partial(split.local_gather, mesh=split_mesh, n=n),
        functools.partial(split.block_indices, n, batch_size, blocks),
    )


def split_rows(tree: Any, sharding: Any) -> Any:
    """``tree``'s arrays split by rows over the devices of ``sharding`` (as is for ``None``).

    Data parallelism: a batch constrained so, inside a compiled step, makes XLA partition the
    step over the devices and insert the collectives (gradient mean, batch statistics).
    """
    if sharding is None:
        return tree
    return jax.tree.map(lambda a: jax.lax.with_sharding_constraint(a, sharding), tree)


def _sum_steps(stats: Stats) -> Stats:
    return jax.tree.map(lambda s: jnp.sum(s, axis=0), stats)


def zero_stats(fn: Callable[..., tuple[Any, Stats]], *args: Any) -> Stats:
    """Host zeros shaped like the statistics ``fn(*args)`` returns (its second output)."""
    shapes = jax.eval_shape(fn, *args)[1]
    return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)


def _guarded(update: Update) -> Callable:
    """``step(ts, guard, x, y, w, row_mask, epoch, j)``: ``update``, unless its loss is NaN/Inf."""

    def step(
        ts: TrainState, guard: Guard, x: Any, y: Any, w: Array, row_mask: Array, epoch: Any, j: Any
    ) -> tuple[TrainState, Guard, Stats]:
        new, stats = update(ts, x, y, w * row_mask, row_mask > 0, halted=guard.failed)
        # update decides (finite loss, not halted); a step it did not take leaves the count
        newly = jnp.logical_not(guard.failed) & (new.step == ts.step)
        ts = new
        guard = Guard(
            guard.failed | newly,
            guard.halted,
            jnp.where(newly, epoch, guard.epoch).astype(jnp.int32),
            jnp.where(newly, j, guard.step).astype(jnp.int32),
        )
        return ts, guard, stats

    return step


def _unguarded(update: Update) -> Update:
    """``update`` that takes every step, its loss finite or not (Keras' behaviour)."""

    def step(ts: TrainState, x: Any, y: Any, w: Array, mask: Array, *, halted: Any = None) -> Any:
        del halted
        return update(ts, x, y, w, mask)

    return step


def _all_finite(logs: Any) -> Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves(logs)]))


class Trainer:
    """Compiled training for one data layout; every call donates its TrainState.

    ``epochs(ts, guard, data, val, key, first, count)`` runs up to ``count`` whole epochs from
    ``first`` on device-resident data (``val`` may be ``None``), returning
    ``(ts, guard, logs, done)``: a table of ``max_epochs`` rows of logs, ``done`` of them filled.
    ``resident(ts, guard, total, data, key, epoch, start, length=...)`` runs steps
    ``[start, start + length)`` of ``epoch``; ``streamed(ts, guard, total, batches, epoch,
    start)`` runs host-gathered batches. Both return ``(ts, guard, total, logs)``.
    """

    def __init__(
        self,
        update: Update,
        metrics: Sequence[Metric],
        *,
        n: int,
        batch_size: int,
        shuffle: bool,
        max_epochs: int = 1,
        validate: Callable[[TrainState, Any], Any] | None = None,
        batch_sharding: Any = None,
        split_mesh: Any = None,
        stop_on_nan: bool = True,
    ) -> None:
        """Builds the jitted functions; nothing compiles until the first call.

        ``batch_sharding`` (a ``NamedSharding`` over a ``data`` axis) splits every batch over
        devices; ``None`` is the one-device path. ``split_mesh`` is the mesh when the data
        itself stays split by rows over its devices (:mod:`jaxnn.train.split`): each device then
        shuffles and gathers only its own rows. ``stop_on_nan=False`` applies every update,
        finite or not (``fit(..., on_nan="continue")``).
        """
        step = _guarded(update if stop_on_nan else _unguarded(update))
        steps = num_steps(n, batch_size)
        take, batches = _row_access(n, batch_size, split_mesh)

        def scan_steps(
            ts: TrainState, guard: Guard, data: Any, xs: Any, epoch: Any
        ) -> tuple[TrainState, Guard, Stats]:
            def body(carry: Any, x: Any) -> Any:
                if data is None:  # streamed: the batch itself
                    (xb, yb, wb), mask, j = x
                else:
                    rows, mask, j = x
                    xb, yb, wb = take(data, rows)
                xb, yb, wb, mask = split_rows((xb, yb, wb, mask), batch_sharding)
                ts, guard, stats = step(*carry, xb, yb, wb, mask, epoch, j)
                return (ts, guard), stats

            if jax.tree.leaves(xs)[0].shape[0] == 1:  # no loop: XLA's CPU convolutions are
                (ts, guard), stats = body((ts, guard), jax.tree.map(lambda a: a[0], xs))
                return ts, guard, jax.tree.map(lambda a: a[None], stats)  # ~7x slower in one
            (ts, guard), stats = jax.lax.scan(body, (ts, guard), xs)
            return ts, guard, stats

        def indices(key: Array, epoch: Any) -> tuple[Array, Array]:
            return batches(jax.random.fold_in(key, epoch) if shuffle else None)

        def run_epochs(
            ts: TrainState, guard: Guard, data: Any, val: Any, key: Array, first: Any, count: Any
        ) -> Any:
            def one_epoch(ts: TrainState, guard: Guard, epoch: Any) -> Any:
                idx, mask = indices(key, epoch)
                ts, guard, stats = scan_steps(
                    ts, guard, data, (idx, mask, jnp.arange(steps)), epoch
                )
                logs = logs_from_stats(_sum_steps(stats), metrics)
                if validate is not None:
                    logs.update({f"val_{k}": v for k, v in validate(ts, val).items()})
                halted = guard.halted | (stop_on_nan & jnp.logical_not(_all_finite(logs)))
                return ts, guard._replace(halted=halted), logs

            table = jax.eval_shape(lambda: one_epoch(ts, guard, first)[2])
            table = jax.tree.map(lambda s: jnp.zeros((max_epochs, *s.shape), s.dtype), table)

            def running(carry: Any) -> Array:
                i, _, guard, _ = carry
                return (i < count) & jnp.logical_not(guard.failed | guard.halted)

            def body(carry: Any) -> Any:
                i, ts, guard, table = carry
                ts, guard, logs = one_epoch(ts, guard, first + i)
                table = jax.tree.map(lambda t, v: t.at[i].set(v), table, logs)
                return i + 1, ts, guard, table

            done, ts, guard, table = jax.lax.while_loop(
                running, body, (jnp.zeros((), jnp.int32), ts, guard, table)
            )
            return ts, guard, table, done

        def finish(ts: TrainState, guard: Guard, stats: Stats, total: Stats) -> Any:
            total = merge(total, _sum_steps(stats))
            return ts, guard, total, logs_from_stats(total, metrics)

        def resident(
            ts: TrainState,
            guard: Guard,
            total: Stats,
            data: Any,
            key: Array,
            epoch: Any,
            start: Any,
            length: int,
        ) -> Any:
            idx, mask = indices(key, epoch)
            xs = tuple(
                jax.lax.dynamic_slice_in_dim(a, start, length)
                for a in (idx, mask, jnp.arange(steps))
            )
            ts, guard, stats = scan_steps(ts, guard, data, xs, epoch)
            return finish(ts, guard, stats, total)

        def streamed(
            ts: TrainState, guard: Guard, total: Stats, batches: Any, epoch: Any, start: Any
        ) -> Any:
            (x, y, w), mask = batches
            length = mask.shape[0]
            xs = ((x, y, w), mask, start + jnp.arange(length))
            ts, guard, stats = scan_steps(ts, guard, None, xs, epoch)
            return finish(ts, guard, stats, total)

        self.epochs = jax.jit(run_epochs, donate_argnums=0)
        self.resident = jax.jit(resident, static_argnames="length", donate_argnums=0)
        self.streamed = jax.jit(streamed, donate_argnums=0)
        self.indices = jax.jit(indices)
        self.n, self.batch_size, self.steps, self.max_epochs = n, batch_size, steps, max_epochs
        self._update = update

    def zero_totals(self, ts: TrainState, batch: Sequence[Any]) -> Stats:
        """Host zeros for an epoch's running statistics (traced once, never compiled)."""
        shapes = [jax.ShapeDtypeStruct((self.batch_size, *a.shape[1:]), a.dtype) for a in batch]
        return zero_stats(self._update, ts, *shapes)


class Evaluator:
    """Compiled evaluation passes (``train=False``) returning ``(summed stats, logs)``.

    ``pass_logs(ts, data)`` is the traceable pass over device-resident ``data`` in batches of
    ``batch_size`` (in order, the last batch masked); ``fit`` runs it inside its compiled epochs,
    and ``resident`` is it compiled. ``streamed(ts, batches, mask)`` sums the statistics of
    host-gathered batches; ``logs(stats)`` turns summed statistics into logs.
    """

    def __init__(
        self,
        objective: Objective,
        metrics: Sequence[Metric],
        *,
        n: int,
        batch_size: int,
        batch_sharding: Any = None,
        split_mesh: Any = None,
    ) -> None:
        """Builds the jitted functions (``batch_sharding``, ``split_mesh`` as for :class:`Trainer`).

        With ``split_mesh`` each batch takes rows of every device's block side by side, which
        changes only the order in which the statistics are summed.
        """
        take, batches = _row_access(n, batch_size, split_mesh)

        def stats_of(ts: TrainState, batch: Any, mask: Array) -> Stats:
            x, y, w, mask = split_rows((*batch, mask), batch_sharding)
            return objective(ts.params, ts.state, x, y, w * mask, ts.key, False, mask > 0)[1][1]

        def pass_stats(ts: TrainState, data: Any) -> Stats:
            idx, mask = batches(None)

            def body(carry: None, rows_mask: tuple[Array, Array]) -> tuple[None, Stats]:
                return carry, stats_of(ts, take(data, rows_mask[0]), rows_mask[1])

            return _sum_steps(jax.lax.scan(body, None, (idx, mask))[1])

        def logs(ts: TrainState, data: Any) -> Any:
            return logs_from_stats(pass_stats(ts, data), metrics)

        @jax.jit
        def streamed(ts: TrainState, batches: Any, mask: Array) -> Stats:
            def body(carry: None, b: Any) -> tuple[None, Stats]:
                return carry, stats_of(ts, b[0], b[1])

            return _sum_steps(jax.lax.scan(body, None, (batches, mask))[1])

        self.pass_logs, self.resident, self.streamed = logs, jax.jit(logs), streamed
        self.n, self.batch_size = n, batch_size
        self.logs = jax.jit(functools.partial(logs_from_stats, metrics=metrics))


def make_predictor(
    model: Layer, *, n: int, batch_size: int, batch_sharding: Any = None
) -> tuple[Callable, Callable]:
    """``(resident, streamed)`` prediction passes returning ``(steps, batch_size, ...)`` outputs."""

    def forward(ts: TrainState, x: Array) -> Array:
        return model.apply(ts.params, ts.state, split_rows(x, batch_sharding), train=False)[0]

    @jax.jit
    def resident(ts: TrainState, x: Array) -> Array:
        idx, _ = epoch_indices(n, batch_size, None)
        return jax.lax.map(lambda rows: forward(ts, gather(x, rows)), idx)

    @jax.jit
    def streamed(ts: TrainState, xs: Array) -> Array:
        return jax.lax.map(lambda xb: forward(ts, xb), xs)

    return resident, streamed
