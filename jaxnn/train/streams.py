"""Batches from Python iterables, generators and Grain datasets, for fit, evaluate and predict.

A *stream* yields batches: ``(x, y)``, ``(x, y, sample_weight)`` or a dict with keys ``x``,
``y`` and ``sample_weight`` (``x`` alone for predict). The first batch fixes what every batch
must be: the sample shape and dtype of each array and the batch size ``B``. A later batch may
hold fewer rows (the last of a pass); it is padded to ``B`` and its padding rows are masked, so
every step has one shape and compiles once. Every batch is checked as it arrives (its number,
the epoch and what was expected are named when it is wrong).

What an epoch is:

- an iterable that gives a new iterator on each ``iter()`` (a list, a Grain ``MapDataset``,
  ``IterDataset`` or ``DataLoader``): one whole pass, or with ``steps_per_epoch`` that many
  batches from one iterator that starts a new pass when it runs out;
- a one-shot iterator (a generator): ``steps_per_epoch`` batches, or until it ends.

A background thread reads, checks and stacks the next chunk of batches and copies it to the
device while the device trains on the last one (:func:`prefetched`). The *position* of a stream
(:meth:`BatchStream.position`) is a small JSON dict saved in checkpoints and whole-model
files: the batches taken from the current pass, and a Grain iterator's own state. A stream
started at a saved position yields the batches an uninterrupted run would have seen next.

On several processes each reads its own share of a Grain dataset, step for step
(:mod:`jaxnn.train.grain_input`), and each step's batches of all processes form one global
batch.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxnn.train import data as data_lib
from jaxnn.train.grain_input import (
    GRAIN_EXTRA,
    PADDING,
    MapReader,
    check_share,
    grain_module,
    grain_state,
    is_grain,
    iterate,
    set_grain_state,
)

__all__ = ["GRAIN_EXTRA", "BatchStream", "grain_module", "is_grain", "is_stream", "prefetched"]


def is_stream(data: Any) -> bool:
    """Whether ``data`` is a stream of batches rather than arrays.

    Tuples and lists are ``(x, y[, sample_weight])`` of arrays; anything else that can be
    iterated (a generator, an iterator, a Grain dataset) is a stream.

    Example:
        >>> is_stream((np.zeros((2, 1)), np.zeros(2))), is_stream(iter([]))
        (False, True)
    """
    if isinstance(data, (tuple, list, dict, str, bytes, np.ndarray, jax.Array)):
        return False
    return is_grain(data) or isinstance(data, (Iterable, Iterator))


class Spec(NamedTuple):
    """What the first batch fixed: rows ``batch`` and per-array ``(sample shape, dtype)``."""

    batch: int
    x: tuple[tuple[int, ...], np.dtype]
    y: tuple[tuple[int, ...], np.dtype] | None
    weighted: bool


class BatchStream:
    """Checked, padded batches of an iterable, a generator or a Grain dataset.

    Args:
        source: The iterable or iterator of batches.
        where: The calling function, for messages.
        need_y: Whether batches must hold targets (``False`` for predict).
        steps_per_epoch: Batches per epoch, or ``None`` for one pass (until a one-shot
            iterator ends).
        position: A :meth:`position` to start from, or ``None`` for the start.
        share: ``(process index, number of processes)`` when a mesh spans several processes:
            a Grain ``MapDataset`` is then read in shares, the same number of steps in each
            process (:mod:`jaxnn.train.grain_input`); ``None`` reads everything.

    Raises:
        ValueError: For an empty source (no first batch), a first batch that is not
            ``(x, y[, sample_weight])``, ``steps_per_epoch`` below 1, or a Grain dataset that
            the processes cannot share (:func:`~jaxnn.train.grain_input.check_share`).
        TypeError: For a first batch of strings, objects or complex numbers.
        ImportError: For a Grain dataset when Grain is not installed (the extra named).
    """

    def __init__(
        self,
        source: Any,
        *,
        where: str,
        need_y: bool = True,
        steps_per_epoch: int | None = None,
        position: dict[str, Any] | None = None,
        share: tuple[int, int] | None = None,
    ) -> None:
        """Opens the first iterator, moves it to ``position`` and reads the first batch."""
        if is_grain(source):
            grain_module(where)
            if share is not None:
                check_share(source, share, where=where)
        _check_steps(steps_per_epoch, where)
        self.where, self.need_y, self.steps_per_epoch = where, need_y, steps_per_epoch
        self.source, self.share = source, share
        self._it = iterate(source, share)
        self.one_shot = self._it is source
        sized = self._it if isinstance(self._it, MapReader) else source  # a share's length
        self.length = None if self.one_shot or not hasattr(sized, "__len__") else len(sized)
        self.taken = 0  # batches taken from the current pass (all of them, for a one-shot one)
        self._ahead: list[Any] = []
        if position is not None and (self.one_shot or steps_per_epoch is not None):
            self._seek(position)
        x, y, w = self._first(position)
        y_spec = None if y is None else (tuple(y.shape[1:]), y.dtype)
        # A resumed stream may start at a smaller, last batch of a pass: the size comes along.
        rows = max(int(x.shape[0]), int((position or {}).get("batch", 0)))
        self.spec = Spec(rows, (tuple(x.shape[1:]), x.dtype), y_spec, w is not None)
        self.first = data_lib.Arrays(x, y, np.ones(len(x), np.float32) if w is None else w)

    def _first(self, position: dict[str, Any] | None) -> tuple[Any, Any, Any]:
        """Reads the first batch (kept to be read again) and checks its arrays."""
        where, first = self.where, self._raw()
        if first is None:
            raise ValueError(
                f"{where}: the data iterator is empty: it yielded no batch"
                f"{' from the saved position' if position else ''}; give at least one batch "
                f"of (x, y)."
            )
        if first is PADDING:
            raise ValueError(
                f"{where}: the first element of process {self.share[0] if self.share else 0}'s "
                f"share of the Grain MapDataset was dropped by a filter; each process's first "
                f"batch fixes the batch shapes, so it must hold rows."
            )
        self._ahead.append(first)
        self.taken -= 1
        x, y, w = self._parts(first, 1, None)
        for name, a in (("x", x), ("y", y), ("sample_weight", w)):
            if a is not None:
                data_lib._check_numeric(a, f"{name} of batch 1", where)
        return x, y, w

    def shapes(self) -> tuple[Any, ...]:
        """``ShapeDtypeStruct`` of one padded batch of x, y and w (``y`` may be ``None``)."""
        spec = self.spec
        y = None if spec.y is None else jax.ShapeDtypeStruct((spec.batch, *spec.y[0]), spec.y[1])
        w = jax.ShapeDtypeStruct((spec.batch,), np.float32)
        return (jax.ShapeDtypeStruct((spec.batch, *spec.x[0]), spec.x[1]), y, w)

    @property
    def steps(self) -> int | None:
        """Batches per epoch when known (``steps_per_epoch``, else the source's ``len``)."""
        return self.steps_per_epoch if self.steps_per_epoch is not None else self.length

    def _seek(self, position: dict[str, Any]) -> None:
        state = position.get("state")
        if state is not None and hasattr(self._it, "set_state"):
            set_grain_state(self._it, state)
            self.taken = int(position.get("taken", 0))
            return
        for _ in range(int(position.get("taken", 0))):  # plain Python: read up to the position
            if self._raw() is None:
                break

    def _raw(self) -> Any:
        """The next raw batch of the current pass, or ``None`` at its end."""
        if self._ahead:
            self.taken += 1
            return self._ahead.pop()
        try:
            batch = next(self._it)
        except StopIteration:
            return None
        self.taken += 1
        return batch

    def _next_pass(self) -> None:
        self._it, self.taken = iterate(self.source, self.share), 0

    def position(self) -> dict[str, Any]:
        """Where the stream is (JSON): batches taken from this pass, Grain state, batch size."""
        state = None if self._ahead else grain_state(self._it)
        return {"taken": self.taken, "state": state, "batch": self.spec.batch}

    def epoch(self, epoch: int) -> Iterator[tuple[Any, Any, Any, np.ndarray]]:
        """The checked, padded ``(x, y, w, mask)`` host batches of ``epoch``."""
        if self.steps_per_epoch is None and not self.one_shot and self.taken > 0:
            self._next_pass()  # one whole pass per epoch
        count = 0
        while self.steps_per_epoch is None or count < self.steps_per_epoch:
            raw = self._raw()
            if raw is None and self.steps_per_epoch is not None and not self.one_shot:
                if self.taken == 0:
                    return  # a new pass that is empty
                self._next_pass()
                raw = self._raw()
            if raw is None:
                return
            count += 1
            yield self._padded(raw, count, epoch)

    def _parts(self, raw: Any, number: int, epoch: int | None) -> tuple[Any, Any, Any]:
        if isinstance(raw, dict) and "x" in raw:
            parts = (raw["x"], raw.get("y"), raw.get("sample_weight"))
        elif isinstance(raw, (tuple, list)) and len(raw) in (2, 3):
            parts = (raw[0], raw[1], raw[2] if len(raw) == 3 else None)
        elif not self.need_y and not isinstance(raw, (tuple, list, dict)):
            parts = (raw, None, None)
        else:
            got = f"a {type(raw).__name__}" + (
                f" of {len(raw)}" if isinstance(raw, (tuple, list)) else ""
            )
            raise ValueError(
                f"{self.where}: batch {number}{_in(epoch)} is {got}; expected (x, y), (x, y, "
                f"sample_weight) or a dict with keys 'x' and 'y'."
            )
        x = np.asarray(parts[0])
        y, w = (None if a is None else np.asarray(a) for a in parts[1:])
        if self.need_y and y is None:
            raise ValueError(f"{self.where}: batch {number}{_in(epoch)} has no targets y.")
        if not self.need_y:
            y, w = None, None
        if x.ndim < 1 or x.shape[0] < 1:
            raise ValueError(
                f"{self.where}: batch {number}{_in(epoch)} has x of shape {x.shape}; a batch "
                f"needs a batch axis and at least one row."
            )
        return x, y, w

    def _padded(self, raw: Any, number: int, epoch: int | None) -> tuple[Any, Any, Any, Any]:
        """Checks batch ``number`` against the spec and pads it to ``spec.batch`` rows."""
        if raw is PADDING:  # this process's share has no element at this step: all masked
            return self._masked()
        x, y, w = self._parts(raw, number, epoch)
        spec, rows = self.spec, x.shape[0]
        expected = [("x", x, spec.x)] + ([] if spec.y is None else [("y", y, spec.y)])
        for name, a, (shape, dtype) in expected:
            if tuple(a.shape[1:]) != shape or a.dtype != dtype or a.shape[0] != rows:
                raise ValueError(
                    f"{self.where}: batch {number}{_in(epoch)} has {name} of shape "
                    f"{tuple(a.shape)} and dtype {a.dtype}; expected shape ({rows} rows, at most "
                    f"{spec.batch}, *{shape}) and dtype {dtype}, as batch 1 has."
                )
        if rows > spec.batch:
            raise ValueError(
                f"{self.where}: batch {number}{_in(epoch)} has {rows} rows; expected at most "
                f"{spec.batch}, the size of batch 1 (later batches may be smaller, not larger)."
            )
        if (w is not None) != spec.weighted or (w is not None and w.shape != (rows,)):
            raise ValueError(
                f"{self.where}: batch {number}{_in(epoch)} has sample_weight "
                f"{None if w is None else w.shape}; expected "
                f"{'shape (' + str(rows) + ',)' if spec.weighted else 'none'}, as batch 1 has."
            )
        w = np.ones(rows, np.float32) if w is None else w.astype(np.float32)
        for name, a in (("x", x), ("y", y), ("sample_weight", w)):
            bad = None if a is None else data_lib._first_bad_row(a)
            if bad:
                raise ValueError(
                    f"{self.where}: batch {number}{_in(epoch)}: {name} has NaN or Inf in "
                    f"{bad[0]} of {rows} rows; the first is row {bad[1]}."
                )
        if np.any(w < 0):
            raise ValueError(f"{self.where}: batch {number}{_in(epoch)}: sample_weight < 0.")
        pad = spec.batch - rows
        mask = np.concatenate([np.ones(rows, np.float32), np.zeros(pad, np.float32)])
        if pad:
            fill = lambda a: np.concatenate([a, np.repeat(a[:1], pad, axis=0)])  # noqa: E731
            x, y, w = fill(x), None if y is None else fill(y), np.concatenate([w, np.zeros(pad)])
        return x, y, w.astype(np.float32), mask

    def _masked(self) -> tuple[Any, Any, Any, Any]:
        """A batch of ``spec.batch`` zero rows, every one masked."""
        x, y, w = (None if s is None else np.zeros(s.shape, s.dtype) for s in self.shapes())
        return x, y, w, np.zeros(self.spec.batch, np.float32)

    def chunks(self, epoch: int, size: int, *, hold_out: int = 0, placement: Any = None) -> Any:
        """``(kind, batches, rows, position)`` items of ``epoch`` for :func:`prefetched`.

        ``kind`` is ``"train"`` for up to ``size`` stacked batches on the device
        (``((x, y, w), mask)``, each ``(steps, B, ...)``), and ``"val"`` for the last
        ``hold_out`` batches of the epoch (``validation_split``), stacked the same way.
        """
        steps = self.steps
        train_steps = None if steps is None else steps - hold_out
        pending: list[Any] = []
        held: list[Any] = []
        count = 0
        for batch in self.epoch(epoch):
            count += 1
            if train_steps is not None and count > train_steps:
                held.append(batch)
                continue
            pending.append(batch)
            if len(pending) == size:
                yield ("train", *_stacked(pending, placement), self.position())
                pending = []
        if pending:
            yield ("train", *_stacked(pending, placement), self.position())
        if held:
            yield ("val", *_stacked(held, placement), self.position())


def _check_steps(steps_per_epoch: Any, where: str) -> None:
    if steps_per_epoch is not None and (
        isinstance(steps_per_epoch, bool)
        or not isinstance(steps_per_epoch, (int, np.integer))
        or steps_per_epoch < 1
    ):
        raise ValueError(
            f"{where}: steps_per_epoch must be an int >= 1 or None; got {steps_per_epoch!r}."
        )


def _in(epoch: int | None) -> str:
    return "" if epoch is None else f" of epoch {epoch + 1}"


def _stacked(batches: list[Any], placement: Any) -> tuple[Any, int]:
    """``(((x, y, w), mask) on the device, real rows)`` of host batches ``(x, y, w, mask)``."""
    x, y, w, mask = (None if b[0] is None else np.stack(b) for b in zip(*batches, strict=True))
    rows = int(sum(float(b[3].sum()) for b in batches))
    tree = ((x, y, w), mask)
    if placement is not None and jax.process_count() > 1:  # each process: its part of the batch
        from jax.sharding import NamedSharding, PartitionSpec

        split = NamedSharding(placement, PartitionSpec(None, "data"))
        put = lambda a: jax.make_array_from_process_local_data(split, a)  # noqa: E731
        return jax.tree.map(put, tree), rows
    return jax.device_put(tree), rows


# How many chunks the reading thread may have ready ahead of training.
_DEPTH = 2


def prefetched(items: Iterator[Any], depth: int = _DEPTH) -> Iterator[Any]:
    """``items``, produced by a background thread up to ``depth`` ahead of the consumer.

    The thread reads the source, checks and stacks batches and copies them to the device
    while the caller's compiled steps run. An error in the thread is raised in the caller, at
    the item where it happened. Leaving the loop early stops the thread after its next item.
    """
    out: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                out.put((kind, value), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("end", None)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            put("error", error)

    thread = threading.Thread(target=work, name="jaxnn-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = out.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join(timeout=5.0)
