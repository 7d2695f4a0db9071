"""jaxnn: a functional deep-learning toolkit on JAX.

Layers are ``init``/``apply`` pairs over plain dicts of arrays; any ``jnp`` function is a layer;
randomness and state are explicit. See ``DESIGN.md`` for the protocol.
"""

from jaxnn import (
    activations,
    callbacks,
    checkpoint,
    data,
    initializers,
    layers,
    losses,
    metrics,
    optimizers,
    paths,
    regularizers,
)
from jaxnn.combinators import parallel, residual, serial
from jaxnn.core import Layer, lift
from jaxnn.encoding import one_hot, to_categorical
from jaxnn.train import (
    TrainState,
    evaluate,
    fit,
    make_eval_step,
    make_train_step,
    predict,
)

__version__ = "0.1.0"

__all__ = [
    "Layer",
    "TrainState",
    "activations",
    "callbacks",
    "checkpoint",
    "data",
    "evaluate",
    "fit",
    "make_eval_step",
    "make_train_step",
    "optimizers",
    "predict",
    "initializers",
    "layers",
    "lift",
    "losses",
    "metrics",
    "one_hot",
    "parallel",
    "paths",
    "regularizers",
    "residual",
    "serial",
    "to_categorical",
]
