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
- **A stream** of batches (an iterable, a generator, a Grain dataset): chunks read, checked and
  copied to the device by a background thread while the last one trains
  (:func:`~jaxnn.train.streams.prefetched`); after each epoch the stream's position is recorded
  in ``FitRun.input_position`` for checkpoints.

Either way the callbacks see the same calls in the same order, with the same logs, as when each
epoch ran alone.
"""

from __future__ import annotations

import collections
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxnn.callbacks import NAN_ADVICE, Callback, FitRun
from jaxnn.train import data as data_lib
from jaxnn.train import placement as mesh_lib
from jaxnn.train.inference import run_evaluation, stream_logs, to_python
from jaxnn.train.runner import Evaluator, Guard, Trainer
from jaxnn.train.sources import FitData
from jaxnn.train.streams import BatchStream, prefetched

__all__ = [
    "RUN_SECONDS",
    "RunOptions",
    "run_chunks",
    "run_epochs",
    "run_fit",
    "run_stream",
]

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


def _read_logs(
    pending: collections.deque, report: _Reporter, run: FitRun, epoch: int, keep: int
) -> dict[str, Any] | None:
    """Reads chunk logs until ``keep`` are pending; ``None`` when a step's loss was not finite."""
    logs: dict[str, Any] = {}
    while len(pending) > keep:
        done, chunk_logs, seen = jax.device_get(pending.popleft())
        logs = to_python(chunk_logs)
        if seen.failed:
            report.failed(seen, run.train_state)
            return None
        report.each("on_chunk_end", epoch, int(done), logs)
    return logs


def _validate(evaluator: Evaluator, ts: Any, val: Any, held: Any, resident: bool) -> dict:
    if held is not None:
        logs = to_python(evaluator.logs(evaluator.streamed(ts, *held)))
    elif isinstance(val, BatchStream):
        logs = stream_logs(evaluator, ts, val)
    else:
        logs = run_evaluation(evaluator, ts, val, resident=resident)
    return {f"val_{k}": v for k, v in logs.items()}


def run_stream(
    trainer: Trainer,
    evaluator: Evaluator | None,
    stream: BatchStream,
    val: Any,
    *,
    run: FitRun,
    cbs: Sequence[Callback],
    first_epoch: int,
    chunk: int,
    hold_out: int = 0,
    resident: bool = False,
    placement: Any = None,
) -> None:
    """Runs each epoch of a stream as compiled chunks, the next chunk read while one trains."""
    ahead = all(cb.logs_only for cb in cbs)
    report = _Reporter(run, cbs, 0)
    guard = Guard.fresh()
    zeros = trainer.zero_totals(run.train_state, stream.shapes())
    for epoch in range(first_epoch, run.epochs):
        report.each("on_epoch_begin", epoch)
        start, total, step, rows, held = time.perf_counter(), zeros, 0, 0, None
        logs: dict[str, Any] = {}
        pending: collections.deque[tuple[int, Any, Any]] = collections.deque()
        items = stream.chunks(epoch, chunk, hold_out=hold_out, placement=placement)
        for kind, batches, count, position in prefetched(items):
            run.input_position = {"epoch": epoch + 1, **position}
            if kind == "val":
                held = batches
                continue
            run.train_state, guard, total, chunk_logs = trainer.streamed(
                run.train_state, guard, total, batches, epoch, step
            )
            step, rows = step + int(batches[1].shape[0]), rows + count
            pending.append((step, chunk_logs, guard))
            read = _read_logs(pending, report, run, epoch, 1 if ahead else 0)
            logs = logs if not read else read
            if run.stop_training:
                break
        if not run.stop_training:
            logs = _read_logs(pending, report, run, epoch, 0) or logs
        if step == 0:
            message = (
                f"fit: the data ran out: epoch {epoch + 1} got no batch, so training stopped; "
                f"give steps_per_epoch= or an iterable that iter() starts again (a list of "
                f"batches, a Grain dataset) to train a one-shot iterator for several epochs."
            )
            warnings.warn(message, RuntimeWarning, stacklevel=3)
            run.stop(message)
            break
        train_seconds = time.perf_counter() - start
        if (val is not None or held is not None) and evaluator is not None:
            if not run.stop_training:
                logs.update(_validate(evaluator, run.train_state, val, held, resident))
        report.n_train = rows
        report.epoch_end(epoch, logs, time.perf_counter() - start, train_seconds)
        if run.stop_training:
            break


class RunOptions(NamedTuple):
    """``fit``'s options that decide how its compiled loops run."""

    batch_size: int
    shuffle: bool
    epochs: int
    initial_epoch: int
    steps_per_chunk: Any
    validation_batch_size: int
    stop_on_nan: bool
    placement: Any
    max_epochs_per_run: int


def run_fit(
    source: FitData,
    update: Any,
    eval_objective: Any,
    metrics: list,
    shuffle_key: Any,
    o: RunOptions,
    *,
    run: FitRun,
    cbs: list[Callback],
) -> None:
    """Builds the compiled trainer and evaluator for ``source`` and runs every epoch."""
    split = mesh_lib.batch_sharding(o.placement)
    train, val, stream = source.train, source.val, source.stream
    n = o.batch_size if stream else len(train)
    steps = train.steps if stream else data_lib.num_steps(n, o.batch_size)
    chunk = o.steps_per_chunk
    chunks = data_lib.chunk_bounds(o.batch_size if stream else steps, chunk)  # checks chunk
    evaluator = None
    if val is not None or source.hold_out:
        val_n = len(val) if isinstance(val, data_lib.Arrays) else o.batch_size
        evaluator = Evaluator(
            eval_objective, metrics, n=val_n,
            batch_size=mesh_lib.padded_batch_size(min(o.validation_batch_size, val_n), o.placement),
            batch_sharding=split, split_mesh=o.placement if source.val_on_devices else None,
        )  # fmt: skip
    whole_epochs = not stream and source.resident and len(chunks) == 1
    trainer = Trainer(
        update, metrics, n=n, batch_size=o.batch_size, shuffle=o.shuffle and not stream,
        max_epochs=min(o.epochs - o.initial_epoch, o.max_epochs_per_run) if whole_epochs else 1,
        validate=None if evaluator is None or stream else evaluator.pass_logs,
        batch_sharding=split, split_mesh=o.placement if source.on_devices else None,
        stop_on_nan=o.stop_on_nan,
    )  # fmt: skip
    run.steps_per_epoch = steps  # None: a stream of unknown length
    for cb in cbs:
        cb.on_train_begin(run)
    if stream:
        run_stream(
            trainer, evaluator, train, val, run=run, cbs=cbs, first_epoch=o.initial_epoch,
            chunk=chunk, hold_out=source.hold_out, resident=source.resident,
            placement=o.placement,
        )  # fmt: skip
    elif whole_epochs:
        run_epochs(
            trainer, tuple(train), None if val is None else tuple(val), shuffle_key, run=run,
            cbs=cbs, first_epoch=o.initial_epoch, n_train=len(train),
        )  # fmt: skip
    else:
        run_chunks(
            trainer, evaluator, train, val, shuffle_key, run=run, cbs=cbs,
            first_epoch=o.initial_epoch, chunks=chunks, resident=source.resident,
        )  # fmt: skip
    for cb in cbs:
        cb.on_train_end(run)
    run.history.stop_reason = run.stop_reason
    run.history.non_finite = run.non_finite
