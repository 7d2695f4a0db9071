"""Whole models: the model file, configs, summaries, diagrams and feature extraction."""

from jaxnn.models.config import from_config, to_config
from jaxnn.models.features import OUTPUT_KEY, Submodel, intermediates, layer_paths, submodel
from jaxnn.models.file import SavedModel, load_model, save_model
from jaxnn.models.functions import (
    register_function,
    register_layer,
    serializable_functions,
)
from jaxnn.models.plot import model_to_dot, plot_model
from jaxnn.models.summary import Row, Summary, summary

__all__ = [
    "OUTPUT_KEY",
    "Row",
    "SavedModel",
    "Submodel",
    "Summary",
    "from_config",
    "intermediates",
    "layer_paths",
    "load_model",
    "model_to_dot",
    "plot_model",
    "register_function",
    "register_layer",
    "save_model",
    "serializable_functions",
    "submodel",
    "summary",
    "to_config",
]
