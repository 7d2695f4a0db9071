r"""Backpropagation for MLPs written out by hand, and a three-way check against ``jax.grad``.

An MLP here is a list of layers ``{"w": (D_in, D_out), "b": (D_out,)}`` with one activation name
per layer (the last one is the output activation, often ``"identity"``). The forward pass keeps,
per layer, its input :math:`h`, pre-activation :math:`z = h W + b` and output :math:`a = f(z)`.
The backward pass walks the layers in reverse with the chain rule:

.. math::
    \bar z = \text{activation backward}(z, a, \bar a), \quad
    \bar W = h^\top \bar z, \quad \bar b = \textstyle\sum_n \bar z_n, \quad \bar h = \bar z W^\top

starting from :math:`\bar a = \partial L / \partial \hat y` given by the loss's backward rule.

:func:`compare` runs the hand-written pass, ``jax.grad`` of the same network built from
:mod:`jaxnn.activations` and :mod:`jaxnn.losses`, and central finite differences, and reports per
parameter the largest absolute and relative differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxnn import activations as jaxnn_activations
from jaxnn import losses as jaxnn_losses
from jaxnn.autodiff.activations import RULES
from jaxnn.types import Array

__all__ = [
    "LOSSES",
    "compare",
    "format_table",
    "loss_and_grads",
    "mlp_backward",
    "mlp_forward",
]

Params = list[dict[str, Array]]


# ------------------------------------------------------------------------------------------------
# Losses: forward rule, then backward rule (gradient with respect to the predictions)


def mse_forward(pred: Array, target: Array) -> Array:
    r""":math:`L = \frac{1}{M}\sum (\hat y - y)^2` over all :math:`M` elements."""
    return jnp.mean((pred - target) ** 2)


def mse_backward(pred: Array, target: Array) -> Array:
    r""":math:`\partial L / \partial \hat y = 2(\hat y - y) / M`."""
    return 2.0 * (pred - target) / pred.size


def mae_forward(pred: Array, target: Array) -> Array:
    r""":math:`L = \frac{1}{M}\sum |\hat y - y|`."""
    return jnp.mean(jnp.abs(pred - target))


def mae_backward(pred: Array, target: Array) -> Array:
    r""":math:`\partial L / \partial \hat y = \operatorname{sign}(\hat y - y) / M`."""
    return jnp.sign(pred - target) / pred.size


def binary_cross_entropy_forward(logits: Array, target: Array) -> Array:
    r"""Sigmoid and binary cross-entropy fused, from logits :math:`z`.

    :math:`L = \frac{1}{M}\sum \max(z, 0) - z y + \ln(1 + e^{-|z|})`.
    """
    return jnp.mean(
        jnp.maximum(logits, 0.0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    )


def binary_cross_entropy_backward(logits: Array, target: Array) -> Array:
    r""":math:`\partial L / \partial z = (\sigma(z) - y) / M`: the sigmoid's derivative cancels."""
    return (0.5 * (jnp.tanh(0.5 * logits) + 1.0) - target) / logits.size


def softmax_cross_entropy_forward(logits: Array, labels: Array) -> Array:
    r"""Softmax and cross-entropy fused, integer labels.

    :math:`L = \frac{1}{N}\sum_n \operatorname{logsumexp}(z_n) - z_{n, y_n}`.
    """
    m = jnp.max(logits, axis=-1, keepdims=True)
    lse = m[:, 0] + jnp.log(jnp.sum(jnp.exp(logits - m), axis=-1))
    return jnp.mean(lse - jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0])


def softmax_cross_entropy_backward(logits: Array, labels: Array) -> Array:
    r"""The softmax cross-entropy's gradient.

    :math:`\partial L / \partial z_n = (\operatorname{softmax}(z_n) - \text{onehot}(y_n)) / N`.
    """
    e = jnp.exp(logits - jnp.max(logits, axis=-1, keepdims=True))
    probs = e / jnp.sum(e, axis=-1, keepdims=True)
    return (probs - jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)) / logits.shape[0]


class _Loss(NamedTuple):
    forward: Any
    backward: Any
    reference: Any  # the jaxnn.losses function that jax.grad differentiates


LOSSES: dict[str, _Loss] = {
    "mse": _Loss(mse_forward, mse_backward, jaxnn_losses.mse),
    "mae": _Loss(mae_forward, mae_backward, jaxnn_losses.mae),
    "binary_cross_entropy": _Loss(
        binary_cross_entropy_forward,
        binary_cross_entropy_backward,
        jaxnn_losses.sigmoid_binary_cross_entropy,
    ),
    "softmax_cross_entropy": _Loss(
        softmax_cross_entropy_forward,
        softmax_cross_entropy_backward,
        jaxnn_losses.softmax_cross_entropy,
    ),
}


# ------------------------------------------------------------------------------------------------
# Checks


