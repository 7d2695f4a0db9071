"""The host side of ``fit``: dispatching compiled epochs or chunks, reading logs, callbacks.

Two ways to run, chosen by ``fit``:

- **Runs of epochs** (data on the device, whole-epoch steps): each dispatch runs one or more
  epochs with validation inside (:meth:`Trainer.epochs`). When every callback only reads logs
  (:attr:`Callback.logs_only`), the next run is dispatched before the logs of the last one are
  read, and runs grow until one lasts about :data:`RUN_SECONDS`, so the device never waits for
  the host. Otherwise each run is one epoch and the callbacks see its TrainState.
- **Chunks** of an epoch's steps (streamed data, or ``steps_per_chunk`` below an epoch): one
  dispatch per chunk, the next dispatched before the last one's logs are read when the callbacks
  allow it, validation after the epoch.

Either way the callbacks see the same calls in the same order, with the same logs, as when each
epoch ran alone.
"""

from __future__ import annotations

import collections
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from jaxnn.callbacks import NAN_ADVICE, Callback, FitRun
from jaxnn.train import data as data_lib
from jaxnn.train.inference import run_evaluation, to_python
from jaxnn.train.runner import Evaluator, Guard, Trainer

__all__ = ["RUN_SECONDS", "run_chunks", "run_epochs"]

# A run of epochs grows until it takes about this long, so that progress is reported a few times
# a second while the host's work per run stays a small share of the device's.
RUN_SECONDS = 0.25


def _nan_message(epoch: int, step: int, steps: int, ts: Any) -> str:
    return (
        f"fit: the loss became NaN or Inf at epoch {epoch + 1}, step {step + 1} of {steps}; "
        f"training stopped, and the returned TrainState is the last one with a finite loss "
        f"(step {int(ts.step)}). {NAN_ADVICE} fit(..., on_nan='continue') trains on regardless."
    )


class _Reporter:
    """Calls the callbacks for each finished epoch and records it in the History."""

    def __init__(self, run: FitRun, cbs: Sequence[Callback], n_train: int) -> None:
        self.run, self.cbs, self.n_train = run, cbs, n_train

    def each(self, hook: str, *args: Any) -> None:
        for cb in self.cbs:
            getattr(cb, hook)(*args, self.run)

    def failed(self, guard: Guard, ts: Any) -> None:
        message = _nan_message(int(guard.epoch), int(guard.step), self.run.steps_per_epoch, ts)
        warnings.warn(message, RuntimeWarning, stacklevel=4)
        self.run.stop(message, non_finite=True)

    def epoch_end(
        self, epoch: int, logs: dict, seconds: float, train_seconds: float, shared: int = 1
    ) -> None:
        """Records the epoch; ``seconds`` is its share of a call of ``shared`` epochs."""
        rate = self.n_train / train_seconds if train_seconds > 0 else float("inf")
        self.run.history.append(
            epoch, logs, seconds, rate, epochs_in_call=shared, call_seconds=seconds * shared
        )
        self.each("on_epoch_end", epoch, logs)


def _row(table: dict[str, Any], i: int) -> dict[str, Any]:
    return to_python({k: v[i] for k, v in table.items()})


class _Runs:
    """Dispatches runs of epochs, each donating the TrainState that the last one returned."""

    def __init__(self, trainer: Trainer, data: Any, val: Any, key: Any, ts: Any, first: int):
        self.trainer, self.data, self.val, self.key = trainer, data, val, key
        self.ts, self.guard, self.next, self.count = ts, Guard.fresh(), first, 1
        self.pending: collections.deque[tuple[int, Any, Any, Any]] = collections.deque()

    def dispatch(self, stop: int) -> None:
        count = min(self.count, stop - self.next, self.trainer.max_epochs)
        self.ts, self.guard, table, done = self.trainer.epochs(
            self.ts, self.guard, self.data, self.val, self.key, self.next, count
        )
        self.pending.append((self.next, table, done, self.guard))
        self.next += count


