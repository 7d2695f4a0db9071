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
# # The neuron, by hand
#
# An artificial neuron adds up its weighted inputs, adds a bias and passes the sum through an
# activation function: $a = f(w \cdot x + b)$. This notebook computes one by hand with NumPy,
# builds the logic gates of McCulloch and Pitts from threshold units, and checks that a jaxnn
# `Dense` layer computes exactly the same thing.

# %%
import jax
import jax.numpy as jnp
import numpy as np

import jaxnn
from jaxnn.autodiff import mcculloch_pitts
from jaxnn.layers import Dense

# %% [markdown]
# ## One neuron, written out
#
# Three inputs, three weights, one bias, and the sigmoid $\sigma(z) = 1 / (1 + e^{-z})$.

# %%
x = np.array([0.5, -1.0, 2.0])
w = np.array([0.4, 0.3, -0.2])
b = 0.1
z = w @ x + b  # 0.2 - 0.3 - 0.4 + 0.1 = -0.4
a = 1 / (1 + np.exp(-z))
print(f"z = w . x + b = {z:.3f}, a = sigmoid(z) = {a:.4f}")

# %% [markdown]
# ## The same neuron as a jaxnn layer
#
# `Dense(1, activation="sigmoid")` holds the weights in `params["w"]` with shape
# `(D_in, D_out)` and the bias in `params["b"]`. Put our numbers in and apply it.

# %%
neuron = Dense(1, activation="sigmoid")
out_shape, params, state = neuron.init(jax.random.key(0), (-1, 3))
print("shapes:", jax.tree.map(jnp.shape, params))
params = {"w": jnp.asarray(w, jnp.float32).reshape(3, 1), "b": jnp.array([b], jnp.float32)}
y, _ = neuron.apply(params, state, jnp.asarray(x, jnp.float32)[None])
print(f"jaxnn: {float(y[0, 0]):.4f}   by hand: {a:.4f}")
assert abs(float(y[0, 0]) - a) < 1e-6

# %% [markdown]
# ## Logic gates from threshold units
#
# A McCulloch-Pitts unit fires (1) when $w \cdot x \ge \theta$. With both weights 1, the
# threshold 2 gives AND and the threshold 1 gives OR; one input with weight -1 and
# threshold 0 gives NOT.

# %%
truth = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
and_ = mcculloch_pitts(truth, [1, 1], 2)
or_ = mcculloch_pitts(truth, [1, 1], 1)
not_ = mcculloch_pitts(np.array([[0], [1]]), [-1], 0)
print("x1 x2 | AND OR")
for row, p, q in zip(truth, and_, or_, strict=True):
    print(f" {row[0]}  {row[1]} |  {p}   {q}")
print("NOT 0, NOT 1:", not_.tolist())

# %% [markdown]
# ## Activation functions
#
# The step function of the threshold unit has no useful gradient; training by gradient descent
# needs smooth activations such as the sigmoid, tanh or ReLU. `jaxnn.viz.plot_activations`
# draws them with their derivatives; the figure shows inline.

# %%
jaxnn.viz.plot_activations(["heaviside", "sigmoid", "tanh", "relu"])
