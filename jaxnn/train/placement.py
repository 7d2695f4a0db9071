"""Placement on a device mesh for ``fit``, ``evaluate`` and ``predict``.

The one-axis ``data`` mesh, the batch split over it, and the train state replicated or split.

This is the part of data parallelism that the training loop itself needs; it lives in
:mod:`jaxnn.train` so that the loop depends only on what is below it.
:mod:`jaxnn.distributed`, the user's module for meshes and multi-host set-up, re-exports
:func:`data_mesh`, :func:`resolve_mesh` and :func:`shard_state`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "DATA_AXIS",
    "batch_sharding",
    "check_batch_size",
    "data_mesh",
    "padded_batch_size",
    "replicated",
    "resolve_mesh",
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
