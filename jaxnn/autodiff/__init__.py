"""The autodiff teaching module: backpropagation written by hand, checked against jax.grad.

- :mod:`~jaxnn.autodiff.activations`: every activation's forward rule and its hand-written
  backward rule, side by side.
- :mod:`~jaxnn.autodiff.backprop`: MLP backprop by the chain rule; :func:`compare` against
  ``jax.grad`` and finite differences (``python -m jaxnn.autodiff`` prints the table).
- :mod:`~jaxnn.autodiff.scalar`: a tiny scalar reverse-mode engine and its graph.
- :mod:`~jaxnn.autodiff.neurons`: McCulloch-Pitts units, the perceptron rule, XOR.
- :mod:`~jaxnn.autodiff.descent`: batch / mini-batch / stochastic gradient descent, step sizes,
  squared against absolute error on three points.
- :mod:`~jaxnn.autodiff.modes`: forward mode against reverse mode, Hessians, passes counted.

Tutorial pages built from runnable scripts: ``docs/tutorials/`` (``experiments/tutorials/``).
"""

from jaxnn.autodiff.activations import RULES
from jaxnn.autodiff.backprop import (
    LOSSES,
    compare,
    format_table,
    loss_and_grads,
    mlp_backward,
    mlp_forward,
)
from jaxnn.autodiff.descent import gradient_descent, learning_rate_study
from jaxnn.autodiff.neurons import mcculloch_pitts, perceptron_train, xor_network
from jaxnn.autodiff.scalar import MLP, Value, to_dot

__all__ = [
    "LOSSES",
    "MLP",
    "RULES",
    "Value",
    "compare",
    "format_table",
    "gradient_descent",
    "learning_rate_study",
    "loss_and_grads",
    "mcculloch_pitts",
    "mlp_backward",
    "mlp_forward",
    "perceptron_train",
    "to_dot",
    "xor_network",
]
