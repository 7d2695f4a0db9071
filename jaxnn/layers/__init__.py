"""Layers: constructors that record hyperparameters and return a :class:`~jaxnn.Layer`."""

from jaxnn.layers.activation import Activation
from jaxnn.layers.dense import Dense
from jaxnn.layers.dropout import Dropout
from jaxnn.layers.normalization import BatchNorm, LayerNorm
from jaxnn.layers.reshape import Flatten, Reshape

__all__ = ["Activation", "BatchNorm", "Dense", "Dropout", "Flatten", "LayerNorm", "Reshape"]
