"""The data-source layer: what the user passes to fit, evaluate or predict, as training input.

One pass over ``data`` decides what it is and checks it once:

- **arrays** ``(x, y[, sample_weight])``: NumPy or JAX arrays, copied to the device whole when
  they fit (``data_on_device="auto"``) or streamed from the host chunk by chunk;
- **memory-mapped arrays** (``np.load(path, mmap_mode="r")``): always streamed from the file,
  rows read per batch and their pages released (:func:`~jaxnn.train.data.release_pages`), so
  a file larger than memory trains in a few chunks of memory;
- **arrays split over the devices** by rows, each process holding its own
  (:mod:`jaxnn.train.split`);
- **streams** of batches: Python iterables, generators, Grain datasets
  (:mod:`jaxnn.train.streams`).

:class:`FitData` is what ``fit`` trains and validates on; :func:`read` makes it,
:meth:`FitData.split` adds the validation part, :meth:`FitData.placed` copies resident data
to the device.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from jaxnn.train import data as data_lib
from jaxnn.train import split as split_lib
from jaxnn.train.grain_input import process_share
from jaxnn.train.streams import BatchStream, is_stream

__all__ = ["FitData", "read", "read_inputs"]


@dataclasses.dataclass(frozen=True)
class FitData:
    """Checked training (and validation) data for ``fit``.

    Attributes:
        train: :class:`~jaxnn.train.data.Arrays` or a :class:`~jaxnn.train.streams.BatchStream`.
        val: The validation data (arrays or a re-iterable stream), or ``None``.
        local: This process's training rows (a stream's first batch), for the target checks.
        local_val: This process's validation rows, or ``None``.
        on_devices: ``train`` is split by rows over the devices (one part per process).
        val_on_devices: ``val`` is split so.
        resident: The arrays live on the device (copied whole, or split there).
        hold_out: For a stream with ``validation_split``: its last batches of each epoch
            that are validated on instead of trained on.
    """

    train: Any
    val: Any = None
    local: Any = None
    local_val: Any = None
    on_devices: bool = False
    val_on_devices: bool = False
    resident: bool = False
    hold_out: int = 0

    @property
    def stream(self) -> bool:
        """Whether the training data is a stream of batches."""
        return isinstance(self.train, BatchStream)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of a batch of inputs, batch axis ``-1``."""
        if isinstance(self.train, BatchStream):
            return (-1, *self.train.spec.x[0])
        return (-1, *self.train.x.shape[1:])

    def rows_to_split(self, validation_split: float | None) -> int:
        """Rows that ``validation_split`` permutes (0 for none, and for streams)."""
        return 0 if validation_split is None or self.stream else len(self.train)

    def split(
        self, validation_split: float | None, validation_data: Any, order: Any, placement: Any
    ) -> FitData:
        """This data with its validation part: split off, or ``validation_data`` checked.

        Raises:
            ValueError: For both options, a split the data cannot give (see :func:`read`), a
                one-shot iterator as ``validation_data``, or validation data split over the
                devices when the training data is not.
        """
        where = "fit"
        if validation_split is not None and validation_data is not None:
            raise ValueError("fit: give validation_split or validation_data, not both.")
        if validation_split is not None and isinstance(self.train, BatchStream):
            return dataclasses.replace(self, hold_out=_held_out(self.train, validation_split))
        if validation_split is not None:
            train, val = data_lib.split_by_order(self.train, validation_split, order)
            local = self.local if self.on_devices else train
            return dataclasses.replace(self, train=train, val=val, local=local, local_val=val)
        if validation_data is None:
            return self
        if is_stream(validation_data):
            stream = BatchStream(validation_data, where=f"{where} validation_data")
            if stream.one_shot:
                raise ValueError(
                    "fit: validation_data is a one-shot iterator (a generator), which would be "
                    "empty after the first epoch; give arrays or an iterable that iter() starts "
                    "again (a Grain dataset, or an object whose __iter__ starts a new pass; a "
                    "list is read as (x, y) arrays, not as batches)."
                )
            return dataclasses.replace(self, val=stream, local_val=stream.first)
        val_where = f"{where} validation_data"
        if split_lib.is_split_data(validation_data, placement, where=val_where):
            if not self.on_devices:
                raise ValueError(
                    "fit: validation_data is split over the devices but the training data is "
                    "not; split both (jaxnn.distributed.process_local_array) or neither."
                )
            val, local = split_lib.split_arrays(validation_data, None, placement, where=val_where)
            return dataclasses.replace(self, val=val, local_val=local, val_on_devices=True)
        val = data_lib.check_arrays(validation_data, None, where=val_where)
        return dataclasses.replace(self, val=val, local_val=val)

    def batch_size(self, batch_size: Any) -> int:
        """The training batch size: checked against the rows, or a stream's first batch's."""
        if isinstance(self.train, BatchStream):
            return self.train.spec.batch
        return data_lib.check_batch_size(batch_size, len(self.train), where="fit")

    def check_targets(self, check: Callable[[data_lib.Arrays, bool], None]) -> None:
        """Runs ``check(arrays, is_training)`` on this process's rows, in every process."""

        def run() -> None:
            check(self.local, True)
            if self.local_val is not None:
                check(self.local_val, False)

        if self.on_devices:  # every process checks its own rows, and all stop if one fails
            split_lib.agreed(run, where="fit")
        else:
            run()

    def placed(self, placement: Any, data_on_device: Any) -> FitData:
        """This data with the arrays on the device when they fit (or split there already)."""
        if self.stream:
            val = self.val
            if isinstance(val, data_lib.Arrays):
                resident = data_lib.resident_on_device(val, data_on_device, where="fit")
                val = data_lib.to_device(val, placement) if resident else val
                return dataclasses.replace(self, val=val, resident=resident)
            return self
        sizes = [a for a in (self.train, self.val) if isinstance(a, data_lib.Arrays)]
        resident = self.on_devices or all(
            data_lib.resident_on_device(a, data_on_device, where="fit") for a in sizes
        )
        if not resident:
            return self
        train = self.train if self.on_devices else data_lib.to_device(self.train, placement)
        val = self.val
        if val is not None and not self.val_on_devices:  # whole in every process: copied
            val = data_lib.to_device(val, placement)
        return dataclasses.replace(self, train=train, val=val, resident=True)


