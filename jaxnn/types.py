"""Type aliases used in jaxnn's public signatures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import jax

Array: TypeAlias = jax.Array
#: Nested dict of arrays keyed by role (``w``, ``b``, ``gamma`` ...); ``{}`` when a layer has none.
Params: TypeAlias = dict[str, Any]
#: Nested dict of non-trainable arrays (running statistics, counters).
State: TypeAlias = dict[str, Any]
#: A shape with the batch axis first; ``-1`` stands for "any batch size".
Shape: TypeAlias = tuple[int, ...]
#: A typed key from ``jax.random.key`` or a legacy ``uint32[2]`` key from ``jax.random.PRNGKey``.
PRNGKey: TypeAlias = jax.Array
#: ``(key, shape, dtype) -> array``, as in ``jax.nn.initializers``.
Initializer: TypeAlias = Callable[..., jax.Array]

__all__ = ["Array", "Initializer", "Params", "PRNGKey", "Shape", "State"]
