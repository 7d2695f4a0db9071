"""Checking and arranging training data for fit, evaluate and predict.

Arrays stay as the user gave them (NumPy on the host, or JAX arrays). A pass over the data is a
list of *steps*; each step is a batch of ``batch_size`` row indices and a mask that is 0 for the
padding rows of the last, partial batch. Padding rows repeat row 0 and get weight 0, so they count
nowhere, and every batch has the same shape (one compilation).
"""

from __future__ import annotations

import math
import mmap
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.types import Array

__all__ = [
    "Arrays",
    "check_arrays",
    "check_batch_size",
    "chunk_bounds",
    "epoch_indices",
    "split_by_order",
    "validation_split",
]


class Arrays(NamedTuple):
    """Features, targets and per-sample weights of one data set (``y`` may be ``None``)."""

    x: Any
    y: Any
    w: Any

    def __len__(self) -> int:
        """The number of samples."""
        return int(self.x.shape[0])

    def take(self, rows: np.ndarray) -> Arrays:
        """The samples at ``rows`` (host indices); a memory-mapped ``x`` stays on disk (RowView)."""
        x = RowView(self.x, rows) if isinstance(self.x, np.memmap) else self.x[rows]
        return Arrays(x, *(None if a is None else a[rows] for a in self[1:]))


def _as_array(a: Any) -> Any:
    return a if isinstance(a, (jax.Array, np.ndarray)) else np.asarray(a)


# Rows checked at once for NaN and Inf, so the check never holds a second copy of large data.
_CHECK_ROWS = 8192


def release_pages(a: Any) -> None:
    """Drops the pages of a memory-mapped array from this process's memory (the file keeps them).

    Reading rows of an ``np.load(..., mmap_mode="r")`` array maps their pages into the process,
    where they count as resident memory until it exits; after a block of rows is read (checked
    or copied into a batch), this hands them back, so streaming a file larger than RAM keeps the
    process's memory at a few chunks. Arrays that are not memory-mapped are left alone.
    """
    if isinstance(a, RowView):
        a = a.base
    mapped = getattr(a, "_mmap", None)
    if isinstance(mapped, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)


def is_mapped(a: Any) -> bool:
    """Whether ``a`` is a memory-mapped array (``np.memmap``, or rows of one)."""
    return isinstance(a, (np.memmap, RowView))


class RowView:
    """Rows ``rows`` of a memory-mapped array, read only when a batch asks for them.

    ``validation_split`` of a memory-mapped ``x`` keeps the training rows as such a view
    instead of copying them into memory.
    """

    def __init__(self, base: np.ndarray, rows: np.ndarray) -> None:
        """Records the array and the rows (sorted host indices)."""
        self.base, self.rows = base, rows
        self.shape = (len(rows), *base.shape[1:])
        self.dtype = base.dtype
        self.ndim = base.ndim

    def __getitem__(self, idx: Any) -> np.ndarray:
        """The view's rows at ``idx`` (host indices), read from the file."""
        return np.asarray(self.base[self.rows[idx]])


def _block_finite(a: Any, start: int, xp: Any) -> np.ndarray:
    block = a[start : start + _CHECK_ROWS]
    finite = np.asarray(xp.isfinite(block).reshape(-1, int(np.prod(a.shape[1:]))).all(axis=1))
    release_pages(a)
    return finite


def _first_bad_row(a: Any) -> tuple[int, int] | None:
    """``(count, first_row)`` of rows with NaN or Inf, or ``None``.

    Host arrays are checked with NumPy and device arrays on their device, a block of rows at a
    time, so the check neither copies the data across nor allocates a mask of its full size
    (a memory-mapped file's pages are released after each block, :func:`release_pages`).
    """
    if not jnp.issubdtype(a.dtype, jnp.floating):
        return None
    xp = np if isinstance(a, np.ndarray) else jnp
    if xp is np and not is_mapped(a) and a.size <= 2**20 and np.isfinite(a).all():
        return None  # a small host array (a batch): one pass
    finite = (
        np.concatenate([_block_finite(a, i, xp) for i in range(0, a.shape[0], _CHECK_ROWS)])
        if a.shape[0]
        else np.ones(0, bool)
    )
    if finite.all():
        return None
    return int((~finite).sum()), int(np.argmin(finite))


_KINDS = {"U": " (strings)", "S": " (bytes)", "O": " (Python objects)", "c": " (complex)"}


