# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Neural-network basics: backpropagation by hand, checked against `jax.grad`
#
# A forward pass keeps, for every layer, its input $h$, its pre-activation $z = hW + b$ and its
# output $a = f(z)$. The backward pass walks the layers in reverse with the chain rule:
#
# $$dz = f'(z) \odot da, \qquad dW = h^\top dz, \qquad db = \textstyle\sum_{\text{batch}} dz,
# \qquad dh = dz\,W^\top.$$
#
# This notebook does it by hand for a 2-3-2 network, compares every gradient with `jax.grad`,
# and then lets `jaxnn.autodiff` do the same for any depth, activation and loss.

# %%
import jax
import jax.numpy as jnp
import numpy as np

import jaxnn
from jaxnn.autodiff import compare, format_table
from jaxnn.layers import Dense

# %% [markdown]
# ## A 2-3-2 network, forward and backward, in float64

# %%
with jax.enable_x64(True):
    W1 = jnp.array([[0.2, -0.4, 0.1], [0.5, 0.3, -0.2]])
    b1 = jnp.array([0.0, 0.1, -0.1])
    W2 = jnp.array([[0.3, -0.3], [-0.2, 0.4], [0.6, 0.1]])
    b2 = jnp.array([0.05, -0.05])
    x = jnp.array([[1.0, 2.0], [-0.5, 1.5]])
    labels = jnp.array([1, 0])

    # forward, keeping what the backward pass needs
    z1 = x @ W1 + b1
    a1 = 1 / (1 + jnp.exp(-z1))  # sigmoid
    z2 = a1 @ W2 + b2
    p = jnp.exp(z2) / jnp.exp(z2).sum(1, keepdims=True)  # softmax
    loss = -jnp.mean(jnp.log(p[jnp.arange(2), labels]))  # cross-entropy, mean over the batch

    # backward, one chain-rule step per line
    dz2 = (p - jax.nn.one_hot(labels, 2, dtype=p.dtype)) / 2  # softmax + cross-entropy
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
print("dW1 by hand:\n", np.round(np.asarray(dW1), 6))
for name, diff in zip(["dW1", "db1", "dW2", "db2"], diffs, strict=True):
    print(f"{name}: largest |hand - jax.grad| = {diff:.1e}")
assert max(diffs) < 1e-12

# %% [markdown]
# ## The same gradient for a jaxnn model
#
# A jaxnn model's params are a dict, so `jax.grad` of a loss over them returns a dict of the
# same shape. For one `Dense` layer and the squared error, the hand formula is
# $dW = x^\top (y - t) \cdot 2 / N$.

# %%
model = jaxnn.serial(Dense(2))
_, params, state = model.init(jax.random.key(0), (-1, 3))
xs = jax.random.normal(jax.random.key(1), (5, 3))
targets = jax.random.normal(jax.random.key(2), (5, 2))


def mse(params):
    y, _ = model.apply(params, state, xs)
    return jnp.mean(jnp.sum((y - targets) ** 2, axis=1))


grads = jax.grad(mse)(params)
y, _ = model.apply(params, state, xs)
by_hand = xs.T @ (y - targets) * 2 / len(xs)
print("grads:", jax.tree.map(jnp.shape, grads))
print(
    f"largest |hand - jax.grad| for dense/w: {float(jnp.max(jnp.abs(by_hand - grads['dense']['w']))):.1e}"
)

# %% [markdown]
# ## Any depth, any activation: `jaxnn.autodiff.compare`
#
# The hand-written backward rules of `jaxnn.autodiff`, `jax.grad` and central finite
# differences, for a 3-4-3 network with GELU and a softmax cross-entropy. In float64
# the hand rules agree with `jax.grad` to rounding (about 1e-16); finite differences to about
# 1e-10, their truncation error.


# %%
def random_mlp(sizes, dtype, seed=0):
    key = jax.random.key(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        kw, kb = jax.random.split(jax.random.fold_in(key, i))
        layers.append({"w": jax.random.normal(kw, (a, b), dtype) / np.sqrt(a),
                       "b": 0.1 * jax.random.normal(kb, (b,), dtype)})  # fmt: skip
    return layers


with jax.enable_x64(True):
    mlp = random_mlp([3, 4, 3], jnp.float64)
    xs = jax.random.normal(jax.random.key(1), (6, 3), jnp.float64)
    rows = compare(mlp, xs, jnp.array([0, 1, 2, 1, 0, 2]), ["gelu", "identity"],
                   "softmax_cross_entropy")  # fmt: skip
print(format_table(rows))
