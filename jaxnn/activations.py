"""Activation functions: plain array functions, each usable as a layer as it is.

Every function here maps an array to an array of the same shape (``softmax`` and ``log_softmax``
normalise over one axis). Each docstring states the rule, the range and the derivative; the tests
check each stated derivative against :func:`jax.grad`. Use them directly in a model,
``serial(Dense(8), jaxnn.activations.relu)``, or by name through :func:`get` or
``Activation("relu")``.

Where JAX already has the function (``jax.nn``), jaxnn calls it rather than writing it again.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.scipy.special

from jaxnn.core import lookup
from jaxnn.types import Array

__all__ = [
    "arctan",
    "arsinh",
    "elu",
    "erf",
    "gelu",
    "get",
    "hard_sigmoid",
    "heaviside",
    "identity",
    "leaky_relu",
    "log_softmax",
    "mish",
    "names",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "sign",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]


def identity(x: Array) -> Array:
    r"""Identity (linear) activation.

    .. math:: f(x) = x, \qquad f'(x) = 1

    Range: :math:`(-\infty, \infty)`.

    Example:
        >>> identity(jnp.array([-1.0, 2.0]))
        Array([-1.,  2.], dtype=float32)
    """
    return jnp.asarray(x)


def heaviside(x: Array) -> Array:
    r"""Heaviside step, the threshold of the McCulloch-Pitts neuron and the perceptron.

    .. math:: f(x) = \begin{cases} 1 & x \ge 0 \\ 0 & x < 0 \end{cases}, \qquad
        f'(x) = 0 \ (x \ne 0)

    Range: :math:`\{0, 1\}`. The convention here is :math:`f(0) = 1`. The derivative is zero
    wherever it exists (and undefined at 0), so gradient descent cannot train through a step:
    that is why the perceptron has its own learning rule and why smooth activations replaced it.
    ``jax.grad`` returns 0 everywhere.

    Example:
        >>> heaviside(jnp.array([-1.0, 0.0, 2.0]))
        Array([0., 1., 1.], dtype=float32)
    """
    x = jnp.asarray(x)
    return jnp.where(x >= 0, 1.0, 0.0).astype(jnp.result_type(x, jnp.float32))


def sign(x: Array) -> Array:
    r"""Sign function, the bipolar threshold unit.

    .. math:: f(x) = \begin{cases} 1 & x > 0 \\ 0 & x = 0 \\ -1 & x < 0 \end{cases},
        \qquad f'(x) = 0 \ (x \ne 0)

    Range: :math:`\{-1, 0, 1\}`. As for :func:`heaviside`, the derivative is zero almost
    everywhere, and ``jax.grad`` returns 0.

    Example:
        >>> sign(jnp.array([-2.0, 0.0, 3.0]))
        Array([-1.,  0.,  1.], dtype=float32)
    """
    return jnp.sign(x)


def sigmoid(x: Array) -> Array:
    r"""Logistic sigmoid.

    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}}, \qquad \sigma'(x) = \sigma(x)(1 - \sigma(x))

    Range: :math:`(0, 1)`.

    Example:
        >>> sigmoid(jnp.array([0.0]))
        Array([0.5], dtype=float32)
    """
    return jax.nn.sigmoid(x)


def hard_sigmoid(x: Array) -> Array:
    r"""Piecewise-linear approximation of the sigmoid (the Keras 3 and PyTorch definition).

    .. math:: f(x) = \frac{\operatorname{relu6}(x + 3)}{6}
        = \min(\max(\tfrac{x}{6} + \tfrac12, 0), 1),
        \qquad f'(x) = \begin{cases} \tfrac16 & -3 < x < 3 \\ 0 & |x| > 3 \end{cases}

    Range: :math:`[0, 1]`. (Keras 2 used slope 0.2 instead of 1/6.)

    Example:
        >>> hard_sigmoid(jnp.array([-4.0, 0.0, 4.0]))
        Array([0. , 0.5, 1. ], dtype=float32)
    """
    return jax.nn.hard_sigmoid(x)


def tanh(x: Array) -> Array:
    r"""Hyperbolic tangent.

    .. math:: f(x) = \frac{e^x - e^{-x}}{e^x + e^{-x}}, \qquad f'(x) = 1 - \tanh^2(x)

    Range: :math:`(-1, 1)`.

    Example:
        >>> tanh(jnp.array([0.0]))
        Array([0.], dtype=float32)
    """
    return jnp.tanh(x)


def arctan(x: Array) -> Array:
    r"""Inverse tangent.

    .. math:: f(x) = \arctan(x), \qquad f'(x) = \frac{1}{1 + x^2}

    Range: :math:`(-\pi/2, \pi/2)`.

    Example:
        >>> arctan(jnp.array([1.0])) * 4
        Array([3.1415927], dtype=float32)
    """
    return jnp.arctan(x)


def arsinh(x: Array) -> Array:
    r"""Inverse hyperbolic sine.

    .. math:: f(x) = \ln\left(x + \sqrt{x^2 + 1}\right), \qquad f'(x) = \frac{1}{\sqrt{x^2 + 1}}

    Range: :math:`(-\infty, \infty)`.

    Example:
        >>> arsinh(jnp.array([0.0]))
        Array([0.], dtype=float32)
    """
    return jnp.arcsinh(x)


def erf(x: Array) -> Array:
    r"""Gauss error function.

    .. math:: f(x) = \frac{2}{\sqrt{\pi}} \int_0^x e^{-t^2} dt, \qquad
        f'(x) = \frac{2}{\sqrt{\pi}} e^{-x^2}

    Range: :math:`(-1, 1)`.

    Example:
        >>> erf(jnp.array([0.0]))
        Array([0.], dtype=float32)
    """
    return jax.scipy.special.erf(x)


def relu(x: Array) -> Array:
    r"""Rectified linear unit.

    .. math:: f(x) = \max(0, x), \qquad f'(x) = \begin{cases} 1 & x > 0 \\ 0 & x < 0
        \end{cases}

    Range: :math:`[0, \infty)`. At 0, ``jax.grad`` returns 0.

    Example:
        >>> relu(jnp.array([-1.0, 2.0]))
        Array([0., 2.], dtype=float32)
    """
    return jax.nn.relu(x)


def relu6(x: Array) -> Array:
    r"""ReLU capped at 6.

    .. math:: f(x) = \min(\max(0, x), 6), \qquad f'(x) = \begin{cases} 1 & 0 < x < 6 \\
        0 & x < 0 \text{ or } x > 6 \end{cases}

    Range: :math:`[0, 6]`.

    Example:
        >>> relu6(jnp.array([-1.0, 3.0, 8.0]))
        Array([0., 3., 6.], dtype=float32)
    """
    return jax.nn.relu6(x)


def leaky_relu(x: Array, negative_slope: float = 0.01) -> Array:
    r"""Leaky ReLU.

    .. math:: f(x) = \begin{cases} x & x \ge 0 \\ \alpha x & x < 0 \end{cases}, \qquad
        f'(x) = \begin{cases} 1 & x > 0 \\ \alpha & x < 0 \end{cases}

    Range: :math:`(-\infty, \infty)` for :math:`\alpha > 0`.

    Args:
        x: Input array.
        negative_slope: :math:`\alpha`, the slope for negative inputs (default 0.01, as PyTorch;
            Keras uses 0.3). Use ``functools.partial(leaky_relu, negative_slope=0.2)`` as a layer.

    Example:
        >>> leaky_relu(jnp.array([-2.0, 3.0]), negative_slope=0.1)
        Array([-0.2,  3. ], dtype=float32)
    """
    return jax.nn.leaky_relu(x, negative_slope=negative_slope)


def elu(x: Array, alpha: float = 1.0) -> Array:
    r"""Exponential linear unit.

    .. math:: f(x) = \begin{cases} x & x > 0 \\ \alpha (e^x - 1) & x \le 0 \end{cases},
        \qquad f'(x) = \begin{cases} 1 & x > 0 \\ \alpha e^x & x < 0 \end{cases}

    Range: :math:`(-\alpha, \infty)`.

    Args:
        x: Input array.
        alpha: Saturation value for large negative inputs (default 1.0).

    Example:
        >>> elu(jnp.array([0.0, 2.0]))
        Array([0., 2.], dtype=float32)
    """
    return jax.nn.elu(x, alpha=alpha)


def selu(x: Array) -> Array:
    r"""Scaled exponential linear unit (self-normalising networks).

    .. math:: f(x) = \lambda \begin{cases} x & x > 0 \\ \alpha (e^x - 1) & x \le 0
        \end{cases}, \qquad f'(x) = \lambda \begin{cases} 1 & x > 0 \\ \alpha e^x & x < 0
        \end{cases}

    with :math:`\alpha \approx 1.6732632` and :math:`\lambda \approx 1.0507010`.
    Range: :math:`(-\lambda\alpha, \infty)`.

    Example:
        >>> selu(jnp.array([1.0]))
        Array([1.050701], dtype=float32)
    """
    return jax.nn.selu(x)


def gelu(x: Array, approximate: bool = False) -> Array:
    r"""Gaussian error linear unit.

    .. math:: f(x) = x \Phi(x) = \frac{x}{2}\left(1 + \operatorname{erf}(x / \sqrt2)\right),
        \qquad f'(x) = \Phi(x) + x \varphi(x)

    where :math:`\Phi` and :math:`\varphi` are the standard normal CDF and density.
    Range: about :math:`[-0.17, \infty)`.

    Args:
        x: Input array.
        approximate: Use the tanh approximation
            :math:`\frac{x}{2}(1 + \tanh(\sqrt{2/\pi}(x + 0.044715 x^3)))`. Default ``False``,
            the exact form (as PyTorch and Keras); ``jax.nn.gelu`` defaults to ``True``.

    Example:
        >>> gelu(jnp.array([0.0, 10.0]))
        Array([ 0., 10.], dtype=float32)
    """
    return jax.nn.gelu(x, approximate=approximate)


def softplus(x: Array) -> Array:
    r"""Softplus, a smooth ReLU.

    .. math:: f(x) = \ln(1 + e^x), \qquad f'(x) = \sigma(x)

    Range: :math:`(0, \infty)`.

    Example:
        >>> softplus(jnp.array([0.0])) / jnp.log(2.0)
        Array([1.], dtype=float32)
    """
    return jax.nn.softplus(x)


def softsign(x: Array) -> Array:
    r"""Softsign.

    .. math:: f(x) = \frac{x}{1 + |x|}, \qquad f'(x) = \frac{1}{(1 + |x|)^2}

    Range: :math:`(-1, 1)`.

    Example:
        >>> softsign(jnp.array([-1.0, 3.0]))
        Array([-0.5 ,  0.75], dtype=float32)
    """
    return jax.nn.soft_sign(x)


def silu(x: Array) -> Array:
    r"""Sigmoid linear unit, also called swish.

    .. math:: f(x) = x \sigma(x), \qquad f'(x) = \sigma(x)\left(1 + x(1 - \sigma(x))\right)

    Range: about :math:`[-0.278, \infty)`.

    Example:
        >>> silu(jnp.array([0.0]))
        Array([0.], dtype=float32)
    """
    return jax.nn.silu(x)


swish = silu


def mish(x: Array) -> Array:
    r"""Mish.

    .. math:: f(x) = x \tanh(\operatorname{softplus}(x)), \qquad
        f'(x) = \tanh(s) + x \,\sigma(x)\,(1 - \tanh^2(s)), \ s = \operatorname{softplus}(x)

    Range: about :math:`[-0.309, \infty)`.

    Example:
        >>> mish(jnp.array([0.0]))
        Array([0.], dtype=float32)
    """
    return jax.nn.mish(x)


def softmax(x: Array, axis: int = -1) -> Array:
    r"""Softmax over ``axis``: non-negative values that sum to 1.

    .. math:: f(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \ m = \max_j x_j, \qquad
        \frac{\partial f_i}{\partial x_j} = f_i (\delta_{ij} - f_j)

    Range: :math:`(0, 1)`, each slice along ``axis`` summing to 1. Subtracting the maximum keeps
    it finite for large inputs.

    Args:
        x: Input array.
        axis: The axis to normalise over (default ``-1``, the features).

    Example:
        >>> softmax(jnp.array([[0.0, 0.0], [1000.0, 1000.0]]))
        Array([[0.5, 0.5],
               [0.5, 0.5]], dtype=float32)
    """
    return jax.nn.softmax(x, axis=axis)


def log_softmax(x: Array, axis: int = -1) -> Array:
    r"""Logarithm of the softmax over ``axis``, computed stably with log-sum-exp.

    .. math:: f(x)_i = x_i - m - \ln \sum_j e^{x_j - m}, \ m = \max_j x_j, \qquad
        \frac{\partial f_i}{\partial x_j} = \delta_{ij} - \operatorname{softmax}(x)_j

    Range: :math:`(-\infty, 0)`.

    Args:
        x: Input array.
        axis: The axis to normalise over (default ``-1``).

    Example:
        >>> log_softmax(jnp.array([0.0, 0.0])) / jnp.log(2.0)
        Array([-1., -1.], dtype=float32)
    """
    return jax.nn.log_softmax(x, axis=axis)


_BY_NAME: dict[str, Callable[..., Array]] = {
    "identity": identity,
    "linear": identity,
    "heaviside": heaviside,
    "step": heaviside,
    "sign": sign,
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "tanh": tanh,
    "arctan": arctan,
    "arsinh": arsinh,
    "erf": erf,
    "relu": relu,
    "relu6": relu6,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": selu,
    "gelu": gelu,
    "softplus": softplus,
    "softsign": softsign,
    "silu": silu,
    "swish": swish,
    "mish": mish,
    "softmax": softmax,
    "log_softmax": log_softmax,
}


def names() -> list[str]:
    """All names :func:`get` knows, sorted (aliases included: ``linear``, ``step``, ``swish``).

    Example:
        >>> "relu" in names(), len(names())
        (True, 24)
    """
    return sorted(_BY_NAME)


def get(activation: str | Callable[..., Array]) -> Callable[..., Array]:
    """Looks up an activation by name; a callable is returned as it is.

    Args:
        activation: A name such as ``"relu"`` (case-insensitive) or any array function.

    Returns:
        The activation function.

    Raises:
        ValueError: For an unknown name; the message lists the known names.
        TypeError: If ``activation`` is neither a string nor callable.

    Example:
        >>> get("relu") is relu, get("Swish") is silu
        (True, True)
    """
    if callable(activation):
        return activation
    return lookup(_BY_NAME, activation, kind="activation", example="relu")