def _check_numeric(a: Any, name: str, where: str) -> None:
    kind = np.dtype(a.dtype).kind if a is not None else "f"
    if kind not in "biuf" and not jnp.issubdtype(a.dtype, jnp.floating):  # bfloat16 is kind V
        raise TypeError(
            f"{where}: {name} must be an array of numbers (float, int or bool); got dtype "
            f"{np.dtype(a.dtype)!s}{_KINDS.get(kind, '')}. Encode text or categories as numbers "
            f"first, e.g. with jaxnn.data.load_csv (categorical columns one-hot) or "
            f"np.unique(..., return_inverse=True)."
        )


def unpack(data: Any, sample_weight: Any, *, where: str, need_y: bool = True) -> tuple:
    """``(x, y, sample_weight)`` from the ``data`` that fit, evaluate and predict take, unchecked.

    ``data`` is ``(x, y)``, ``(x, y, sample_weight)`` or (with ``need_y=False``) ``x`` alone;
    ``sample_weight`` may come in ``data`` or as the argument, not both.

    Example:
        >>> unpack(("x", "y", "w"), None, where="fit")
        ('x', 'y', 'w')
    """
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        x, y = data[0], data[1]
        if len(data) == 3:
            if sample_weight is not None:
                raise ValueError(f"{where}: sample_weight is given twice, in data and as argument.")
            sample_weight = data[2]
        return x, y, sample_weight
    if not need_y and not isinstance(data, (tuple, list)):
        return data, None, sample_weight
    expected = "(x, y) or (x, y, sample_weight)" if need_y else "x"
    raise ValueError(f"{where}: data must be {expected}; got {type(data).__name__}.")


def check_arrays(data: Any, sample_weight: Any, *, where: str, need_y: bool = True) -> Arrays:
    """Checks ``(x, y)`` or ``(x, y, sample_weight)`` and returns them as :class:`Arrays`.

    Raises:
        ValueError: For data that is not such a tuple, no rows, mismatched lengths (all named),
            NaN or Inf in ``x`` or ``y`` (with the first bad row), or a negative or non-finite
            weight.
        TypeError: For an array of strings, objects or complex numbers (the dtype is named).

    Example:
        >>> a = check_arrays((np.zeros((3, 2)), np.arange(3)), None, where="fit")
        >>> len(a), a.w.tolist()
        (3, [1.0, 1.0, 1.0])
    """
    x, y, sample_weight = unpack(data, sample_weight, where=where, need_y=need_y)
    x = _as_array(x)
    if x.ndim < 1:
        raise ValueError(f"{where}: x needs a batch axis; got a scalar.")
    n = x.shape[0]
    if n == 0:
        raise ValueError(
            f"{where}: the data is empty: x has 0 rows (shape {tuple(x.shape)}); give at least "
            f"one sample."
        )
    y = None if y is None else _as_array(y)
    w = np.ones(n, np.float32) if sample_weight is None else _as_array(sample_weight)
    for name, a in (("x", x), ("y", y), ("sample_weight", w)):
        _check_numeric(a, name, where)
    lengths = {"x": n, "y": None if y is None else y.shape[0], "sample_weight": w.shape[0]}
    if len({v for v in lengths.values() if v is not None}) > 1:
        shown = ", ".join(f"{k} has {v}" for k, v in lengths.items() if v is not None)
        raise ValueError(f"{where}: x, y and sample_weight must have one row per sample; {shown}.")
    if w.ndim != 1:
        raise ValueError(f"{where}: sample_weight must have shape (N,); got {w.shape}.")
    for name, a in (("x", x), ("y", y), ("sample_weight", w)):
        bad = None if a is None else _first_bad_row(a)
        if bad:
            raise ValueError(
                f"{where}: {name} has NaN or Inf in {bad[0]} of {n} rows; the first is row "
                f"{bad[1]}. Clean or drop those rows."
            )
    if bool(np.any(np.asarray(w) < 0)):
        raise ValueError(f"{where}: sample_weight must be >= 0.")
    return Arrays(x, y, w.astype(np.float32) if isinstance(w, np.ndarray) else w)


