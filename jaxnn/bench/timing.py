"""Timing: the median of repeated runs after warm-up, with the spread, on any clock.

The clock is injectable (``clock=`` returns seconds), so the logic is tested with a fake clock;
a timed function must block until its result is ready (``jax.block_until_ready``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["Timing", "time_calls", "time_once"]

Clock = Callable[[], float]


class Timing(NamedTuple):
    """Seconds per call of repeated runs.

    Attributes:
        median: The median of ``times``.
        min: The fastest run.
        max: The slowest run.
        times: Every timed run, in order (warm-up runs excluded).
    """

    median: float
    min: float
    max: float
    times: tuple[float, ...]

    @property
    def spread(self) -> float:
        """``(max - min) / median``: the relative spread of the runs (0 for one run)."""
        return (self.max - self.min) / self.median if self.median > 0 else 0.0


def time_once(fn: Callable[[], Any], *, clock: Clock = time.perf_counter) -> tuple[float, Any]:
    """Seconds one call of ``fn`` takes, and its result.

    Example:
        >>> ticks = iter([1.0, 3.5])
        >>> time_once(lambda: "done", clock=lambda: next(ticks))
        (2.5, 'done')
    """
    start = clock()
    result = fn()
    return clock() - start, result


def time_calls(
    fn: Callable[[], Any],
    *,
    warmup: int = 1,
    repeats: int = 5,
    clock: Clock = time.perf_counter,
) -> Timing:
    """Calls ``fn`` ``warmup`` times untimed, then times ``repeats`` calls.

    Args:
        fn: A function of no arguments that blocks until its work is done.
        warmup: Untimed calls first (default 1; compilation and caches happen here).
        repeats: Timed calls (default 5).
        clock: Seconds as a float (default ``time.perf_counter``).

    Returns:
        A :class:`Timing`.

    Raises:
        ValueError: If ``warmup`` is negative or ``repeats`` is below 1.

    Example:
        >>> ticks = iter([0, 1, 1, 3, 3, 13])  # the warm-up call reads no clock
        >>> t = time_calls(lambda: None, warmup=1, repeats=3, clock=lambda: next(ticks))
        >>> t.median, t.min, t.max, t.times
        (2, 1, 10, (1, 2, 10))
    """
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"time_calls: warmup must be an int >= 0; got {warmup!r}.")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"time_calls: repeats must be an int >= 1; got {repeats!r}.")
    for _ in range(warmup):
        fn()
    times = tuple(time_once(fn, clock=clock)[0] for _ in range(repeats))
    return Timing(statistics.median(times), min(times), max(times), times)
