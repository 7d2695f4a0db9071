r"""Every activation with its derivative written by hand, each backward rule after its forward.

A rule pair is ``name_forward(x) -> y`` and ``name_backward(x, y, grad_y) -> grad_x``: the
backward rule receives the input, the output the forward pass kept, and the gradient of the loss
with respect to the output, and applies the chain rule

.. math:: \frac{\partial L}{\partial x_i} = \sum_j \frac{\partial L}{\partial y_j}
    \frac{\partial y_j}{\partial x_i}

which for an element-wise activation is :math:`\bar x = \bar y \odot f'(x)`. ``softmax`` and
``log_softmax`` mix a row's elements, so their rules are vector-Jacobian products.

Heaviside and sign: their derivative is 0 wherever it exists (and undefined at 0), so the
gradient through them is zero and gradient descent cannot learn through a step. That is why the
perceptron needed its own learning rule, and why smooth activations (sigmoid, tanh) replaced the
step when networks started to be trained by backpropagation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax.numpy as jnp
import jax.scipy.special

from jaxnn.types import Array

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_LEAKY_SLOPE = 0.01


def _sigmoid(x: Array) -> Array:
    return 0.5 * (jnp.tanh(0.5 * x) + 1.0)  # stable for large |x|


def identity_forward(x: Array) -> Array:
    r""":math:`y = x`."""
    return x


def identity_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = 1`."""
    return grad_y


def heaviside_forward(x: Array) -> Array:
    r""":math:`y = [x \ge 0]`."""
    return jnp.where(x >= 0, 1.0, 0.0).astype(x.dtype)


def heaviside_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = 0` for :math:`x \ne 0`: no gradient flows through a step."""
    return jnp.zeros_like(grad_y)


def sign_forward(x: Array) -> Array:
    r""":math:`y = \operatorname{sign}(x)`."""
    return jnp.sign(x)


def sign_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = 0` for :math:`x \ne 0`."""
    return jnp.zeros_like(grad_y)


def sigmoid_forward(x: Array) -> Array:
    r""":math:`y = 1 / (1 + e^{-x})`."""
    return _sigmoid(x)


def sigmoid_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = y (1 - y)`, from the output the forward pass kept."""
    return grad_y * y * (1.0 - y)


def hard_sigmoid_forward(x: Array) -> Array:
    r""":math:`y = \min(\max(x/6 + 1/2, 0), 1)`."""
    return jnp.clip(x / 6.0 + 0.5, 0.0, 1.0)


def hard_sigmoid_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = 1/6` on :math:`(-3, 3)`, else 0."""
    return grad_y * jnp.where(jnp.abs(x) < 3.0, 1.0 / 6.0, 0.0)


def tanh_forward(x: Array) -> Array:
    r""":math:`y = \tanh x`."""
    return jnp.tanh(x)


def tanh_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = 1 - y^2`."""
    return grad_y * (1.0 - y * y)


def arctan_forward(x: Array) -> Array:
    r""":math:`y = \arctan x`."""
    return jnp.arctan(x)


def arctan_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = 1 / (1 + x^2)`."""
    return grad_y / (1.0 + x * x)


def arsinh_forward(x: Array) -> Array:
    r""":math:`y = \ln(x + \sqrt{x^2 + 1})`."""
    return jnp.arcsinh(x)


def arsinh_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = 1 / \sqrt{x^2 + 1}`."""
    return grad_y / jnp.sqrt(x * x + 1.0)


def erf_forward(x: Array) -> Array:
    r""":math:`y = \operatorname{erf} x`."""
    return jax.scipy.special.erf(x)


def erf_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = \frac{2}{\sqrt\pi} e^{-x^2}`."""
    return grad_y * (2.0 / math.sqrt(math.pi)) * jnp.exp(-x * x)


def relu_forward(x: Array) -> Array:
    r""":math:`y = \max(0, x)`."""
    return jnp.maximum(x, 0.0)


def relu_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = [x > 0]` (0 at the kink, as ``jax.grad``)."""
    return grad_y * (x > 0)


def relu6_forward(x: Array) -> Array:
    r""":math:`y = \min(\max(0, x), 6)`."""
    return jnp.clip(x, 0.0, 6.0)


def relu6_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = [0 < x < 6]`."""
    return grad_y * ((x > 0) & (x < 6))


def leaky_relu_forward(x: Array) -> Array:
    r""":math:`y = x` for :math:`x \ge 0`, :math:`0.01 x` below."""
    return jnp.where(x >= 0, x, _LEAKY_SLOPE * x)


def leaky_relu_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = 1` for :math:`x > 0`, 0.01 below."""
    return grad_y * jnp.where(x > 0, 1.0, _LEAKY_SLOPE)


def elu_forward(x: Array) -> Array:
    r""":math:`y = x` for :math:`x > 0`, :math:`e^x - 1` below."""
    return jnp.where(x > 0, x, jnp.expm1(jnp.minimum(x, 0.0)))


def elu_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = 1` for :math:`x > 0`, :math:`e^x = y + 1` below."""
    return grad_y * jnp.where(x > 0, 1.0, y + 1.0)