def check_batch_size(batch_size: Any, n: int, *, where: str, warn: bool = True) -> int:
    """Returns a batch size in ``[1, n]``; a larger one becomes ``n`` (with a warning if ``warn``).

    Raises:
        ValueError: For a batch size below 1; TypeError for a non-integer.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"{where}: batch_size must be an int >= 1; got {batch_size!r}.")
    if batch_size < 1:
        raise ValueError(f"{where}: batch_size must be >= 1; got {batch_size}.")
    if batch_size > n and not warn:
        return n
    if batch_size > n:
        warnings.warn(
            f"{where}: batch_size {batch_size} is larger than the {n} samples; using one batch "
            f"of {n}.",
            stacklevel=3,
        )
        return n
    return int(batch_size)


# Integer work only, run once: XLA's cheapest optimisation level compiles it 2-3x faster and gives
# the same permutation.
_permutation = jax.jit(
    jax.random.permutation,
    static_argnums=1,
    compiler_options={"xla_backend_optimization_level": 0},
)


def validation_split(arrays: Arrays, fraction: float, key: jax.Array) -> tuple[Arrays, Arrays]:
    """Splits off a random (seeded) ``fraction`` of the samples for validation.

    Unlike Keras, which takes the *last* rows, the validation rows are drawn at random, so sorted
    data does not give a validation set of one class. Both parts keep the original row order.

    Raises:
        ValueError: For a fraction outside (0, 1) or one that leaves either part empty.

    Example:
        >>> a = check_arrays((np.arange(10.0)[:, None], np.arange(10)), None, where="fit")
        >>> train, val = validation_split(a, 0.2, jax.random.key(0))
        >>> len(train), len(val)
        (8, 2)
    """
    return split_by_order(arrays, fraction, _permutation(key, len(arrays)))


def split_by_order(arrays: Arrays, fraction: float, order: Any) -> tuple[Arrays, Arrays]:
    """:func:`validation_split` with the permutation of the rows given.

    The first ``round(N * fraction)`` rows of ``order`` are held out. ``fit`` draws ``order``
    together with its keys, in one compiled call.

    Raises:
        ValueError: For a fraction outside (0, 1) or one that leaves either part empty.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fit: validation_split must be in (0, 1); got {fraction}.")
    n = len(arrays)
    n_val = int(round(n * fraction))
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"fit: validation_split={fraction} of {n} samples leaves {n - n_val} for training and "
            f"{n_val} for validation; both need at least one."
        )
    order = np.asarray(order)
    return arrays.take(np.sort(order[n_val:])), arrays.take(np.sort(order[:n_val]))


