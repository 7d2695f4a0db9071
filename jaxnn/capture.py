"""Recording what every layer inside a model receives and returns, by path.

The combinators (:mod:`jaxnn.combinators`) report each child call to the active recording, if
any. Inside ``with recording() as records:``, calling a model's ``init`` records every nested
layer's input and output shapes; calling its ``apply`` (under ``jit`` too, where the records hold
tracers that the traced function may return) records every nested layer's output. Nothing is
recorded, and nothing costs anything, outside the ``with`` block. This is how
:func:`jaxnn.models.intermediates` and :func:`jaxnn.models.summary` see inside a model without
changing any layer.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

__all__ = ["Record", "child_call", "recording"]


class Record(NamedTuple):
    """One call of one layer inside a model.

    Attributes:
        path: The layer's path from the model's root, e.g. ``("encoder", "dense_1")``.
        layer: The :class:`~jaxnn.Layer` that was called.
        inputs: What it received: a shape (tree) at ``init``, an array (tree) at ``apply``.
        outputs: What it returned first: the output shape at ``init``, the output at ``apply``.
    """

    path: tuple[str, ...]
    layer: Any
    inputs: Any
    outputs: Any


class _Recorder:
    def __init__(self) -> None:
        self.path: list[str] = []
        self.records: list[Record | None] = []


_ACTIVE: contextvars.ContextVar[_Recorder | None] = contextvars.ContextVar(
    "jaxnn_recording", default=None
)


@contextlib.contextmanager
def recording() -> Iterator[list[Record]]:
    """Records every layer call that combinators make inside the block, parents first.

    Yields:
        A list that holds the :class:`Record` of each call once the block ends, in the order the
        calls began (a combinator before its children).

    Example:
        >>> import jax, jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense
        >>> model = jaxnn.serial(Dense(3), jaxnn.serial(Dense(2), jnp.tanh, name="head"))
        >>> with recording() as records:
        ...     _ = model.init(jax.random.key(0), (-1, 4))
        >>> [(r.path, r.outputs) for r in records]  # doctest: +NORMALIZE_WHITESPACE
        [(('dense',), (-1, 3)), (('head',), (-1, 2)), (('head', 'dense'), (-1, 2)),
         (('head', 'tanh'), (-1, 2))]
    """
    recorder = _Recorder()
    token = _ACTIVE.set(recorder)
    out: list[Record] = []
    try:
        yield out
    finally:
        _ACTIVE.reset(token)
        out.extend(r for r in recorder.records if r is not None)


def child_call(name: str, layer: Any, inputs: Any, call: Callable[[], tuple]) -> tuple:
    """Runs ``call()`` (a child's ``init`` or ``apply``) and records it under ``name``.

    Combinators call each child through this; outside :func:`recording` it is just ``call()``.
    """
    recorder = _ACTIVE.get()
    if recorder is None:
        return call()
    recorder.path.append(name)
    path, slot = tuple(recorder.path), len(recorder.records)
    recorder.records.append(None)  # keeps the parent ahead of its children
    try:
        result = call()
    finally:
        recorder.path.pop()
    recorder.records[slot] = Record(path, layer, inputs, result[0])
    return result
