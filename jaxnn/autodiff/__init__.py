"""The autodiff teaching module: backpropagation written by hand, checked against jax.grad."""

from jaxnn.autodiff.activations import RULES
from jaxnn.autodiff.backprop import (
    LOSSES,
    compare,
    format_table,
    loss_and_grads,
    mlp_backward,
    mlp_forward,
)

__all__ = [
    "LOSSES",
    "RULES",
    "compare",
    "format_table",
    "loss_and_grads",
    "mlp_backward",
    "mlp_forward",
]
