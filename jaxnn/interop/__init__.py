"""Bring models from other libraries into jaxnn: Flax (linen and NNX) and Keras 3 files.

Flax is imported when :func:`from_flax` or :func:`from_nnx` is first used, not with
``import jaxnn``: it takes a quarter of a second that a program which never converts a Flax
model should not pay (measured in ``docs/benchmarks.md``, "Time to the first result").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jaxnn.interop.keras import KerasModel, from_keras

if TYPE_CHECKING:
    from jaxnn.interop.flax import from_flax, from_nnx

__all__ = ["KerasModel", "from_flax", "from_keras", "from_nnx"]


def __getattr__(name: str) -> Any:
    """``from_flax`` and ``from_nnx``, importing Flax on first use (PEP 562)."""
    if name in ("from_flax", "from_nnx"):
        from jaxnn.interop import flax

        return getattr(flax, name)
    raise AttributeError(f"module 'jaxnn.interop' has no attribute {name!r}")