def chunk_bounds(steps: int, size: Any) -> list[tuple[int, int]]:
    """``[start, stop)`` step ranges of at most ``size`` steps covering ``steps`` steps.

    Raises:
        ValueError: If ``size`` is not an int >= 1.

    Example:
        >>> chunk_bounds(7, 3)
        [(0, 3), (3, 6), (6, 7)]
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"fit: steps_per_chunk must be an int >= 1 or None; got {size!r}.")
    return [(a, min(a + size, steps)) for a in range(0, steps, size)]


def num_steps(n: int, batch_size: int) -> int:
    """Steps in one pass: ``ceil(n / batch_size)``."""
    return math.ceil(n / batch_size)


def epoch_indices(n: int, batch_size: int, key: jax.Array | None) -> tuple[Array, Array]:
    """Row indices and row mask of one pass, shaped ``(steps, batch_size)``.

    With a key the rows are a random permutation (drawn on the device), else in order. The last
    batch is padded with row 0 and mask 0.

    Example:
        >>> idx, mask = epoch_indices(5, 2, None)
        >>> idx.tolist(), mask.tolist()
        ([[0, 1], [2, 3], [4, 0]], [[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    """
    order = jnp.arange(n) if key is None else jax.random.permutation(key, n)
    return in_batches(order, batch_size, jnp)


def host_indices(n: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`epoch_indices` without a shuffle, computed with NumPy on the host.

    Example:
        >>> idx, mask = host_indices(5, 2)
        >>> idx.tolist(), mask.tolist()
        ([[0, 1], [2, 3], [4, 0]], [[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    """
    return in_batches(np.arange(n, dtype=np.int32), batch_size, np)


def in_batches(order: Any, batch_size: int, xp: Any) -> tuple[Any, Any]:
    """``order`` as ``(steps, batch_size)`` row indices and mask, padded with row 0 and mask 0.

    ``xp`` is ``jnp`` inside compiled code, ``np`` on the host (no compilation).
    """
    n = order.shape[0]
    steps = num_steps(n, batch_size)
    pad = steps * batch_size - n
    idx = xp.concatenate([order, xp.zeros(pad, order.dtype)]).reshape(steps, batch_size)
    mask = xp.concatenate([xp.ones(n, xp.float32), xp.zeros(pad, xp.float32)])
    return idx, mask.reshape(steps, batch_size)


# Data above this size stays on the host and streams to the device chunk by chunk, unless the
# caller says otherwise. On accelerators the limit is a quarter of the device's memory.
_HOST_LIMIT_BYTES = 2 * 1024**3


# Host-streamed arrays (too large for the device, or memory-mapped) go to the device in chunks
# of at most this many bytes by default, so host memory holds a few chunks, not an epoch.
HOST_CHUNK_BYTES = 16 * 1024**2


def _nbytes(arrays: Arrays) -> int:
    return sum(int(np.prod(a.shape)) * a.dtype.itemsize for a in arrays if a is not None)


def row_nbytes(arrays: Arrays) -> int:
    """Bytes of one row of ``x``, ``y`` and ``sample_weight`` together.

    Example:
        >>> row_nbytes(Arrays(np.zeros((5, 3), np.float32), np.zeros(5, np.int32), None))
        16
    """
    return sum(int(np.prod(a.shape[1:])) * a.dtype.itemsize for a in arrays if a is not None)


def host_chunk_steps(arrays: Arrays, batch_size: int, most: int) -> int:
    """Steps per chunk of host-streamed ``arrays``: up to ``most``, within ``HOST_CHUNK_BYTES``.

    Example:
        >>> host_chunk_steps(Arrays(np.zeros((5, 1024), np.float32), None, None), 1024, 64)
        4
    """
    step_bytes = batch_size * row_nbytes(arrays)
    return max(1, min(most, HOST_CHUNK_BYTES // max(step_bytes, 1)))


def resident_on_device(arrays: Arrays, data_on_device: Any, *, where: str) -> bool:
    """Decides whether the data is copied to the device whole (``"auto"``: if it fits).

    Raises:
        ValueError: If ``data_on_device`` is not ``"auto"``, ``True`` or ``False``.
    """
    if data_on_device not in ("auto", True, False):
        raise ValueError(
            f"{where}: data_on_device must be 'auto', True or False; got {data_on_device!r}."
        )
    if data_on_device != "auto":
        return bool(data_on_device)
    if any(is_mapped(a) for a in arrays if a is not None):  # a file on disk streams from there
        return False
    limit = _HOST_LIMIT_BYTES
    stats = jax.local_devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        limit = stats["bytes_limit"] // 4
    return _nbytes(arrays) <= limit


def to_device(arrays: Arrays, mesh: Any = None) -> Arrays:
    """The arrays on the default device, or whole on each device of ``mesh`` (``y`` may be None)."""
    if mesh is not None:
        from jaxnn.train.placement import replicated

        return Arrays(*(None if a is None else replicated(a, mesh) for a in arrays))
    return Arrays(*(None if a is None else jax.device_put(_whole(a)) for a in arrays))


def _whole(a: Any) -> Any:
    return a[np.arange(a.shape[0])] if isinstance(a, RowView) else a


def host_batches(arrays: Arrays, idx: np.ndarray, mask: np.ndarray) -> tuple[Any, Any]:
    """Gathers ``(steps, batch_size, ...)`` batches on the host; ``((x, y, w), mask)`` on device."""
    rows = np.asarray(idx)
    x, y, w = (None if a is None else take_rows(a, rows) for a in arrays)
    return jax.device_put(((x, y, w), np.asarray(mask)))


# Rows of a memory-mapped array are gathered this many at a time, its pages released after
# each block: a row read maps the file's pages around it too (the kernel's fault-around and
# large folios: on Linux 6.18 about 1 MiB a row, measured), so a shuffled chunk read at once
# maps most of the file. 64 rows keep that near 60 MiB at the speed of larger blocks
# (experiments/bench_input.py).
_GATHER_ROWS = 64


def take_rows(a: Any, rows: np.ndarray) -> np.ndarray:
    """``a[rows]`` on the host; a memory-mapped array reads only those rows, then lets go."""
    if not is_mapped(a):
        return np.asarray(a)[rows]
    flat = np.asarray(rows).reshape(-1)
    out = np.empty((flat.shape[0], *a.shape[1:]), a.dtype)
    source = a if isinstance(a, RowView) else np.asarray(a)
    for start in range(0, flat.shape[0], _GATHER_ROWS):
        part = flat[start : start + _GATHER_ROWS]
        out[start : start + len(part)] = source[part]
        release_pages(a)
    return out.reshape(*np.shape(rows), *a.shape[1:])
