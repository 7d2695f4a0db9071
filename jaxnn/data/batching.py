"""An iterator over batches of arrays, with shuffling and prefetch to the device."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any

import jax
import numpy as np

from jaxnn.core import check_positive_int

__all__ = ["batches"]


def batches(
    *arrays: Any,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    drop_remainder: bool = False,
    prefetch: int = 2,
) -> Iterator[tuple[jax.Array, ...]]:
    """Yields batches of the given arrays (same rows from each), placed on the device ahead.

    Args:
        *arrays: NumPy or JAX arrays with the same number of rows ``N``.
        batch_size: Rows per batch, >= 1.
        shuffle: Draw the rows in a random order (seeded) instead of in order.
        seed: The shuffle's seed (default 0).
        drop_remainder: Drop the last batch if it has fewer than ``batch_size`` rows (default
            ``False``: yield it smaller).
        prefetch: How many batches to copy to the device ahead of the one being used (default 2;
            0 copies each when it is yielded). ``jax.device_put`` is asynchronous, so the copy
            overlaps the caller's computation.

    Yields:
        Tuples of device arrays, one per input array.

    Raises:
        ValueError: For no arrays, arrays of different lengths, or a bad batch size.

    Example:
        >>> x, y = np.arange(10).reshape(5, 2), np.arange(5)
        >>> [b[1].tolist() for b in batches(x, y, batch_size=2)]
        [[0, 1], [2, 3], [4]]
        >>> len(list(batches(x, y, batch_size=2, drop_remainder=True)))
        2
    """
    if not arrays:
        raise ValueError("batches: give at least one array.")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) != 1:
        raise ValueError(f"batches: all arrays need the same number of rows; got {lengths}.")
    check_positive_int(batch_size, where="batches", arg="batch_size")
    if prefetch < 0:
        raise ValueError(f"batches: prefetch must be >= 0; got {prefetch}.")
    n = lengths[0]
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_remainder else n
    starts = range(0, stop, batch_size)
    queue: collections.deque = collections.deque()
    for start in starts:
        rows = order[start : start + batch_size]
        queue.append(tuple(jax.device_put(np.asarray(a)[rows]) for a in arrays))
        if len(queue) > prefetch:
            yield queue.popleft()
    while queue:
        yield queue.popleft()