def _held_out(stream: BatchStream, fraction: float) -> int:
    """How many of each epoch's batches ``validation_split`` holds out of a stream."""
    steps = stream.steps
    if steps is None:
        raise ValueError(
            f"fit: validation_split={fraction} needs to know how many batches an epoch has, "
            f"and the data is a {type(stream.source).__name__} without a length (no len()) "
            f"and without steps_per_epoch; give steps_per_epoch=, or validation_data= instead."
        )
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fit: validation_split must be in (0, 1); got {fraction}.")
    held = int(round(steps * fraction))
    if held < 1 or held >= steps:
        raise ValueError(
            f"fit: validation_split={fraction} of the {steps} batches of an epoch leaves "
            f"{steps - held} for training and {held} for validation; both need at least one."
        )
    return held


def read(
    data: Any,
    sample_weight: Any,
    *,
    placement: Any,
    validation_split: float | None,
    data_on_device: Any,
    steps_per_epoch: int | None = None,
    position: dict[str, Any] | None = None,
) -> FitData:
    """Checks ``fit``'s ``data`` once and says what it is (validation comes with :meth:`split`).

    Args:
        data: Arrays ``(x, y[, sample_weight])`` (NumPy, JAX, memory-mapped, or split over
            the devices), or a stream of such batches (an iterable, a generator, a Grain
            dataset; on a mesh over several processes each reads its share of a Grain
            ``MapDataset``, :mod:`jaxnn.train.grain_input`).
        sample_weight: ``(N,)`` weights for arrays (a stream carries its own).
        placement: The mesh of the devices, or ``None``.
        validation_split: ``fit``'s argument, refused here where the data cannot be split.
        data_on_device: ``fit``'s argument (``"auto"``, ``True`` or ``False``).
        steps_per_epoch: Batches per epoch of a stream (default: one pass).
        position: Where a resumed stream starts (:meth:`BatchStream.position`).

    Raises:
        ValueError: For bad arrays (:func:`~jaxnn.train.data.check_arrays`), an empty stream,
            ``steps_per_epoch`` or ``sample_weight=`` given with the wrong kind of data.
    """
    where = "fit"
    if is_stream(data):
        if sample_weight is not None:
            raise ValueError(
                "fit: sample_weight= goes with arrays; a stream carries its weights in its "
                "batches, (x, y, sample_weight)."
            )
        stream = BatchStream(
            data, where=where, steps_per_epoch=steps_per_epoch, position=_position(position),
            share=process_share(placement),
        )  # fmt: skip
        return FitData(stream, local=stream.first)
    if steps_per_epoch is not None:
        raise ValueError(
            "fit: steps_per_epoch is for streams of batches (generators, iterables, Grain "
            "datasets); arrays have ceil(N / batch_size) steps per epoch."
        )
    if split_lib.is_split_data(data, placement, where=where):  # each device: its own rows
        arrays, local = split_lib.split_arrays(data, sample_weight, placement, where=where)
        if validation_split is not None:
            raise ValueError(
                "fit: validation_split needs the whole data set in every process, and x is "
                "split over the devices; give validation_data (whole, or split the same way)."
            )
        split_lib.refuse_streaming(data_on_device, where=where)
        return FitData(arrays, local=local, on_devices=True)
    arrays = data_lib.check_arrays(data, sample_weight, where=where)
    return FitData(arrays, local=arrays)


def _position(position: Any) -> dict[str, Any] | None:
    if position is None:
        return None
    if not isinstance(position, dict) or not isinstance(position.get("taken", 0), int):
        raise ValueError(
            f"fit: input_position must be the dict a checkpoint or model file saved (with "
            f"'taken' and 'state'); got {position!r}."
        )
    return position


def read_inputs(data: Any, *, where: str, need_y: bool) -> BatchStream | None:
    """``data`` as a stream for evaluate (``need_y``) or predict, or ``None`` for arrays."""
    return BatchStream(data, where=where, need_y=need_y) if is_stream(data) else None
