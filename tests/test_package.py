import importlib

import jaxnn


def test_public_surface_from_design():
    for name in ["Layer", "serial", "parallel", "residual", "one_hot", "to_categorical", "lift"]:
        assert name in jaxnn.__all__ and hasattr(jaxnn, name)
    from jaxnn.layers import Activation, BatchNorm, Dense, Dropout, Flatten, LayerNorm, Reshape  # noqa: F401
    from jaxnn.losses import mae, mse  # noqa: F401
    from jaxnn.metrics import accuracy, confusion_matrix, f1_score, precision, recall, roc_auc  # noqa: F401


def test_every_all_name_exists():
    for module in [
        "jaxnn",
        "jaxnn.layers",
        "jaxnn.losses",
        "jaxnn.metrics",
        "jaxnn.activations",
        "jaxnn.initializers",
        "jaxnn.regularizers",
        "jaxnn.paths",
        "jaxnn.core",
        "jaxnn.combinators",
        "jaxnn.data",
        "jaxnn.train",
        "jaxnn.callbacks",
        "jaxnn.checkpoint",
        "jaxnn.optimizers",
        "jaxnn.autodiff",
    ]:
        mod = importlib.import_module(module)
        missing = [n for n in mod.__all__ if not hasattr(mod, n)]
        assert missing == [], (module, missing)
