"""Layers: constructors that record hyperparameters and return a :class:`~jaxnn.Layer`."""

from jaxnn.layers.activation import Activation
from jaxnn.layers.attention import MultiHeadAttention
from jaxnn.layers.bidirectional import Bidirectional
from jaxnn.layers.conv import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
)
from jaxnn.layers.dense import Dense
from jaxnn.layers.depthwise import DepthwiseConv2D, SeparableConv2D
from jaxnn.layers.dropout import Dropout
from jaxnn.layers.embedding import Embedding
from jaxnn.layers.normalization import BatchNorm, GroupNorm, LayerNorm, RMSNorm
from jaxnn.layers.pooling import AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPool, UpSampling
from jaxnn.layers.recurrent import GRU, LSTM, SimpleRNN
from jaxnn.layers.reshape import Flatten, Reshape
from jaxnn.layers.transformer import PositionalEmbedding, TransformerBlock

__all__ = [
    "Activation",
    "AvgPool",
    "BatchNorm",
    "Bidirectional",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Dense",
    "DepthwiseConv2D",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRU",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "GroupNorm",
    "LSTM",
    "LayerNorm",
    "MaxPool",
    "MultiHeadAttention",
    "PositionalEmbedding",
    "RMSNorm",
    "Reshape",
    "SeparableConv2D",
    "SimpleRNN",
    "TransformerBlock",
    "UpSampling",
]
