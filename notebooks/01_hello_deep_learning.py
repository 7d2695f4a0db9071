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
# # Hello, deep learning
#
# The lecture's first program: a network of one neuron learns the rule behind six pairs of
# numbers, `y = 2x - 1`, from the examples alone. Nobody tells it the rule; gradient descent
# finds a weight near 2 and a bias near -1.
#
# In jaxnn a layer is a value with two pure functions, `init` and `apply`; `jaxnn.fit` trains
# it the way Keras' `model.fit` does.

# %%
import os

import jax
import numpy as np

import jaxnn
from jaxnn.layers import Dense

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: fewer epochs
EPOCHS = 150 if QUICK else 500

# %% [markdown]
# ## The data: six examples of a rule

# %%
x = np.array([[-1.0], [0.0], [1.0], [2.0], [3.0], [4.0]], dtype=np.float32)
y = 2 * x - 1
print(np.hstack([x, y]))

# %% [markdown]
# ## The model: one Dense layer with one unit
#
# A notebook shows a layer as a table of its layers and arguments.

# %%
model = jaxnn.serial(Dense(1))
model

# %% [markdown]
# `jaxnn.summary` counts its parameters: one weight and one bias. With `print_fn=None` it only
# returns the summary, which the notebook shows as a table.

# %%
jaxnn.summary(model, (-1, 1), print_fn=None)

# %% [markdown]
# ## Training: mean squared error and plain SGD
#
# `LivePlot` redraws the loss curve in this cell's output while `fit` runs.

# %%
train_state, history = jaxnn.fit(
    model,
    (x, y),
    loss="mse",
    optimizer="sgd",
    learning_rate=0.05,
    epochs=EPOCHS,
    batch_size=6,
    verbose=0,
    callbacks=[jaxnn.callbacks.LivePlot(every=50)],
)

# %% [markdown]
# The history shows as a table in a notebook (the first and last epochs of a long run).

# %%
history

# %% [markdown]
# ## What did it learn?

# %%
w = float(train_state.params["dense"]["w"][0, 0])
b = float(train_state.params["dense"]["b"][0])
print(f"learned: y = {w:.3f} x {b:+.3f}   (the rule: y = 2 x - 1)")
print("prediction for x = 10:", float(jaxnn.predict(model, train_state, np.array([[10.0]]))[0, 0]))
assert abs(w - 2) < 0.1 and abs(b + 1) < 0.2, (w, b)

# %% [markdown]
# The prediction for 10 is close to 19 but not exactly 19: the network learned from six
# examples and is only very sure, not certain. The parameters are a plain dict of arrays:

# %%
jax.tree.map(np.shape, train_state.params)