def run_epochs(
    trainer: Trainer,
    data: Any,
    val: Any,
    key: Any,
    *,
    run: FitRun,
    cbs: Sequence[Callback],
    first_epoch: int,
    n_train: int,
) -> None:
    """Runs epochs ``[first_epoch, run.epochs)`` as compiled runs of one or more epochs."""
    ahead = all(cb.logs_only for cb in cbs)
    report = _Reporter(run, cbs, n_train)
    runs = _Runs(trainer, data, val, key, run.train_state, first_epoch)
    last, calls = time.perf_counter(), 0  # the first dispatch compiles: count it in epoch 1
    runs.dispatch(run.epochs)
    while runs.pending:
        if ahead and runs.next < run.epochs:
            runs.dispatch(run.epochs)
        first, table, done, guard = jax.device_get(runs.pending.popleft())
        now = time.perf_counter()
        seconds, last, calls = (now - last) / max(int(done), 1), now, calls + 1
        if not ahead:
            run.train_state = runs.ts
        for i in range(int(done)):
            epoch, logs = first + i, _row(table, i)
            report.each("on_epoch_begin", epoch)
            if guard.failed and epoch == guard.epoch:
                logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
                report.failed(guard, runs.ts)
            report.each("on_chunk_end", epoch, run.steps_per_epoch, logs)
            report.epoch_end(epoch, logs, seconds, seconds, int(done))
        if run.stop_training or guard.failed or guard.halted:
            break
        if ahead and calls > 1:  # the first run's time is mostly compilation
            runs.count = max(1, min(2 * runs.count, round(RUN_SECONDS / max(seconds, 1e-9))))
        if not ahead:
            runs.ts = run.train_state  # a callback may have replaced it
            if runs.next < run.epochs:
                runs.dispatch(run.epochs)
    run.train_state = runs.ts


def run_chunks(
    trainer: Trainer,
    evaluator: Evaluator | None,
    train: data_lib.Arrays,
    val: data_lib.Arrays | None,
    key: Any,
    *,
    run: FitRun,
    cbs: Sequence[Callback],
    first_epoch: int,
    chunks: Sequence[tuple[int, int]],
    resident: bool,
) -> None:
    """Runs each epoch as compiled chunks of steps, on resident or host-streamed data."""
    ahead = all(cb.logs_only for cb in cbs)
    report = _Reporter(run, cbs, len(train))
    guard = Guard.fresh()
    zeros = trainer.zero_totals(run.train_state, tuple(train))
    for epoch in range(first_epoch, run.epochs):
        report.each("on_epoch_begin", epoch)
        start = time.perf_counter()
        dispatch = _chunk_dispatcher(trainer, train, key, epoch, resident)
        total, logs = zeros, {}
        pending: collections.deque[tuple[int, Any, Any]] = collections.deque()
        for a, b in chunks:
            run.train_state, guard, total, chunk_logs = dispatch(
                run.train_state, guard, total, a, b
            )
            pending.append((b, chunk_logs, guard))
            while pending and (len(pending) > 1 or not ahead or b == chunks[-1][1]):
                done, chunk_logs, seen = jax.device_get(pending.popleft())
                logs = to_python(chunk_logs)
                if seen.failed:
                    report.failed(seen, run.train_state)
                    break
                report.each("on_chunk_end", epoch, done, logs)
            if run.stop_training:
                break
        train_seconds = time.perf_counter() - start
        if val is not None and evaluator is not None and not run.stop_training:
            val_logs = run_evaluation(evaluator, run.train_state, val, resident=resident)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        report.epoch_end(epoch, logs, time.perf_counter() - start, train_seconds)
        if run.stop_training:
            break


def _chunk_dispatcher(
    trainer: Trainer, train: data_lib.Arrays, key: Any, epoch: int, resident: bool
) -> Callable:
    if resident:
        data = tuple(train)
        return lambda ts, guard, total, a, b: trainer.resident(
            ts, guard, total, data, key, epoch, a, length=b - a
        )
    idx, mask = (np.asarray(a) for a in trainer.indices(key, epoch))
    return lambda ts, guard, total, a, b: trainer.streamed(
        ts, guard, total, data_lib.host_batches(train, idx[a:b], mask[a:b]), epoch, a
    )
