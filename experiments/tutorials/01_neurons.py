"""Tutorial 1: neurons, the perceptron rule, and why XOR needs a hidden layer

The lectures start from single neurons. A McCulloch-Pitts unit adds up its weighted binary
inputs and fires when the sum reaches a threshold; Rosenblatt's perceptron learns such a unit's
weights from examples. This page builds the logic gates, trains perceptrons, shows the rule
failing on XOR, and solves XOR with one hidden layer.
"""

# %%
# ## Logic gates from threshold units
#
# `mcculloch_pitts(x, weights, threshold)` fires (1) where `weights . x >= threshold`. With both
# weights 1, a threshold of 2 gives AND and a threshold of 1 gives OR; NOT is one input with
# weight -1 and threshold 0.

import numpy as np

from jaxnn.autodiff import neurons

truth = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
print("x1 x2 | AND OR | by hand: AND threshold 2, OR threshold 1")
for row, a, o in zip(truth, neurons.AND(truth), neurons.OR(truth), strict=True):
    by_hand = (int(row.sum() >= 2), int(row.sum() >= 1))
    print(f" {row[0]}  {row[1]} |  {a}   {o} | {by_hand}")
print("NOT 0, NOT 1 =", neurons.NOT(np.array([[0], [1]])).tolist())

# %%
# ## The perceptron learns AND
#
# The rule changes the weights only on a mistake: `w += lr * (y - y_hat) * x`, `b += lr * (y -
# y_hat)`. On linearly separable data it stops after finitely many mistakes (Novikoff's
# theorem). `errors` counts the mistakes in each pass over the four samples.

p = neurons.perceptron_train(truth, [0, 0, 0, 1])
print("mistakes per epoch:", p.errors)
print("converged:", p.converged, "| weights:", p.weights.tolist(), "bias:", p.bias)
print("predictions:", p.predict(truth).tolist())

# %%
# ## ... and never learns XOR
#
# XOR asks for `b < 0` (0,0 -> 0), `w2 + b >= 0` and `w1 + b >= 0` (0,1 and 1,0 -> 1) and
# `w1 + w2 + b < 0` (1,1 -> 0). Adding the middle two gives `w1 + w2 + 2b >= 0`, so
# `w1 + w2 + b >= -b > 0`, against the last: no weights exist, and the rule keeps making
# mistakes for ever.

p = neurons.perceptron_train(truth, [0, 1, 1, 0], epochs=1000)
print("converged after 1000 epochs:", p.converged)
print("mistakes in the last 8 epochs:", p.errors[-8:])

# %%
# ## One hidden layer solves it
#
# XOR is "OR and not AND": two threshold units in a hidden layer, one output unit on top.

print("xor_network:", neurons.xor_network(truth).tolist())
hidden = np.stack([neurons.OR(truth), neurons.AND(truth)], axis=1)
print("hidden layer (OR, AND):", hidden.tolist())
print("output = OR and not AND:", neurons.mcculloch_pitts(hidden, [1, -1], 1).tolist())

# %%
# ## Why the perceptron needs its own rule
#
# Backpropagation multiplies by each activation's derivative. The step's derivative is zero
# wherever it exists, so no gradient reaches the weights; a smooth activation such as the
# sigmoid passes a useful one. `RULES[name]` is the pair (forward, hand-written backward).

import jax.numpy as jnp

from jaxnn.autodiff import RULES

z = jnp.array([-2.0, -0.5, 0.5, 2.0])
for name in ("heaviside", "sigmoid"):
    forward, backward = RULES[name]
    y = forward(z)
    grad = backward(z, y, jnp.ones_like(z))
    print(f"{name:9}  f(z) = {[round(float(v), 3) for v in y]}")
    print(f"{'':9}  f'(z) = {[round(float(v), 3) for v in grad]}")
