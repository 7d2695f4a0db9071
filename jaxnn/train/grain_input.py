"""Grain datasets as streams of batches: reading in order, and each process's share.

A Grain ``MapDataset`` of batches is read element by element (:class:`MapReader`). When a mesh
spans several processes (``jax.distributed``), each process reads its own share of the
elements: process ``p`` of ``n`` reads elements ``p, p + n, p + 2n, ...``, so that global step
``k`` trains on elements ``kn ... kn + n - 1`` side by side, the batches a single process would
see in batches ``n`` times as large. Every process takes the same number of steps,
``ceil(len / n)`` per pass: a process whose share is one element short (or whose element a
``filter`` dropped) feeds a batch of padding rows (:data:`PADDING`, all masked) at that step,
so no process waits for a collective that the others never start.

A ``DataLoader`` shards itself: on several processes its sampler must have
``shard_options=grain.sharding.ShardByJaxProcess(drop_remainder=True)``. An ``IterDataset``
cannot be split after it was built and is read as it is in every process: shard the
``MapDataset`` it came from (``ds[jax.process_index()::jax.process_count()]``, equal lengths)
before ``to_iter_dataset()``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "GRAIN_EXTRA",
    "PADDING",
    "MapReader",
    "check_share",
    "grain_module",
    "grain_state",
    "is_grain",
    "iterate",
    "process_share",
    "set_grain_state",
]

GRAIN_EXTRA = "pip install 'jaxnn[grain]'"


class _Padding:
    """The element a process feeds where its share has none: one batch of masked rows."""

    def __repr__(self) -> str:
        return "PADDING"


PADDING = _Padding()


def is_grain(obj: Any) -> bool:
    """Whether ``obj`` is a Grain object (a dataset, a DataLoader or one of their iterators)."""
    return type(obj).__module__.split(".")[0] == "grain"


def grain_module(where: str) -> Any:
    """The ``grain`` module.

    Raises:
        ImportError: When Grain is not installed, naming the extra that installs it.
    """
    try:
        import grain
    except ImportError as error:
        raise ImportError(
            f"{where}: Grain datasets need the grain package, which is not installed; "
            f"install it with {GRAIN_EXTRA}."
        ) from error
    return grain


def grain_state(it: Any) -> Any:
    """A Grain iterator's state as JSON (bytes as text), or ``None`` for other iterators."""
    state = it.get_state() if hasattr(it, "get_state") else None
    return {"bytes": state.decode()} if isinstance(state, bytes) else state


def set_grain_state(it: Any, state: Any) -> None:
    """Moves a Grain iterator to a state :func:`grain_state` gave."""
    it.set_state(state["bytes"].encode() if isinstance(state, dict) and "bytes" in state else state)


def process_share(placement: Any) -> tuple[int, int] | None:
    """``(this process's index, number of processes)`` of a mesh over several, else ``None``.

    Example:
        >>> import jax
        >>> from jaxnn.train.placement import data_mesh
        >>> process_share(None), process_share(data_mesh(jax.devices()[:1]))
        (None, None)
    """
    if placement is None:
        return None
    import jax

    processes = sorted({d.process_index for d in placement.devices.flat})
    if len(processes) < 2:
        return None
    return processes.index(jax.process_index()), len(processes)


