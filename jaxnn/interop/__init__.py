"""Bring models from other libraries into jaxnn: Flax (linen and NNX) and Keras 3 files."""

from jaxnn.interop.flax import from_flax, from_nnx
from jaxnn.interop.keras import KerasModel, from_keras

__all__ = ["KerasModel", "from_flax", "from_keras", "from_nnx"]
