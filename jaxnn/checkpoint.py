"""Atomic checkpoints of a TrainState, its history and a config, in msgpack.

A checkpoint file holds the params, model state, optimizer state, step and training key of a
:class:`~jaxnn.train.TrainState`, plus an optional history (per-epoch logs) and a JSON config. It is
written with :mod:`flax.serialization` (msgpack, no pickle) to a temporary file in the same
folder, flushed to disk, then renamed over the old file, so a crash mid-save leaves the previous
checkpoint intact.

Loading needs a *target*, a TrainState of the same model and optimizer (e.g. from
``TrainState.create``); every leaf is checked against it and the first mismatch in structure,
shape or dtype is named. A truncated or corrupt file gives a clear error.
"""

from __future__ import annotations

import glob
import json
import os
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.paths import leaves_with_paths

if TYPE_CHECKING:  # jaxnn.train imports this module; TrainState is needed for hints only
    from jaxnn.train.state import TrainState


def _serialization() -> Any:
    # flax takes a tenth of a second to import; only saving and loading need it.
    from flax import serialization

    return serialization


__all__ = [
    "Checkpoint",
    "CheckpointManager",
    "finite_json",
    "host_copy",
    "json_text",
    "load",
    "remove_stale_temporaries",
    "save",
    "save_from_main",
    "write_atomic",
]

_FORMAT = "jaxnn-checkpoint"
_VERSION = 1


class Checkpoint(NamedTuple):
    """What :func:`load` returns.

    Attributes:
        train_state: The restored TrainState.
        history: The saved per-epoch logs (``{}`` if none were saved).
        config: The saved config (``None`` if none was saved).
        input_position: Where a stream of batches (a generator, a Grain dataset) was when the
            checkpoint was saved, for ``fit(..., input_position=...)`` to resume exactly;
            ``None`` for arrays or when none was saved.
    """

    train_state: TrainState
    history: dict[str, list[float]]
    config: Any
    input_position: dict[str, Any] | None = None


def _key_fields(key: jax.Array) -> dict[str, Any]:
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    data = jax.random.key_data(key) if typed else key
    impl = str(jax.random.key_impl(key)) if typed else ""
    return {"typed": typed, "impl": impl, "data": np.asarray(data)}


def _keyless(ts: TrainState) -> TrainState:
    # PRNG keys are not msgpack-serialisable; they are stored apart (_key_fields).
    return ts._replace(key=jnp.zeros((), jnp.uint32))


def _state_dict(ts: TrainState) -> dict[str, Any]:
    body = _serialization().to_state_dict(_keyless(ts))
    del body["key"]
    return body


def _to_bytes(ts: TrainState, history: dict | None, config: Any, position: Any = None) -> bytes:
    body = _state_dict(ts)
    payload = {
        "format": _FORMAT,
        "version": _VERSION,
        "train_state": jax.tree.map(np.asarray, body),
        "key": _key_fields(ts.key),
        "history": {k: [float(v) for v in vs] for k, vs in (history or {}).items()},
        "config": json_text(config, indent=None),
    }
    if position is not None:
        payload["input_position"] = json_text(position, indent=None)
    return _serialization().msgpack_serialize(payload)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def finite_json(value: Any) -> Any:
    """``value`` with every NaN and Inf float replaced by ``None``, so that it is valid JSON.

    JSON has no NaN: Python's ``json`` writes ``NaN``, which other readers refuse.

    Example:
        >>> finite_json({"loss": float("nan"), "acc": [0.5, float("inf")]})
        {'loss': None, 'acc': [0.5, None]}
    """
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, np.floating):
        return finite_json(float(value))
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def json_text(value: Any, *, indent: int | None = 2) -> str:
    """Valid JSON for ``value`` (NaN and Inf written as ``null``, see :func:`finite_json`).

    Example:
        >>> json_text({"loss": float("nan")}, indent=None)
        '{"loss": null}'
    """
    return json.dumps(finite_json(value), indent=indent, allow_nan=False)


# A temporary file of write_atomic that no live writer owns is removed after this many seconds.
STALE_SECONDS = 3600.0


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:63] or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or a number no process has: keep the file)
    return True


