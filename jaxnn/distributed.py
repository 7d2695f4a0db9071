"""Beyond one device: data parallelism over a device mesh, and multi-host set-up.

``fit``, ``evaluate`` and ``predict`` take ``devices=`` (a list of devices) or ``mesh=`` (a
:class:`jax.sharding.Mesh` with a ``data`` axis). The training state and the data set are
placed on the mesh with :class:`~jax.sharding.NamedSharding` (replicated, or with
``shard_params=True`` the parameters and optimizer state split over ``data``), and every batch
is constrained to be split over ``data`` inside the same compiled epoch as on one device. XLA
inserts the collectives: the gradient mean, BatchNorm's global batch statistics and the
optimizer update need no hand-written all-reduce. The program is the same one as on one device,
only partitioned, so losses and parameters equal the one-device ones to float reduction order,
and dropout draws the same per-example masks (each shard's rows get their own bits of the
step's key).

In a multi-host run each process can feed only its own rows: :func:`process_local_array`
makes them one global array split by rows over the mesh, and ``fit`` trains from it with each
device shuffling and gathering its own rows (:mod:`jaxnn.train.split`). :func:`all_rows`
instead gives every process the whole data set.

With one device (the default) none of this runs: the ordinary single-device path is used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from jaxnn.checkpoint import host_copy
from jaxnn.checkpoint import save_from_main as save_checkpoint
from jaxnn.train.placement import DATA_AXIS, batch_sharding, data_mesh, resolve_mesh, shard_state

__all__ = [
    "DATA_AXIS",
    "all_rows",
    "data_mesh",
    "host_copy",
    "initialize",
    "is_main_process",
    "local_rows",
    "orbax_checkpointer",
    "process_local_array",
    "resolve_mesh",
    "save_checkpoint",
    "shard_state",
]

_ENV = {
    "coordinator_address": "JAX_COORDINATOR_ADDRESS",
    "num_processes": "JAX_NUM_PROCESSES",
    "process_id": "JAX_PROCESS_ID",
}


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: Sequence[int] | None = None,
    timeout_s: int = 300,
) -> None:
    """Starts multi-host JAX: :func:`jax.distributed.initialize` with checked options.

    Each argument left ``None`` is read from the environment (``JAX_COORDINATOR_ADDRESS``,
    ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``); when all three are missing everywhere, JAX's own
    cluster detection (SLURM, Open MPI, TPU pods) is used. Call it first, before any JAX
    computation, once per process. Afterwards ``jax.devices()`` lists every process's devices,
    and ``fit(..., devices=jax.devices())`` trains on all of them.

    Args:
        coordinator_address: ``host:port`` of process 0, the same in every process.
        num_processes: The number of processes.
        process_id: This process's index, in ``[0, num_processes)``.
        local_device_ids: The local devices this process uses (default: all).
        timeout_s: Seconds to wait for the other processes (default 300).

    Raises:
        ValueError: For a coordinator address that is not ``host:port``, a process count below
            1, a process id out of range, or only some of the three options given.
    """
    given = {
        "coordinator_address": coordinator_address,
        "num_processes": num_processes,
        "process_id": process_id,
    }
    for name, value in given.items():
        if value is None and os.environ.get(_ENV[name]):
            given[name] = os.environ[_ENV[name]]
    missing = [k for k, v in given.items() if v is None]
    if len(missing) == 3:
        jax.distributed.initialize(local_device_ids=local_device_ids)
        return
    if missing:
        raise ValueError(
            f"initialize: give coordinator_address, num_processes and process_id together (as "
            f"arguments or {', '.join(_ENV.values())}); missing {', '.join(missing)}."
        )
    address = str(given["coordinator_address"])
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(
            f"initialize: coordinator_address must be 'host:port', e.g. '10.0.0.1:1234'; got "
            f"{address!r}."
        )
    count, pid = (
        _as_int(given["num_processes"], "num_processes"),
        _as_int(given["process_id"], "process_id"),
    )
    if count < 1:
        raise ValueError(f"initialize: num_processes must be >= 1; got {count}.")
    if not 0 <= pid < count:
        raise ValueError(
            f"initialize: process_id must be in [0, {count}) for num_processes={count}; got {pid}."
        )
    jax.distributed.initialize(
        coordinator_address=address,
        num_processes=count,
        process_id=pid,
        local_device_ids=local_device_ids,
        initialization_timeout=timeout_s,
    )


def _as_int(value: Any, name: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"initialize: {name} must be an int; got {value!r}.") from None


def _check_same_rows(rows: int, *, where: str) -> None:
    """Every process must hold ``rows`` rows (a collective: every process calls it).

    Raises:
        ValueError: In every process, naming each process's count, if they differ.
    """
    from jax.experimental import multihost_utils

    counts = np.asarray(multihost_utils.process_allgather(np.array([rows], np.int64))).reshape(-1)
    if len(set(counts.tolist())) > 1:
        raise ValueError(
            f"{where}: every process must feed the same number of rows; got {counts.tolist()} "
            f"(process {jax.process_index()} has {rows}). Drop or pad rows so the shards are "
            f"equal."
        )


def process_local_array(local: Any, mesh: Mesh) -> jax.Array:
    """One global array, split by rows over ``mesh``, from every process's own rows.

    Each process passes its shard of the data (the same number of rows in every process); the
    global array holds the processes' rows in process order
    (:func:`jax.make_array_from_process_local_data`).

    Args:
        local: This process's rows, ``(n_local, ...)``.
        mesh: The global mesh.

    Returns:
        The global ``(n_local * process_count, ...)`` array.

    Raises:
        ValueError: If the processes hold different numbers of rows (each count named), or a
            process's rows do not divide over its devices of the mesh.
    """
    local = np.asarray(local)
    rows = local.shape[0] if local.ndim else 0
    _check_same_rows(rows, where="process_local_array")
    mine = sum(d.process_index == jax.process_index() for d in mesh.devices.flat)
    if local.ndim == 0 or rows % mine:
        raise ValueError(
            f"process_local_array: process {jax.process_index()} has {rows or 'no'} rows for its "
            f"{mine} devices of the mesh; each device needs the same number: give a multiple of "
            f"{mine}."
        )
    return jax.make_array_from_process_local_data(batch_sharding(mesh), local)


def all_rows(*local: Any) -> Any:
    """Every process's rows of each array, joined in process order, in every process.

    The simple way for each process to feed its own shard to :func:`jaxnn.fit`: each process
    reads only its part of the data set, and ``x, y = all_rows(x_mine, y_mine)`` gives every
    process the same whole data set, as ``fit`` expects in a multi-host run. The whole set is
    then held by every host, so this suits data sets that fit in one host's memory.

    Args:
        *local: This process's rows of each array, all with the same number of rows.

    Returns:
        The joined array, or a tuple of them for several arrays.

    Raises:
        ValueError: If the arrays of this process differ in rows, or the processes hold
            different numbers of rows (each count named).

    Example:
        >>> x, y = all_rows(np.ones((3, 2)), np.zeros(3))  # one process: as given
        >>> x.shape, y.shape
        ((3, 2), (3,))
    """
    from jax.experimental import multihost_utils

    arrays = [np.asarray(a) for a in local]
    rows = sorted({a.shape[0] if a.ndim else 0 for a in arrays})
    if len(arrays) == 0 or len(rows) > 1 or rows[0] == 0:
        got = [a.shape for a in arrays]
        raise ValueError(
            f"all_rows: expected one or more arrays with the same number of rows (at least 1); "
            f"got shapes {got}."
        )
    _check_same_rows(rows[0], where="all_rows")
    joined = tuple(np.asarray(multihost_utils.process_allgather(a, tiled=True)) for a in arrays)
    return joined[0] if len(joined) == 1 else joined


def local_rows(array: Any) -> np.ndarray:
    """This process's rows of a global array split by rows (e.g. ``predict``'s outputs).

    Example:
        >>> local_rows(process_local_array(np.arange(4.0), data_mesh(jax.devices()[:1]))).tolist()
        [0.0, 1.0, 2.0, 3.0]
    """
    from jaxnn.train.split import local_rows as rows

    return rows(array)


def is_main_process() -> bool:
    """Whether this is process 0, the one that writes checkpoints, logs and plots.

    Example:
        >>> is_main_process()
        True
    """
    return jax.process_index() == 0


def orbax_checkpointer() -> Any:
    """An Orbax ``StandardCheckpointer`` for sharded checkpoints at scale (``distributed`` extra).

    Every process writes its own shards in parallel and restores straight into a sharding; see
    the docs page "Beyond one device".

    Raises:
        ImportError: If ``orbax-checkpoint`` is missing (the ``distributed`` extra is named).
    """
    try:
        import orbax.checkpoint as ocp
    except ImportError as error:
        raise ImportError(
            "orbax_checkpointer: sharded checkpoints need orbax-checkpoint; install it with "
            "pip install 'jaxnn[distributed]'."
        ) from error
    return ocp.StandardCheckpointer()
