"""Parameter paths: naming one array in a nested params dict, and matching paths by pattern.

A path is the tuple of dict keys leading to an array, e.g. ``("encoder", "dense_1", "w")``, written
``"encoder/dense_1/w"``. Regularisation, freezing, feature extraction and checkpoints speak in
these paths.

A pattern selects paths:

- without ``/``, it matches the leaf name: ``"w"`` matches every kernel, ``"b"`` every bias;
- with ``/``, it matches the whole path with shell wildcards (:mod:`fnmatch`; ``*`` also spans
  ``/``): ``"dense_1/*"``, ``"encoder/*/w"``;
- a tuple of keys matches that exact path: ``("dense_1", "w")``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

import jax

__all__ = ["leaves_with_paths", "matches", "path_str"]

Pattern = str | tuple[str, ...]


def path_str(path: Sequence[Any]) -> str:
    """Joins a :mod:`jax.tree_util` key path (or a tuple of keys) with ``/``.

    Example:
        >>> path_str(("dense_1", "w"))
        'dense_1/w'
    """
    parts = []
    for entry in path:
        for attr in ("key", "idx", "name"):
            if hasattr(entry, attr):
                entry = getattr(entry, attr)
                break
        parts.append(str(entry))
    return "/".join(parts)


def leaves_with_paths(tree: Any) -> list[tuple[str, Any]]:
    """``(path, leaf)`` pairs of a nested params dict, in the tree's order.

    Example:
        >>> import jax.numpy as jnp
        >>> [p for p, _ in leaves_with_paths({"dense": {"w": jnp.ones(2), "b": jnp.ones(1)}})]
        ['dense/b', 'dense/w']
    """
    return [(path_str(p), leaf) for p, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]]


def matches(pattern: Pattern, path: str) -> bool:
    """Whether ``pattern`` selects ``path`` (rules in the module docstring).

    Example:
        >>> matches("w", "dense_1/w"), matches("dense_1/*", "dense_1/b"), matches("w", "dense/b")
        (True, True, False)
    """
    if isinstance(pattern, tuple):
        return path == "/".join(pattern)
    if not isinstance(pattern, str):
        raise TypeError(
            f"a path pattern must be a string such as 'dense_1/*' or a tuple of keys; "
            f"got {type(pattern).__name__} {pattern!r}."
        )
    if "/" in pattern:
        return fnmatch.fnmatchcase(path, pattern)
    return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)
