"""Training data that stays split by rows over the devices, e.g. one part per host.

In a multi-host run each process can feed only its own rows: ``x = process_local_array(
x_mine, mesh)`` (:mod:`jaxnn.distributed`) makes one global array whose rows are split over the
mesh's ``data`` axis, each device holding a contiguous *block* of them. ``fit`` trains from such
arrays without ever moving rows between devices:

- each epoch shuffles every block on its own (:func:`block_indices`), and step ``s``'s global
  batch is the ``s``-th slice of every block's order, side by side: device ``d``'s share of
  each batch comes from device ``d``'s own rows;
- the rows are gathered inside :func:`jax.shard_map` (:func:`local_gather`), so the gather is
  local on every device by construction.

``evaluate`` and ``predict`` work the same way (:func:`local_predict` returns outputs split
like ``x``).

The batches hold the same number of rows from every block, so the data set is not shuffled
across blocks; with shards that are themselves random samples of the data (the usual case), it
trains as a global shuffle does. Checks on values (NaN, labels) run in each process on its own
rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.train import data as data_lib
from jaxnn.types import Array

__all__ = [
    "agreed",
    "block_indices",
    "is_split",
    "is_split_data",
    "local_gather",
    "local_predict",
    "local_rows",
    "refuse_streaming",
    "split_arrays",
    "split_inputs",
]

T = TypeVar("T")

_HOW = "build it with jaxnn.distributed.process_local_array(rows_of_this_process, mesh)"


def _is_split_by_rows(a: Any, mesh: Any) -> bool:
    from jax.sharding import NamedSharding, PartitionSpec

    rows = NamedSharding(mesh, PartitionSpec("data"))
    return isinstance(a, jax.Array) and a.ndim >= 1 and a.sharding.is_equivalent_to(rows, a.ndim)


def _placement(a: Any) -> str:
    if isinstance(a, jax.Array):
        return f"a jax.Array placed as {a.sharding}"
    return f"a whole {type(a).__name__} of shape {np.shape(a)}"


def is_split(x: Any, mesh: Any, *, where: str) -> bool:
    """Whether ``x`` is a global array split by rows over ``mesh``'s ``data`` axis.

    Raises:
        ValueError: For an array held in part by other processes that is not split so (or
            without a mesh): fit cannot read it whole, and cannot split it as it needs.

    Example:
        >>> is_split(np.zeros((4, 2)), None, where="fit")
        False
    """
    addressable = not isinstance(x, jax.Array) or x.is_fully_addressable
    if mesh is not None and _is_split_by_rows(x, mesh):
        return True
    if not addressable:
        raise ValueError(
            f"{where}: x is a global array held in part by other processes, split as "
            f"{x.sharding}; {where} needs it split by rows over the 'data' axis of its mesh: "
            f"pass the same mesh= (or devices=) and {_HOW}."
        )
    return False


def is_split_data(data: Any, mesh: Any, *, where: str) -> bool:
    """:func:`is_split` for ``x`` of ``data`` (``(x, y[, sample_weight])`` or ``x`` alone)."""
    first = data[0] if isinstance(data, (tuple, list)) and data else data
    return is_split(first, mesh, where=where)


def refuse_streaming(data_on_device: Any, *, where: str) -> None:
    """Split data is on its devices already: ``data_on_device=False`` is refused.

    Raises:
        ValueError: For ``data_on_device=False``, with the reason.
    """
    if data_on_device is False:
        raise ValueError(
            f"{where}: data_on_device=False streams from the host, and x is already split over "
            f"the devices; leave data_on_device at 'auto'."
        )


def local_rows(a: Any) -> np.ndarray:
    """This process's rows of a global array split by rows, in order, as NumPy."""
    shards = sorted(a.addressable_shards, key=lambda s: s.index[0].start or 0)
    seen, parts = set(), []
    for shard in shards:
        start = shard.index[0].start or 0
        if start not in seen:  # a block held by several devices (other mesh axes) once
            seen.add(start)
            parts.append(np.asarray(shard.data))
    return np.concatenate(parts)


def _check_rows(x: Any, mesh: Any, where: str) -> None:
    devices = mesh.shape["data"]
    if x.shape[0] % devices:
        raise ValueError(
            f"{where}: x has {x.shape[0]} rows split over {devices} devices; every device needs "
            f"the same number of rows: give each process a multiple of its devices' count."
        )


def split_inputs(x: Any, mesh: Any, *, where: str) -> None:
    """Checks split inputs ``x`` (no targets) as :func:`split_arrays` checks data, for predict."""
    _check_rows(x, mesh, where)
    agreed(
        lambda: data_lib.check_arrays(
            local_rows(x), None, where=f"{where} (process {jax.process_index()}'s rows)",
            need_y=False,
        ),
        where=where,
    )  # fmt: skip