def _check_mlp(params: Params, activations: Sequence[str]) -> None:
    if not isinstance(params, (list, tuple)) or not params:
        raise ValueError(
            f"autodiff: params must be a non-empty list of layers {{'w': (D_in, D_out), 'b': "
            f"(D_out,)}}; got {type(params).__name__}."
        )
    for i, layer in enumerate(params):
        w, b = (
            layer.get("w") if isinstance(layer, dict) else None,
            layer.get("b") if isinstance(layer, dict) else None,
        )
        if w is None or b is None or np.ndim(w) != 2 or np.shape(b) != (np.shape(w)[1],):
            got = {k: np.shape(v) for k, v in layer.items()} if isinstance(layer, dict) else layer
            raise ValueError(
                f"autodiff: layer {i} must be {{'w': (D_in, D_out), 'b': (D_out,)}}; got {got!r}."
            )
        if i and np.shape(w)[0] != np.shape(params[i - 1]["w"])[1]:
            raise ValueError(
                f"autodiff: the params do not form an MLP: layer {i - 1} gives "
                f"{np.shape(params[i - 1]['w'])[1]} features but layer {i}'s w expects "
                f"{np.shape(w)[0]} (w shapes {[np.shape(p['w']) for p in params]})."
            )
    if len(activations) != len(params):
        raise ValueError(
            f"autodiff: give one activation per layer ({len(params)}); got {len(activations)}: "
            f"{list(activations)}."
        )
    for name in activations:
        if name not in RULES:
            raise ValueError(
                f"autodiff: no hand-written derivative for activation {name!r}; those with one "
                f"are {', '.join(sorted(RULES))}."
            )


def _check_loss(loss: str, pred_shape: tuple, target: Array) -> None:
    if loss not in LOSSES:
        raise ValueError(
            f"autodiff: unknown loss {loss!r}; the hand-written ones are {sorted(LOSSES)}."
        )
    if loss == "softmax_cross_entropy":
        if (
            not jnp.issubdtype(jnp.asarray(target).dtype, jnp.integer)
            or np.shape(target) != pred_shape[:1]
        ):
            dtype, shape = jnp.asarray(target).dtype, np.shape(target)
            raise ValueError(
                f"autodiff: softmax_cross_entropy needs integer labels of shape {pred_shape[:1]} "
                f"for outputs {pred_shape}; got {dtype} of shape {shape}."
            )
        if pred_shape[1] < 2:
            raise ValueError(
                f"autodiff: softmax_cross_entropy needs >= 2 outputs; the MLP gives "
                f"{pred_shape[1]}."
            )
    elif np.shape(target) != pred_shape:
        raise ValueError(
            f"autodiff: {loss} needs targets of the output's shape {pred_shape}; got "
            f"{np.shape(target)}."
        )


# ------------------------------------------------------------------------------------------------
# The MLP: forward pass that keeps what the backward pass needs, then the backward pass


def mlp_forward(params: Params, x: Array, activations: Sequence[str]) -> tuple[Array, list]:
    """Runs the MLP; returns the output and the cache ``[(h, z, a), ...]`` of every layer.

    Example:
        >>> params = [{"w": jnp.ones((2, 3)), "b": jnp.zeros(3)},
        ...           {"w": jnp.ones((3, 1)), "b": jnp.zeros(1)}]
        >>> y, cache = mlp_forward(params, jnp.array([[1.0, -1.0]]), ["relu", "identity"])
        >>> y.tolist(), len(cache)
        ([[0.0]], 2)
    """
    _check_mlp(params, activations)
    cache, h = [], x
    for layer, name in zip(params, activations, strict=True):
        z = h @ layer["w"] + layer["b"][None, :]
        a = RULES[name][0](z)
        cache.append((h, z, a))
        h = a
    return h, cache


def mlp_backward(
    params: Params, cache: list, grad_out: Array, activations: Sequence[str]
) -> Params:
    r"""Backpropagates :math:`\partial L / \partial \hat y` through the MLP; returns the gradients.

    Example:
        >>> params = [{"w": jnp.array([[2.0]]), "b": jnp.array([0.5])}]
        >>> _, cache = mlp_forward(params, jnp.array([[3.0]]), ["identity"])
        >>> mlp_backward(params, cache, jnp.array([[1.0]]), ["identity"])  # dy/dw = x, dy/db = 1
        [{'w': Array([[3.]], dtype=float32), 'b': Array([1.], dtype=float32)}]
    """
    grads: list[dict[str, Array]] = [{} for _ in params]
    g = grad_out
    for i in reversed(range(len(params))):
        h, z, a = cache[i]
        gz = RULES[activations[i]][1](z, a, g)
        grads[i] = {"w": h.T @ gz, "b": jnp.sum(gz, axis=0)}
        g = gz @ params[i]["w"].T
    return grads