class MapReader:
    """A Grain ``MapDataset`` read element by element in order, in the reading thread.

    Grain's own iterator over a ``MapDataset`` reads ahead with 16 threads, and ``fit`` already
    reads the next chunk in its background thread; this reader uses that one thread only.
    Measured on 2 cores (the MLP task of ``experiments/bench_input.py``), the throughput is the
    same either way (0.84x and 0.86x of the arrays', within run-to-run noise): what it buys is
    no idle threads and a position that is one index. Alone, elements a ``filter`` dropped
    (``None``) are skipped, as Grain's iterator does; with a ``share`` ``(p, n)`` it reads
    elements ``p, p + n, ...`` and gives :data:`PADDING` for a dropped or missing one, so
    every process gives ``ceil(len / n)`` elements. For Grain's threads (an expensive ``map``
    on many cores), pass ``ds.to_iter_dataset(grain.ReadOptions(...))`` instead.

    Args:
        dataset: The ``MapDataset``.
        share: ``(process index, number of processes)``, or ``None`` for every element.
    """

    def __init__(self, dataset: Any, share: tuple[int, int] | None = None) -> None:
        """Starts at the first element."""
        self.dataset, self.share, self.next_index = dataset, share, 0

    def __iter__(self) -> MapReader:
        """This reader."""
        return self

    def __len__(self) -> int:
        """Elements per pass: ``ceil(len / n)`` with a share, else the dataset's length."""
        if self.share is None:
            return len(self.dataset)
        return math.ceil(len(self.dataset) / self.share[1])

    def __next__(self) -> Any:
        """The next element: with a share, :data:`PADDING` where it has none."""
        if self.share is not None:
            if self.next_index >= len(self):
                raise StopIteration
            index = self.share[0] + self.next_index * self.share[1]
            self.next_index += 1
            item = self.dataset[index] if index < len(self.dataset) else None
            return PADDING if item is None else item
        while self.next_index < len(self.dataset):
            item = self.dataset[self.next_index]
            self.next_index += 1
            if item is not None:
                return item
        raise StopIteration

    def get_state(self) -> dict[str, int]:
        """The position (elements read of this process's share), as Grain's iterator states it."""
        return {"next_index": self.next_index}

    def set_state(self, state: Any) -> None:
        """Moves to a saved position.

        Raises:
            ValueError: For a state that is not ``{"next_index": int >= 0}``.
        """
        index = state.get("next_index") if isinstance(state, dict) else None
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(
                f"the saved input position of a Grain MapDataset must be "
                f"{{'next_index': int >= 0}}; got {state!r}."
            )
        self.next_index = index


def iterate(source: Any, share: tuple[int, int] | None = None) -> Any:
    """An iterator over ``source`` (a Grain ``MapDataset`` through :class:`MapReader`)."""
    if is_grain(source) and isinstance(source, grain_module("fit").MapDataset):
        return MapReader(source, share)
    return iter(source)


def check_share(source: Any, share: tuple[int, int], *, where: str) -> None:
    """Checks that every process can read its share of a Grain dataset, step for step.

    Raises:
        ValueError: For a ``MapDataset`` with fewer elements than processes, or a
            ``DataLoader`` that is not sharded over the processes with ``drop_remainder``.
    """
    grain = grain_module(where)
    index, count = share
    if isinstance(source, grain.MapDataset) and len(source) < count:
        raise ValueError(
            f"{where}: the Grain MapDataset has {len(source)} elements (batches) for "
            f"{count} processes; each process needs at least one: give smaller batches."
        )
    if isinstance(source, grain.DataLoader):
        options = _loader_shard_options(source)
        if options is not None and (options.shard_count != count or not options.drop_remainder):
            raise ValueError(
                f"{where}: on {count} processes a Grain DataLoader must read each process's "
                f"share with the same number of records; its shard options are {options} "
                f"(process {index} would read a different number of batches, or every record). "
                f"Give its IndexSampler shard_options=grain.sharding.ShardByJaxProcess("
                f"drop_remainder=True)."
            )


def _loader_shard_options(loader: Any) -> Any:
    """The shard options a DataLoader was built with, or ``None`` if it does not say.

    Grain has no public accessor: the loader's own ``shard_options`` (when given) wins over its
    sampler's, as in ``DataLoader.__init__``.
    """
    options = getattr(loader, "_shard_options", None)
    if options is None:
        options = getattr(getattr(loader, "_sampler", None), "_shard_options", None)
    has_fields = hasattr(options, "shard_count") and hasattr(options, "drop_remainder")
    return options if has_fields else None