def split_arrays(
    data: Any, sample_weight: Any, mesh: Any, *, where: str
) -> tuple[data_lib.Arrays, data_lib.Arrays]:
    """Checks split ``(x, y[, sample_weight])``; returns ``(global arrays, this process's rows)``.

    Every array must be split by rows over ``mesh`` like ``x``; each process checks its own
    rows as :func:`jaxnn.train.data.check_arrays` does (types, lengths, NaN, negative weights).
    A missing ``sample_weight`` becomes ones, split the same way.

    Raises:
        ValueError: For an array that is not split like ``x`` (named), rows that do not divide
            over the devices, or what :func:`~jaxnn.train.data.check_arrays` refuses.
    """
    x, y, sample_weight = data_lib.unpack(data, sample_weight, where=where)
    _check_rows(x, mesh, where)
    if sample_weight is None:
        sample_weight = jax.jit(
            lambda: jnp.ones(x.shape[0], jnp.float32), out_shardings=x.sharding
        )()
    for name, a in (("y", y), ("sample_weight", sample_weight)):
        if not _is_split_by_rows(a, mesh):
            raise ValueError(
                f"{where}: x is split by rows over the devices, so {name} must be too; got "
                f"{_placement(a)}. For each array, {_HOW}."
            )
    local = agreed(
        lambda: data_lib.check_arrays(
            tuple(local_rows(a) for a in (x, y, sample_weight)),
            None,
            where=f"{where} (process {jax.process_index()}'s rows)",
        ),
        where=where,
    )
    return data_lib.Arrays(x, y, sample_weight.astype(jnp.float32)), local


def agreed(check: Callable[[], T], *, where: str) -> T:
    """``check()``, run in every process, raising in all of them if it raised in any.

    A check of one process's own rows may fail there only; were that process alone to stop,
    the others would wait for it in the first collective of training for ever.

    Raises:
        ValueError: The check's own error where it failed, and one naming those processes in
            the others.
    """
    from jax.experimental import multihost_utils

    try:
        result, error = check(), None
    except (ValueError, TypeError) as caught:
        result, error = None, caught
    failed = np.asarray(multihost_utils.process_allgather(np.array([error is not None])))
    if error is not None:
        raise error
    if failed.any():
        bad = np.flatnonzero(failed.reshape(-1)).tolist()
        raise ValueError(f"{where}: the rows of process {bad} failed the data checks; its error "
                         f"says why.")  # fmt: skip
    return result  # type: ignore[return-value]


def block_indices(
    n: int, batch_size: int, blocks: int, key: jax.Array | None
) -> tuple[Array, Array]:
    """:func:`~jaxnn.train.data.epoch_indices` for ``n`` rows split into ``blocks`` blocks.

    Each block of ``n // blocks`` rows is permuted on its own (by its own key); step ``s``'s
    batch holds ``batch_size // blocks`` rows of each block, block by block, so the part of
    the batch that device ``d`` gets holds only rows of block ``d``. A partial last slice is
    padded with the block's first row and masked.

    Example:
        >>> idx, mask = block_indices(6, 4, 2, None)
        >>> idx.tolist(), mask.tolist()
        ([[0, 1, 3, 4], [2, 0, 5, 3]], [[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 0.0]])
    """
    rows, per_batch = n // blocks, batch_size // blocks
    keys = None if key is None else jax.random.split(key, blocks)

    def one(d: Array, k: Any) -> tuple[Array, Array]:
        order = jnp.arange(rows) if k is None else jax.random.permutation(k, rows)
        idx, mask = data_lib.in_batches(order, per_batch, jnp)  # pads with local row 0
        return idx + d * rows, mask

    idx, mask = jax.vmap(one)(jnp.arange(blocks), keys)  # (blocks, steps, per_batch)
    steps = idx.shape[1]
    join = lambda a: jnp.swapaxes(a, 0, 1).reshape(steps, blocks * per_batch)  # noqa: E731
    return join(idx), join(mask)


def local_gather(data: Any, rows: Array, mesh: Any, n: int) -> Any:
    """The rows of every array in ``data``, gathered on each device from its own block.

    ``rows`` are global indices laid out by :func:`block_indices`: device ``d``'s slice of them
    lies in its block ``[d * n / D, (d + 1) * n / D)``.
    """
    from jax.sharding import PartitionSpec

    split = PartitionSpec("data")
    block = n // mesh.shape["data"]

    def gather(local: Any, r: Array) -> Any:
        offset = jax.lax.axis_index("data") * block
        return jax.tree.map(lambda a: jnp.take(a, r - offset, axis=0, mode="clip"), local)

    return jax.shard_map(gather, mesh=mesh, in_specs=(split, split), out_specs=split)(data, rows)


def local_predict(model: Any, ts: Any, x: Any, mesh: Any, batch_size: int) -> jax.Array:
    """The model's outputs for split ``x``, each device predicting its own rows.

    Returns:
        A global array of outputs split by rows like ``x`` and in its row order.
    """
    from jax.sharding import PartitionSpec

    rows = x.shape[0] // mesh.shape["data"]
    idx, _ = data_lib.in_batches(jnp.arange(rows), batch_size // mesh.shape["data"], jnp)

    def forward(params: Any, state: Any, block: Array) -> Array:
        def one(r: Array) -> Array:
            return model.apply(params, state, jnp.take(block, r, axis=0), train=False)[0]

        out = jax.lax.map(one, idx)
        return out.reshape((-1, *out.shape[2:]))[:rows]

    whole, split = PartitionSpec(), PartitionSpec("data")
    run = jax.shard_map(forward, mesh=mesh, in_specs=(whole, whole, split), out_specs=split)
    return jax.jit(run)(ts.params, ts.state, x)
