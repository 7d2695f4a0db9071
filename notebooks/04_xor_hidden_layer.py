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
# # XOR needs a hidden layer
#
# One neuron draws one line, and no line separates XOR's ones from its zeros. A hidden layer
# bends the boundary: first by hand with threshold units, then by training, as the lecture does
# with Keras on the four rows of the truth table and on noisy XOR points.

# %%
import os

import jax.numpy as jnp
import numpy as np

import jaxnn
from jaxnn.autodiff import mcculloch_pitts, xor_network
from jaxnn.layers import Dense

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: fewer epochs

# %% [markdown]
# ## By hand: XOR = AND(OR, NAND)
#
# Two hidden threshold units compute OR and NAND of the inputs; the output unit ANDs them.

# %%
truth = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
hidden = np.stack([mcculloch_pitts(truth, [1, 1], 1), mcculloch_pitts(truth, [-1, -1], -1)], axis=1)
print("x1 x2 | OR NAND | XOR")
for row, h, out in zip(truth, hidden, xor_network(truth), strict=True):
    print(f" {row[0]}  {row[1]} |  {h[0]}   {h[1]}   |  {out}")

# %% [markdown]
# ## Trained: a 2-4-1 network on the truth table
#
# Sigmoid output, binary cross-entropy on the logit, Adam. Without the hidden layer the same
# training stays at 50% or 75%: four points, one line.

# %%
x4 = truth.astype(np.float32)
y4 = np.array([[0], [1], [1], [0]], dtype=np.float32)
results = {}
for name, model in {
    "no hidden layer": jaxnn.serial(Dense(1)),
    "hidden layer of 4 (tanh)": jaxnn.serial(Dense(4), jnp.tanh, Dense(1)),
}.items():
    ts, history = jaxnn.fit(
        model,
        (x4, y4),
        loss="sigmoid_binary_cross_entropy",
        learning_rate=0.05,
        epochs=300 if QUICK else 1000,
        batch_size=4,
        shuffle=False,
        verbose=0,
    )
    p = 1 / (1 + np.exp(-np.asarray(jaxnn.predict(model, ts, x4), np.float64).ravel()))
    results[name] = (p > 0.5).astype(int)
    print(
        f"{name}: probabilities {np.round(p, 3).tolist()}, "
        f"final loss {history.history['loss'][-1]:.3f}"
    )
assert results["hidden layer of 4 (tanh)"].tolist() == [0, 1, 1, 0]

# %% [markdown]
# ## Noisy XOR: the decision boundary
#
# `jaxnn.data.xor` draws points in four quadrants; a point's class is the XOR of the signs of
# its coordinates. `plot_decision_boundary` shades what the network predicts over the plane.

# %%
(x, y), (x_test, y_test) = jaxnn.data.xor(400, noise=0.1, seed=0, test_fraction=0.25)
model = jaxnn.serial(Dense(8), jnp.tanh, Dense(2))
ts, history = jaxnn.fit(
    model,
    (x, y),
    loss="softmax_cross_entropy",
    learning_rate=0.02,
    epochs=30 if QUICK else 100,
    batch_size=32,
    metrics=["accuracy"],
    verbose=0,
)
test = jaxnn.evaluate(model, ts, (x_test, y_test))
print(f"test accuracy {test['accuracy']:.3f}")
jaxnn.viz.plot_decision_boundary(model, ts, x_test, y_test)
