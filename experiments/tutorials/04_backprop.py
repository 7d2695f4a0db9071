"""Tutorial 4: backpropagation through an MLP, written out, checked against jax.grad

A network's forward pass keeps, for every layer, its input h, its pre-activation z = h W + b and
its output a = f(z). The backward pass walks the layers in reverse with the chain rule:

    dz = f'(z) * da        dW = h^T dz        db = sum of dz over the batch        dh = dz W^T

This page does it by hand for a 2-3-2 network, then lets `jaxnn.autodiff` do it for any depth,
every activation and loss, and compares with `jax.grad` and finite differences.
"""

# %%
# ## A 2-3-2 network by hand
#
# Sigmoid hidden layer, linear output, softmax cross-entropy on two samples. The loss's gradient
# with respect to the logits is (softmax - one_hot) / N; from there, four lines per layer.

import jax
import jax.numpy as jnp
import numpy as np

with jax.enable_x64(True):
    W1 = jnp.array([[0.2, -0.4, 0.1], [0.5, 0.3, -0.2]])
    b1 = jnp.array([0.0, 0.1, -0.1])
    W2 = jnp.array([[0.3, -0.3], [-0.2, 0.4], [0.6, 0.1]])
    b2 = jnp.array([0.05, -0.05])
    x = jnp.array([[1.0, 2.0], [-0.5, 1.5]])
    labels = jnp.array([1, 0])

    # forward, keeping what the backward pass needs
    z1 = x @ W1 + b1
    a1 = 1 / (1 + jnp.exp(-z1))
    z2 = a1 @ W2 + b2
    p = jnp.exp(z2) / jnp.exp(z2).sum(1, keepdims=True)
    loss = -jnp.mean(jnp.log(p[jnp.arange(2), labels]))

    # backward, one chain-rule step per line
    dz2 = (p - jax.nn.one_hot(labels, 2, dtype=p.dtype)) / 2
    dW2, db2 = a1.T @ dz2, dz2.sum(0)
    da1 = dz2 @ W2.T
    dz1 = da1 * a1 * (1 - a1)  # sigmoid'(z) = a (1 - a)
    dW1, db1 = x.T @ dz1, dz1.sum(0)

    def loss_fn(params):
        w1, c1, w2, c2 = params
        logits = jax.nn.sigmoid(x @ w1 + c1) @ w2 + c2
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(2), labels])

    auto = jax.grad(loss_fn)((W1, b1, W2, b2))
    diffs = [
        float(jnp.max(jnp.abs(h - r))) for h, r in zip((dW1, db1, dW2, db2), auto, strict=True)
    ]

print(f"loss = {float(loss):.6f}")
print("dW1 by hand:")
print(np.round(np.asarray(dW1), 6))
for name, diff in zip(["dW1", "db1", "dW2", "db2"], diffs, strict=True):
    print(f"{name}: largest |hand - jax.grad| = {diff:.1e}")

# %%
# ## Any depth: `loss_and_grads` and `compare`
#
# `mlp_forward` keeps the cache `[(h, z, a), ...]`, `mlp_backward` runs the four lines above for
# every layer with each activation's hand-written derivative (`RULES[name][1]`), and `compare`
# puts the result beside `jax.grad` and central finite differences, parameter by parameter.
# `python -m jaxnn.autodiff` prints this table for a default network.

from jaxnn.autodiff import compare, format_table


