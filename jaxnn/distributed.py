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
from jax.sharding import Mesh, NamedSharding, PartitionSpec

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

DATA_AXIS = "data"


def data_mesh(devices: Sequence[Any] | None = None) -> Mesh:
    """A one-axis :class:`~jax.sharding.Mesh` named ``data`` over ``devices`` (default: all).

    Args:
        devices: The devices, e.g. ``jax.devices()`` (the default) or ``jax.devices()[:2]``.

    Returns:
        The mesh.

    Raises:
        ValueError: For no devices, or devices of more than one platform (e.g. CPU and GPU).

    Example:
        >>> mesh = data_mesh(jax.devices()[:1])
        >>> mesh.axis_names, mesh.size
        (('data',), 1)
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("data_mesh: devices is empty; give at least one device.")
    for d in devices:
        if not isinstance(getattr(d, "platform", None), str):
            raise TypeError(f"data_mesh: devices must be jax.Device objects; got {d!r}.")
    platforms = sorted({d.platform for d in devices})
    if len(platforms) > 1:
        raise ValueError(
            f"data_mesh: devices must all be of one platform; got {', '.join(platforms)}. "
            f"Pick one, e.g. jax.devices('gpu')."
        )
    return Mesh(np.array(devices), (DATA_AXIS,))


def resolve_mesh(devices: Any = None, mesh: Mesh | None = None, *, where: str) -> Mesh | None:
    """The mesh that ``devices=`` or ``mesh=`` asks for, or ``None`` for the one-device path.

    Args:
        devices: A sequence of devices, or ``None``.
        mesh: A mesh with a ``data`` axis, or ``None``.
        where: The calling function, for errors.

    Returns:
        ``None`` when neither is given or they name a single device; else the mesh.

    Raises:
        ValueError: For both given, a mesh without a ``data`` axis or with other axes of size
            above 1, or devices of mixed platforms.

    Example:
        >>> resolve_mesh(jax.devices()[:1], where="fit") is None
        True
    """
    if devices is not None and mesh is not None:
        raise ValueError(f"{where}: give devices= or mesh=, not both.")
    if mesh is not None:
        if not isinstance(mesh, Mesh):
            raise TypeError(f"{where}: mesh must be a jax.sharding.Mesh; got {mesh!r}.")
        if DATA_AXIS not in mesh.axis_names:
            raise ValueError(
                f"{where}: mesh must have a {DATA_AXIS!r} axis to split the batch over; got axes "
                f"{tuple(mesh.axis_names)}. Build one with jaxnn.distributed.data_mesh(devices)."
            )
        others = {a: s for a, s in mesh.shape.items() if a != DATA_AXIS and s != 1}
        if others:
            raise ValueError(
                f"{where}: only the {DATA_AXIS!r} axis may have more than one device; got "
                f"{dict(mesh.shape)}."
            )
        data_mesh(list(mesh.devices.flat))  # the platform check
        found = mesh
    elif devices is not None:
        found = data_mesh(devices)
    else:
        return None
    return None if found.size == 1 and found.devices.flat[0] == jax.devices()[0] else found


def check_batch_size(batch_size: int, mesh: Mesh | None, *, where: str) -> None:
    """The global batch must be at least, and a multiple of, the number of devices.

    Raises:
        ValueError: Naming the batch size, the device count and the nearest good choices.
    """
    if mesh is None:
        return
    n = mesh.shape[DATA_AXIS]
    if batch_size < n:
        raise ValueError(
            f"{where}: the global batch_size ({batch_size}) is smaller than the {n} devices of "
            f"the mesh; each device needs at least one row: choose batch_size >= {n}."
        )
    if batch_size % n:
        low, high = batch_size - batch_size % n, batch_size - batch_size % n + n
        raise ValueError(
            f"{where}: batch_size ({batch_size}) must be a multiple of the {n} devices so every "
            f"device gets the same rows; choose {low} or {high}."
        )


def padded_batch_size(batch_size: int, mesh: Mesh | None) -> int:
    """``batch_size`` rounded up to a multiple of the mesh's devices (evaluation passes).

    The extra rows are padding with weight 0, like a partial last batch, so sums are unchanged.

    Example:
        >>> padded_batch_size(10, None)
        10
    """
    if mesh is None:
        return batch_size
    n = mesh.shape[DATA_AXIS]
    return -(-batch_size // n) * n


def _put(a: Any, sharding: NamedSharding) -> jax.Array:
    """``a`` (the same value in every process) placed with ``sharding``, also across processes."""
    if sharding.is_fully_addressable:
        return jax.device_put(a, sharding)
    if isinstance(a, jax.Array) and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(
            _put(jax.random.key_data(a), sharding), impl=jax.random.key_impl(a)
        )
    host = np.asarray(a)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def replicated(tree: Any, mesh: Mesh) -> Any:
    """``tree`` placed whole on every device of ``mesh`` (in every process, when multi-host)."""
    sharding = NamedSharding(mesh, PartitionSpec())
    return jax.tree.map(lambda a: _put(a, sharding), tree)


def batch_sharding(mesh: Mesh | None) -> NamedSharding | None:
    """Rows split over the ``data`` axis (``None`` for the one-device path)."""
    return None if mesh is None else NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def _leaf_sharding(leaf: Any, mesh: Mesh, shard: bool) -> NamedSharding:
    n = mesh.shape[DATA_AXIS]
    shape = np.shape(leaf)
    if shard and len(shape) >= 1 and shape[0] >= n and shape[0] % n == 0:
        return NamedSharding(mesh, PartitionSpec(DATA_AXIS))
    return NamedSharding(mesh, PartitionSpec())


def shard_state(ts: Any, mesh: Mesh, shard_params: bool = False) -> Any:
    """A TrainState placed on ``mesh``: replicated, or FSDP-style with ``shard_params``.

    With ``shard_params``, every parameter and optimizer-state array whose first axis divides by
    the number of devices is split along it over ``data`` (the others, such as scalars and small
    biases, stay replicated); XLA gathers them where a layer needs them whole.

    Args:
        ts: The :class:`~jaxnn.train.TrainState`.
        mesh: The mesh.
        shard_params: Split parameters and optimizer state (default: replicate everything).

    Returns:
        The TrainState on the mesh.

    Example:
        >>> import optax
        >>> from jaxnn.layers import Dense
        >>> from jaxnn.train import TrainState
        >>> ts = TrainState.create(Dense(2), jax.random.key(0), (-1, 4), optax.sgd(0.1))
        >>> placed = shard_state(ts, data_mesh(jax.devices()[:1]), shard_params=True)
        >>> placed.params["w"].sharding.spec == jax.sharding.PartitionSpec("data")
        True
    """

    def place(tree: Any, shard: bool) -> Any:
        return jax.tree.map(lambda a: _put(a, _leaf_sharding(a, mesh, shard)), tree)

    return type(ts)(
        params=place(ts.params, shard_params),
        state=place(ts.state, False),
        opt_state=place(ts.opt_state, shard_params),
        step=place(ts.step, False),
        key=place(ts.key, False),
    )


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


def host_copy(tree: Any) -> Any:
    """Every array of ``tree`` whole, as NumPy, in every process (gathered if sharded)."""
    from jax.experimental import multihost_utils

    def whole(a: Any) -> Any:
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
                return jax.random.wrap_key_data(
                    multihost_utils.process_allgather(jax.random.key_data(a), tiled=True),
                    impl=jax.random.key_impl(a),
                )
            return multihost_utils.process_allgather(a, tiled=True)
        return jax.device_get(a)

    return jax.tree.map(whole, tree)


def save_checkpoint(path: Any, train_state: Any, **kwargs: Any) -> Any:
    """:func:`jaxnn.checkpoint.save` from process 0 only; every process must call it.

    The state is gathered whole first (a collective, so all processes take part), then process
    0 writes the file atomically. Any process, or a later single process, loads it with
    :func:`jaxnn.checkpoint.load`.

    Args:
        path: The file to write.
        train_state: The TrainState (replicated or sharded).
        **kwargs: ``history=`` and ``config=``, as for :func:`jaxnn.checkpoint.save`.

    Returns:
        The path written on process 0; ``None`` on the others.
    """
    from jaxnn import checkpoint

    whole = host_copy(train_state)
    if not is_main_process():
        return None
    return checkpoint.save(path, whole, **kwargs)


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