def selu_forward(x: Array) -> Array:
    r""":math:`y = \lambda x` for :math:`x > 0`, :math:`\lambda\alpha(e^x - 1)` below."""
    return _SELU_SCALE * jnp.where(x > 0, x, _SELU_ALPHA * jnp.expm1(jnp.minimum(x, 0.0)))


def selu_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = \lambda` for :math:`x > 0`, :math:`\lambda\alpha e^x = y + \lambda\alpha`."""
    return grad_y * jnp.where(x > 0, _SELU_SCALE, y + _SELU_SCALE * _SELU_ALPHA)


def gelu_forward(x: Array) -> Array:
    r""":math:`y = x \Phi(x)` (exact form)."""
    return 0.5 * x * (1.0 + jax.scipy.special.erf(x / math.sqrt(2.0)))


def gelu_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = \Phi(x) + x \varphi(x)`."""
    cdf = 0.5 * (1.0 + jax.scipy.special.erf(x / math.sqrt(2.0)))
    pdf = jnp.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return grad_y * (cdf + x * pdf)


def softplus_forward(x: Array) -> Array:
    r""":math:`y = \ln(1 + e^x)`, computed as :math:`\max(x, 0) + \ln(1 + e^{-|x|})`."""
    return jnp.maximum(x, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


def softplus_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = \sigma(x)`."""
    return grad_y * _sigmoid(x)


def softsign_forward(x: Array) -> Array:
    r""":math:`y = x / (1 + |x|)`."""
    return x / (1.0 + jnp.abs(x))


def softsign_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = 1 / (1 + |x|)^2`."""
    return grad_y / (1.0 + jnp.abs(x)) ** 2


def silu_forward(x: Array) -> Array:
    r""":math:`y = x \sigma(x)`."""
    return x * _sigmoid(x)


def silu_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r""":math:`f'(x) = \sigma(x)(1 + x(1 - \sigma(x)))`."""
    s = _sigmoid(x)
    return grad_y * s * (1.0 + x * (1.0 - s))


def mish_forward(x: Array) -> Array:
    r""":math:`y = x \tanh(\operatorname{softplus}(x))`."""
    return x * jnp.tanh(softplus_forward(x))


def mish_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r"""Mish's derivative.

    :math:`f'(x) = \tanh s + x \sigma(x)(1 - \tanh^2 s)`, :math:`s = \operatorname{softplus}(x)`.
    """
    t = jnp.tanh(softplus_forward(x))
    return grad_y * (t + x * _sigmoid(x) * (1.0 - t * t))


def softmax_forward(x: Array) -> Array:
    r""":math:`y_i = e^{x_i - m} / \sum_j e^{x_j - m}` over the last axis."""
    e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def softmax_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r"""The softmax's vector-Jacobian product.

    With :math:`\partial y_j / \partial x_i = y_j(\delta_{ij} - y_i)`:
    :math:`\bar x = y \odot (\bar y - \sum_j \bar y_j y_j)`.
    """
    return y * (grad_y - jnp.sum(grad_y * y, axis=-1, keepdims=True))


def log_softmax_forward(x: Array) -> Array:
    r""":math:`y_i = x_i - m - \ln \sum_j e^{x_j - m}` over the last axis."""
    shifted = x - jnp.max(x, axis=-1, keepdims=True)
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))


def log_softmax_backward(x: Array, y: Array, grad_y: Array) -> Array:
    r"""The log-softmax's vector-Jacobian product.

    With :math:`\partial y_j / \partial x_i = \delta_{ij} - \operatorname{softmax}(x)_i`:
    :math:`\bar x = \bar y - e^{y} \sum_j \bar y_j`.
    """
    return grad_y - jnp.exp(y) * jnp.sum(grad_y, axis=-1, keepdims=True)


Rule = tuple[Callable[[Array], Array], Callable[[Array, Array, Array], Array]]

RULES: dict[str, Rule] = {
    name: (globals()[f"{name}_forward"], globals()[f"{name}_backward"])
    for name in [
        "identity", "heaviside", "sign", "sigmoid", "hard_sigmoid", "tanh", "arctan", "arsinh",
        "erf", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "softplus", "softsign",
        "silu", "mish", "softmax", "log_softmax",
    ]
}  # fmt: skip