def remove_stale_temporaries(path: str | os.PathLike, *, now: float | None = None) -> list[Path]:
    """Removes the temporary files that killed writers of ``path`` left beside it.

    :func:`write_atomic` names its temporary file ``.NAME.HOST.PID.RANDOM.tmp``. One is stale
    when HOST is this machine and process PID is gone, or, for another machine's file or the
    older ``.NAME.RANDOM.tmp`` names, when it is older than :data:`STALE_SECONDS`. A file a live
    writer is still filling is never removed.

    Returns:
        The files removed.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> old = folder / ".model.jaxnn.abc123.tmp"
        >>> _ = old.write_bytes(b"half a model")
        >>> [p.name for p in remove_stale_temporaries(folder / "model.jaxnn", now=1e12)]
        ['.model.jaxnn.abc123.tmp']
    """
    path = Path(path)
    prefix = f".{path.name}."
    now = time.time() if now is None else now
    removed = []
    for tmp in path.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        middle = tmp.name[len(prefix) : -len(".tmp")].split(".")
        ours = len(middle) == 3 and middle[0] == _host() and middle[1].isdigit()
        try:
            stale = (
                not _alive(int(middle[1])) if ours else now - tmp.stat().st_mtime > STALE_SECONDS
            )
            if stale:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:  # another writer removed or renamed it meanwhile
            continue
    return removed


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically: temp file in the same folder, fsync, rename.

    A crash mid-write leaves the previous file intact; no partial file is ever visible. The
    temporary file's name holds this machine and process, so that the next write removes what a
    killed writer left (:func:`remove_stale_temporaries`).

    Raises:
        OSError: If the folder cannot be created or written to; the message names the path and
            the reason (e.g. "Permission denied", or a file standing where a folder should be).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
        >>> write_atomic(path, b"hello")
        >>> Path(path).read_text()
        'hello'
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        prefix = f".{path.name}.{_host()}.{os.getpid()}."
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise type(error)(
            error.errno,
            f"cannot write {str(path)!r}: the folder {str(path.parent)!r} cannot be created or "
            f"written to ({error.strerror or error})",
        ) from error
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a saved file is for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save(
    path: str | os.PathLike,
    train_state: TrainState,
    *,
    history: dict[str, list[float]] | None = None,
    config: Any = None,
    input_position: dict[str, Any] | None = None,
) -> Path:
    """Writes a checkpoint atomically (temp file, fsync, rename).

    Args:
        path: The file to write; parent folders are created.
        train_state: The TrainState to save.
        history: Optional per-epoch logs, e.g. ``History.history``.
        config: Optional JSON-serialisable description (e.g. a model's config).
        input_position: Optional position of the input stream (``FitRun.input_position``).

    Returns:
        The path written.

    Raises:
        TypeError: If ``config`` is not JSON-serialisable.

    Example:
        >>> import jax, optax, tempfile, os
        >>> from jaxnn.layers import Dense
        >>> from jaxnn.train import TrainState
        >>> ts = TrainState.create(Dense(2), jax.random.key(0), (-1, 3), optax.sgd(0.1))
        >>> path = save(os.path.join(tempfile.mkdtemp(), "model.msgpack"), ts)
        >>> restored = load(path, ts).train_state
        >>> bool((restored.params["w"] == ts.params["w"]).all())
        True
    """
    path = Path(path)
    try:
        data = _to_bytes(train_state, history, config, input_position)
    except TypeError as error:
        raise TypeError(f"save: config must be JSON-serialisable; {error}") from error
    write_atomic(path, data)
    return path


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"load: no checkpoint at {str(path)!r}.")
    try:
        payload = _serialization().msgpack_restore(path.read_bytes())
    except Exception as error:  # msgpack raises several types for damaged input
        raise ValueError(
            f"load: checkpoint {str(path)!r} is truncated or corrupt and cannot be read "
            f"({type(error).__name__}: {error})."
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"load: {str(path)!r} is not a jaxnn checkpoint.")
    if payload.get("version") != _VERSION:
        raise ValueError(
            f"load: {str(path)!r} has checkpoint version {payload.get('version')}; this jaxnn "
            f"reads version {_VERSION}."
        )
    return payload


def _check_against(target: Any, restored: Any, path: Path) -> None:
    want = dict(leaves_with_paths(target))
    got = dict(leaves_with_paths(restored))
    for name in sorted(set(want) | set(got)):
        if name not in got:
            raise ValueError(f"load: {str(path)!r} has no entry {name!r} that the target has.")
        if name not in want:
            raise ValueError(
                f"load: {str(path)!r} has an entry {name!r} that the target does not; is it a "
                f"checkpoint of another model or optimizer?"
            )
        w, g = np.asarray(want[name]), np.asarray(got[name])
        if w.shape != g.shape or w.dtype != g.dtype:
            raise ValueError(
                f"load: {name!r} in {str(path)!r} has shape {g.shape} and dtype {g.dtype}; the "
                f"target expects shape {w.shape} and dtype {w.dtype}."
            )


