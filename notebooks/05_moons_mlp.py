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
# # An MLP on the two moons
#
# Two interleaving half circles cannot be split by a line. A multilayer perceptron with two
# hidden layers learns a curved boundary. This notebook trains one with a validation split,
# watches the curves live, and draws the boundary it found.

# %%
import os

import jax

import jaxnn
from jaxnn.layers import Dense

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: fewer epochs
EPOCHS = 20 if QUICK else 100

# %%
(x, y), (x_test, y_test) = jaxnn.data.moons(600, noise=0.2, seed=0, test_fraction=0.25)
print(
    "training points:", x.shape, "test points:", x_test.shape, "classes:", sorted(set(y.tolist()))
)

# %% [markdown]
# ## The model: 2 - 16 - 16 - 2

# %%
model = jaxnn.serial(Dense(16), jax.nn.relu, Dense(16), jax.nn.relu, Dense(2))
jaxnn.summary(model, (-1, 2), print_fn=None)

# %% [markdown]
# ## Training with the curves drawn live
#
# `LivePlot` only reads the logs, so `fit` still runs many epochs per compiled call; the figure
# grows by those epochs at once.

# %%
ts, history = jaxnn.fit(
    model,
    (x, y),
    loss="softmax_cross_entropy",
    optimizer="adam",
    learning_rate=0.01,
    epochs=EPOCHS,
    batch_size=32,
    validation_split=0.2,
    metrics=["accuracy"],
    verbose=0,
    callbacks=[jaxnn.callbacks.LivePlot(every=5)],
)

# %%
test = jaxnn.evaluate(model, ts, (x_test, y_test))
print(f"test loss {test['loss']:.3f}, test accuracy {test['accuracy']:.3f}")
assert test["accuracy"] > 0.8

# %% [markdown]
# ## The decision boundary

# %%
jaxnn.viz.plot_decision_boundary(model, ts, x_test, y_test)

# %% [markdown]
# ## The same curves after training
#
# `jaxnn.viz.plot_history` draws the history's curves, one panel per metric.

# %%
jaxnn.viz.plot_history(history)