def loss_and_grads(
    params: Params, x: Array, target: Array, activations: Sequence[str], loss: str
) -> tuple[Array, Params]:
    """The loss and its gradients with respect to every parameter, by hand-written backprop.

    Args:
        params: ``[{"w": (D_in, D_out), "b": (D_out,)}, ...]``.
        x: Inputs ``(N, D_0)``.
        target: Targets of the output's shape, or integer labels ``(N,)`` for
            ``softmax_cross_entropy``.
        activations: One name per layer (see :data:`jaxnn.autodiff.activations.RULES`).
        loss: ``"mse"``, ``"mae"``, ``"binary_cross_entropy"`` or ``"softmax_cross_entropy"``
            (the last two take logits: the output activation is usually ``"identity"``).

    Returns:
        ``(loss value, gradients shaped like params)``.

    Raises:
        ValueError: If the params do not form an MLP, an activation has no hand-written
            derivative (those that have one are listed), or the targets do not fit the loss.
    """
    pred, cache = mlp_forward(params, x, activations)
    _check_loss(loss, pred.shape, target)
    rule = LOSSES[loss]
    return rule.forward(pred, target), mlp_backward(
        params, cache, rule.backward(pred, target), activations
    )


# ------------------------------------------------------------------------------------------------
# Three-way comparison


def _reference_loss(
    params: Params, x: Array, target: Array, activations: Sequence[str], loss: str
) -> Array:
    """The same network from jaxnn.activations and jaxnn.losses, for jax.grad."""
    h = x
    for layer, name in zip(params, activations, strict=True):
        h = jaxnn_activations.get(name)(h @ layer["w"] + layer["b"][None, :])
    return LOSSES[loss].reference(h, target)


class Row(NamedTuple):
    """One line of :func:`compare`'s table."""

    parameter: str
    shape: tuple[int, ...]
    hand_abs: float
    hand_rel: float
    fd_abs: float
    fd_rel: float


def _diff(a: Array, b: Array) -> tuple[float, float]:
    got, want = np.asarray(a, np.float64), np.asarray(b, np.float64)
    absolute = float(np.max(np.abs(got - want))) if got.size else 0.0
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    return absolute, (absolute / scale if scale > 0 else absolute)


def compare(
    params: Params,
    x: Array,
    target: Array,
    activations: Sequence[str],
    loss: str,
    *,
    epsilon: float = 1e-6,
) -> list[Row]:
    r"""Gradients three ways: hand-written backprop, ``jax.grad``, central finite differences.

    Finite differences perturb every parameter by :math:`\pm\epsilon` and use the reference
    network; their error is :math:`O(\epsilon^2)` plus rounding, so run in float64 for a
    meaningful comparison (``jax.enable_x64(True)``).

    Args:
        params: The MLP's layers, as :func:`loss_and_grads`.
        x: Inputs ``(N, D_0)``.
        target: Targets, as :func:`loss_and_grads`.
        activations: One name per layer.
        loss: A loss name from :data:`LOSSES`.
        epsilon: The finite-difference step (default 1e-6).

    Returns:
        One :class:`Row` per parameter array: the largest absolute and relative differences of
        the hand-written gradient and of the finite differences from ``jax.grad``.

    Example:
        >>> import jax
        >>> with jax.enable_x64(True):
        ...     params = [{"w": jnp.array([[0.5, -0.3]]), "b": jnp.array([0.1, 0.2])},
        ...               {"w": jnp.array([[1.0], [-2.0]]), "b": jnp.array([0.0])}]
        ...     rows = compare(params, jnp.array([[1.0], [2.0]]), jnp.array([[0.0], [1.0]]),
        ...                    ["tanh", "identity"], "mse")
        >>> [r.parameter for r in rows], max(r.hand_rel for r in rows) < 1e-12
        (['layer 0 w', 'layer 0 b', 'layer 1 w', 'layer 1 b'], True)
    """
    _, hand = loss_and_grads(params, x, target, activations, loss)
    reference = jax.grad(_reference_loss)(params, x, target, activations, loss)
    flat, unravel = ravel_pytree(params)
    f = jax.jit(lambda v: _reference_loss(unravel(v), x, target, activations, loss))
    steps = jnp.eye(flat.size, dtype=flat.dtype) * epsilon
    values = jax.vmap(lambda e: f(flat + e) - f(flat - e))(steps) / (2 * epsilon)
    numeric = unravel(values)
    rows = []
    for i, (h, r, n) in enumerate(zip(hand, reference, numeric, strict=True)):
        for key in ("w", "b"):
            rows.append(
                Row(
                    f"layer {i} {key}",
                    tuple(r[key].shape),
                    *_diff(h[key], r[key]),
                    *_diff(n[key], r[key]),
                )
            )
    return rows


def format_table(rows: Sequence[Row]) -> str:
    """The comparison as a text table, differences in scientific notation.

    Example:
        >>> print(format_table([Row("layer 0 w", (2, 3), 1e-17, 2e-16, 3e-10, 4e-9)]))
        parameter  shape   |hand - jax.grad|  relative   |finite diff - jax.grad|  relative
        layer 0 w  (2, 3)  1.00e-17           2.00e-16   3.00e-10                  4.00e-09
    """
    header = (
        "parameter",
        "shape",
        "|hand - jax.grad|",
        "relative",
        "|finite diff - jax.grad|",
        "relative",
    )
    body = [
        (
            r.parameter,
            str(r.shape),
            f"{r.hand_abs:.2e}",
            f"{r.hand_rel:.2e}",
            f"{r.fd_abs:.2e}",
            f"{r.fd_rel:.2e}",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *body]
    )