def _restore_key(fields: dict[str, Any]) -> jax.Array:
    data = jnp.asarray(fields["data"])
    return jax.random.wrap_key_data(data, impl=fields["impl"]) if fields["typed"] else data


def load(path: str | os.PathLike, target: TrainState) -> Checkpoint:
    """Reads a checkpoint into the structure of ``target``.

    Args:
        path: The checkpoint file.
        target: A TrainState of the same model and optimizer (its values are not used).

    Returns:
        A :class:`Checkpoint` with the restored TrainState, history and config.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is truncated, corrupt or not a jaxnn checkpoint, or if a leaf's
            path, shape or dtype differs from the target (the first mismatch is named).
    """
    path = Path(path)
    payload = _read(path)
    _check_against(_state_dict(target), payload["train_state"], path)
    body = dict(payload["train_state"], key=jnp.zeros((), jnp.uint32))
    restored = _serialization().from_state_dict(_keyless(target), body)
    restored = jax.tree.map(jnp.asarray, restored)._replace(key=_restore_key(payload["key"]))
    position = payload.get("input_position")
    position = None if position is None else json.loads(position)
    return Checkpoint(restored, dict(payload["history"]), json.loads(payload["config"]), position)


class CheckpointManager:
    """Saves numbered checkpoints in a folder and keeps the last ``keep`` of them.

    Files are named ``ckpt-{step:09d}.msgpack``; older ones beyond ``keep`` are deleted only after
    the new one is safely on disk.

    Args:
        directory: The folder (created if missing).
        keep: How many of the newest checkpoints to keep, >= 1 (default 3).

    Example:
        >>> import jax, optax, tempfile
        >>> from jaxnn.layers import Dense
        >>> from jaxnn.train import TrainState
        >>> ts = TrainState.create(Dense(2), jax.random.key(0), (-1, 3), optax.sgd(0.1))
        >>> manager = CheckpointManager(tempfile.mkdtemp(), keep=2)
        >>> for step in (1, 2, 3):
        ...     _ = manager.save(step, ts)
        >>> [p.name for p in manager.paths()]
        ['ckpt-000000002.msgpack', 'ckpt-000000003.msgpack']
    """

    _PATTERN = re.compile(r"^ckpt-(\d+)\.msgpack$")

    def __init__(self, directory: str | os.PathLike, *, keep: int = 3) -> None:
        """Records the folder and how many checkpoints to keep."""
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"CheckpointManager: keep must be an int >= 1; got {keep!r}.")
        self.directory = Path(directory)
        self.keep = keep

    def paths(self) -> list[Path]:
        """The checkpoint files present, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [
            (int(m.group(1)), p)
            for p in self.directory.iterdir()
            if (m := self._PATTERN.match(p.name))
        ]
        return [p for _, p in sorted(found)]

    def latest(self) -> Path | None:
        """The newest checkpoint file, or ``None``."""
        paths = self.paths()
        return paths[-1] if paths else None

    def save(
        self,
        step: int,
        train_state: TrainState,
        *,
        history: dict[str, list[float]] | None = None,
        config: Any = None,
    ) -> Path:
        """Saves checkpoint number ``step`` and deletes the oldest beyond ``keep``."""
        path = save(
            self.directory / f"ckpt-{step:09d}.msgpack", train_state, history=history, config=config
        )
        for old in self.paths()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def restore(self, target: TrainState) -> Checkpoint:
        """Loads the newest checkpoint into ``target``'s structure.

        Raises:
            FileNotFoundError: If the folder holds no checkpoint.
        """
        latest = self.latest()
        if latest is None:
            raise FileNotFoundError(f"CheckpointManager: no checkpoint in {str(self.directory)!r}.")
        return load(latest, target)


# ----------------------------------------------------------------------------------------------
# Several processes


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


def save_from_main(path: Any, train_state: Any, **kwargs: Any) -> Any:
    """:func:`save` from process 0 only; every process must call it.

    :func:`jaxnn.distributed.save_checkpoint` is this function.

    The state is gathered whole first (a collective, so all processes take part), then process
    0 writes the file atomically. Any process, or a later single process, loads it with
    :func:`load`.

    Args:
        path: The file to write.
        train_state: The TrainState (replicated or sharded).
        **kwargs: ``history=`` and ``config=``, as for :func:`jaxnn.checkpoint.save`.

    Returns:
        The path written on process 0; ``None`` on the others.
    """
    whole = host_copy(train_state)
    if jax.process_index() != 0:
        return None
    return save(path, whole, **kwargs)