def random_mlp(sizes, dtype, seed=0):
    key = jax.random.key(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        kw, kb = jax.random.split(jax.random.fold_in(key, i))
        layers.append(
            {
                "w": jax.random.normal(kw, (a, b), dtype) / np.sqrt(a),
                "b": 0.1 * jax.random.normal(kb, (b,), dtype),
            }
        )
    return layers


with jax.enable_x64(True):
    params = random_mlp([3, 5, 4, 3], jnp.float64)
    xs = jax.random.normal(jax.random.key(1), (6, 3), jnp.float64)
    ys = jnp.array([0, 1, 2, 1, 0, 2])
    rows = compare(params, xs, ys, ["tanh", "gelu", "identity"], "softmax_cross_entropy")
print("float64, a 3-5-4-3 network (tanh, gelu, identity), softmax cross-entropy:")
print(format_table(rows))

# %%
# In float32 the hand-written pass and `jax.grad` still agree to rounding (about 1e-7 relative);
# finite differences do not, because a step small enough for the O(eps^2) error drowns the
# difference f(x + eps) - f(x - eps) in float32 rounding.

params32 = random_mlp([3, 5, 4, 3], jnp.float32)
xs32 = jax.random.normal(jax.random.key(1), (6, 3), jnp.float32)
rows = compare(
    params32,
    xs32,
    jnp.array([0, 1, 2, 1, 0, 2]),
    ["tanh", "gelu", "identity"],
    "softmax_cross_entropy",
    epsilon=1e-3,
)
print("float32:")
print(format_table(rows))

# %%
# ## Every activation, every loss
#
# Every activation in `RULES` has its derivative written by hand next to its forward rule
# (`jaxnn/autodiff/activations.py`). The reference below is written independently, from
# `jaxnn.activations` and `jaxnn.losses`, and differentiated by `jax.grad`. Each activation is
# the hidden layer of a 3-4-2 network under the squared error, then each loss with tanh; the
# largest relative difference over all parameters, in float64 (the test suite checks all 84
# activation/loss pairs, in float32 and float64):

import jaxnn
from jaxnn.autodiff import LOSSES, RULES, loss_and_grads


def reference_loss(params, x, target, activations, loss_name):
    h = x
    for layer, name in zip(params, activations, strict=True):
        h = jaxnn.activations.get(name)(h @ layer["w"] + layer["b"][None, :])
    return LOSSES[loss_name].reference(h, target)


def worst_relative(params, x, target, activations, loss_name):
    _, hand = loss_and_grads(params, x, target, activations, loss_name)
    ref = jax.grad(reference_loss)(params, x, target, activations, loss_name)
    return max(
        float(jnp.max(jnp.abs(h[k] - r[k])) / max(float(jnp.max(jnp.abs(r[k]))), 1e-300))
        for h, r in zip(hand, ref, strict=True)
        for k in ("w", "b")
    )


with jax.enable_x64(True):
    params = random_mlp([3, 4, 2], jnp.float64, seed=3)
    xs = jax.random.normal(jax.random.key(4), (5, 3), jnp.float64)
    targets = {
        "mse": jax.random.normal(jax.random.key(5), (5, 2), jnp.float64),
        "mae": jax.random.normal(jax.random.key(6), (5, 2), jnp.float64),
        "binary_cross_entropy": (jax.random.uniform(jax.random.key(7), (5, 2)) > 0.5) * 1.0,
        "softmax_cross_entropy": jnp.array([0, 1, 1, 0, 1]),
    }
    by_activation = {
        name: worst_relative(params, xs, targets["mse"], [name, "identity"], "mse")
        for name in RULES
    }
    by_loss = {
        name: worst_relative(params, xs, targets[name], ["tanh", "identity"], name)
        for name in LOSSES
    }
line = [f"{name} {rel:.0e}" for name, rel in by_activation.items()]
print(f"{len(RULES)} activations (hidden layer; squared error):")
for i in range(0, len(line), 4):
    print("  " + ", ".join(line[i : i + 4]))
print("4 losses (tanh hidden layer):", ", ".join(f"{k} {v:.0e}" for k, v in by_loss.items()))
print("all below 1e-10:", max([*by_activation.values(), *by_loss.values()]) < 1e-10)

# %%
# The step functions pass no gradient: with `heaviside` or `sign` in the hidden layer, its
# weights get exactly zero from both, and only the output layer learns.

with jax.enable_x64(True):
    _, hand = loss_and_grads(params, xs, targets["mse"], ["heaviside", "identity"], "mse")
    first, last = (float(jnp.max(jnp.abs(layer["w"]))) for layer in hand)
print(f"heaviside hidden layer: max |dL/dW1| = {first}; output layer: max |dL/dW2| = {last:.4f}")

# %%
# ## Mistakes get a clear message
#
# Shapes that do not chain, an activation without a hand-written derivative, labels that do not
# fit the loss:

bad_inputs = [
    (
        [{"w": jnp.ones((2, 3)), "b": jnp.ones(3)}, {"w": jnp.ones((4, 1)), "b": jnp.ones(1)}],
        ["tanh", "identity"],
        jnp.zeros((1, 1)),
        "mse",
    ),
    ([{"w": jnp.ones((2, 1)), "b": jnp.ones(1)}], ["swish_v2"], jnp.zeros((1, 1)), "mse"),
    (
        [{"w": jnp.ones((2, 3)), "b": jnp.ones(3)}],
        ["identity"],
        jnp.array([0.5]),
        "softmax_cross_entropy",
    ),
]
for params, acts, target, loss_name in bad_inputs:
    try:
        loss_and_grads(params, jnp.ones((1, 2)), target, acts, loss_name)
    except ValueError as error:
        print(f"ValueError: {error}\n")
