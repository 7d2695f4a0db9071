"""Compiled loops: a chunk of training steps, or a whole evaluation pass, as one ``lax.scan``.

A chunk is one dispatch: it draws the epoch's permutation on the device, gathers each batch by
its row indices, runs the steps in a ``lax.scan``, adds the batch statistics to the running
totals of the epoch and computes the logs from them. The host reads only the small dict of logs.

Data that does not fit on the device is *streamed*: the host gathers a chunk's batches and sends
them as the scan's inputs; the step body is the same, so the numbers are the same.

The TrainState is not donated: the chunk's input state is what ``fit`` falls back to (and
replays from, step by step) when the loss turns NaN. Keeping it costs one copy of the params and
optimizer state, the same peak memory as donating the input and saving a copy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.core import Layer
from jaxnn.metrics import Metric, merge
from jaxnn.train.data import epoch_indices
from jaxnn.train.state import TrainState
from jaxnn.train.step import Objective, Stats, logs_from_stats
from jaxnn.types import Array

__all__ = ["Evaluator", "Trainer", "gather", "make_predictor", "zero_stats"]

Update = Callable[[TrainState, Array, Array, Array], tuple[TrainState, Stats]]


def gather(data: Any, rows: Array) -> Any:
    """Rows of every array in ``data`` (indices are in bounds by construction, so clip mode)."""
    return jax.tree.map(lambda a: jnp.take(a, rows, axis=0, mode="clip"), data)


def _sum_steps(stats: Stats) -> Stats:
    return jax.tree.map(lambda s: jnp.sum(s, axis=0), stats)


class Trainer:
    """Compiled training chunks for one data layout.

    ``resident(ts, total, data, key, epoch, start, length=...)`` runs steps
    ``[start, start + length)`` of epoch ``epoch`` on device-resident ``data = (x, y, w)``;
    ``streamed(ts, total, batches)`` runs host-gathered batches. Both return
    ``(ts, total, logs)``: the new state, the epoch's running statistics and their logs.
    """

    def __init__(
        self,
        update: Update,
        metrics: Sequence[Metric],
        *,
        n: int,
        batch_size: int,
        shuffle: bool,
        unroll: int = 1,
    ) -> None:
        """Builds the jitted functions; nothing compiles until the first call."""

        def finish(ts: TrainState, total: Stats, stats: Stats) -> tuple[TrainState, Stats, Any]:
            total = merge(total, _sum_steps(stats))
            return ts, total, logs_from_stats(total, metrics)

        def resident(
            ts: TrainState,
            total: Stats,
            data: Any,
            key: Array,
            epoch: Array,
            start: Array,
            length: int,
        ) -> tuple[TrainState, Stats, Any]:
            epoch_key = jax.random.fold_in(key, epoch) if shuffle else None
            idx, mask = epoch_indices(n, batch_size, epoch_key)
            idx = jax.lax.dynamic_slice_in_dim(idx, start, length)
            mask = jax.lax.dynamic_slice_in_dim(mask, start, length)

            def body(ts: TrainState, rows_mask: tuple[Array, Array]) -> tuple[TrainState, Stats]:
                x, y, w = gather(data, rows_mask[0])
                return update(ts, x, y, w * rows_mask[1])

            if length == 1:  # no loop: XLA's CPU convolutions are ~7x slower in a loop body
                ts, stats = body(ts, (idx[0], mask[0]))
                return finish(ts, total, jax.tree.map(lambda a: a[None], stats))
            ts, stats = jax.lax.scan(body, ts, (idx, mask), unroll=unroll)
            return finish(ts, total, stats)

        def streamed(ts: TrainState, total: Stats, batches: Any) -> tuple[TrainState, Stats, Any]:
            if jax.tree.leaves(batches)[0].shape[0] == 1:  # no loop, as in `resident`
                ts, stats = update(ts, *jax.tree.map(lambda a: a[0], batches))
                return finish(ts, total, jax.tree.map(lambda a: a[None], stats))
            ts, stats = jax.lax.scan(lambda t, b: update(t, *b), ts, batches, unroll=unroll)
            return finish(ts, total, stats)

        self.resident = jax.jit(resident, static_argnames="length")
        self.streamed = jax.jit(streamed)
        self.single = jax.jit(update)
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle

    def indices(self, key: Array, epoch: int) -> tuple[Array, Array]:
        """The epoch's indices and mask, as the compiled chunk draws them (for streaming)."""
        return epoch_indices(
            self.n, self.batch_size, jax.random.fold_in(key, epoch) if self.shuffle else None
        )


def zero_stats(fn: Callable[..., tuple[Any, Stats]], *args: Any) -> Stats:
    """Zeros shaped like the statistics ``fn(*args)`` returns (its second output)."""
    shapes = jax.eval_shape(fn, *args)[1]
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


class Evaluator:
    """Compiled evaluation passes (``train=False``) returning ``(summed stats, logs)``."""

    def __init__(self, objective: Objective, metrics: Sequence[Metric]) -> None:
        """Builds the jitted functions."""

        def stats_of(ts: TrainState, x: Array, y: Array, w: Array) -> Stats:
            return objective(ts.params, ts.state, x, y, w, ts.key, False)[1][1]

        @jax.jit
        def resident(ts: TrainState, data: Any, idx: Array, mask: Array) -> tuple[Stats, Any]:
            def body(carry: None, rows_mask: tuple[Array, Array]) -> tuple[None, Stats]:
                x, y, w = gather(data, rows_mask[0])
                return carry, stats_of(ts, x, y, w * rows_mask[1])

            total = _sum_steps(jax.lax.scan(body, None, (idx, mask))[1])
            return total, logs_from_stats(total, metrics)

        @jax.jit
        def streamed(ts: TrainState, batches: Any) -> Stats:
            return _sum_steps(jax.lax.scan(lambda c, b: (c, stats_of(ts, *b)), None, batches)[1])

        self.resident, self.streamed = resident, streamed
        self.logs = jax.jit(functools.partial(logs_from_stats, metrics=metrics))


def make_predictor(model: Layer) -> tuple[Callable, Callable]:
    """``(resident, streamed)`` prediction passes returning ``(steps, batch_size, ...)`` outputs."""

    def forward(ts: TrainState, x: Array) -> Array:
        return model.apply(ts.params, ts.state, x, train=False)[0]

    @jax.jit
    def resident(ts: TrainState, x: Array, idx: Array) -> Array:
        return jax.lax.map(lambda rows: forward(ts, gather(x, rows)), idx)

    @jax.jit
    def streamed(ts: TrainState, xs: Array) -> Array:
        return jax.lax.map(lambda xb: forward(ts, xb), xs)

    return resident, streamed
