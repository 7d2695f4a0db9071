"""jaxnn: a functional deep-learning toolkit on JAX.

Layers are ``init``/``apply`` pairs over plain dicts of arrays; any ``jnp`` function is a layer;
randomness and state are explicit. See ``DESIGN.md`` for the protocol.
"""

from jaxnn import (
    activations,
    bench,
    callbacks,
    checkpoint,
    data,
    distributed,
    initializers,
    interop,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    paths,
    regularizers,
    viz,
)
from jaxnn._version import __version__ as __version__
from jaxnn.combinators import parallel, residual, serial
from jaxnn.core import Layer, lift
from jaxnn.encoding import one_hot, to_categorical
from jaxnn.export import export, exported_text, load_exported
from jaxnn.models import (
    intermediates,
    load_model,
    plot_model,
    register_function,
    register_layer,
    save_model,
    submodel,
    summary,
)
from jaxnn.search import SearchResult, search
from jaxnn.train import (
    TrainState,
    evaluate,
    fit,
    make_eval_step,
    make_train_step,
    predict,
)

__all__ = [
    "Layer",
    "SearchResult",
    "TrainState",
    "activations",
    "bench",
    "callbacks",
    "checkpoint",
    "data",
    "distributed",
    "evaluate",
    "export",
    "exported_text",
    "fit",
    "intermediates",
    "make_eval_step",
    "make_train_step",
    "optimizers",
    "predict",
    "initializers",
    "interop",
    "layers",
    "lift",
    "load_exported",
    "load_model",
    "losses",
    "metrics",
    "models",
    "one_hot",
    "parallel",
    "paths",
    "plot_model",
    "regularizers",
    "register_function",
    "register_layer",
    "residual",
    "save_model",
    "search",
    "serial",
    "submodel",
    "summary",
    "to_categorical",
    "viz",
]
