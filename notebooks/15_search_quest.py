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
# # The search quest: which hidden layers are best?
#
# The MLP lecture leaves an open question: a group found a 20-50-70-100-70-50-20 network for
# MNIST by trial and error, but what *are* the best hidden layer sizes? Answering it means
# training many networks, each several times, because one seed says little.
# `jaxnn.search` trains a grid of configurations over several seeds and reports each metric's
# mean and spread; networks that share an architecture train together in one compiled call.

# %%
import os

from IPython.display import Markdown, display

import jaxnn

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: a small grid
GRID = (
    {"width": [16, 64], "depth": [1]} if QUICK else {"width": [16, 32, 64, 128], "depth": [1, 2, 3]}
)
SEEDS, EPOCHS = (2, 4) if QUICK else (3, 30)

x, y = jaxnn.data.digits()
print(f"digits: {x.shape[0]} images of 64 pixels; grid {GRID}, {SEEDS} seeds, {EPOCHS} epochs")

# %% [markdown]
# ## A depth x width grid
#
# `{width}` and `{depth}` are placeholders the grid fills; `[ ... ]*N` repeats layers.

# %%
result = jaxnn.search(
    "[dense({width},relu)]*{depth} dense(10)",
    (x, y),
    grid=GRID,
    seeds=SEEDS,
    epochs=EPOCHS,
    batch_size=32,
    learning_rate=0.003,
    validation_split=0.2,
    loss="softmax_cross_entropy",
    metrics=["accuracy"],
    verbose=0,
)
print(f"{len(result.rows)} configurations in {result.groups} compiled groups")
display(Markdown(result.to_markdown()))

# %% [markdown]
# ## The width x depth heat map

# %%
result.plot_heatmap("width", "depth")

# %% [markdown]
# ## The lecture's network, for comparison

# %%
lecture = ("dense(20,relu) dense(50,relu) dense(70,relu) dense(100,relu) "
           "dense(70,relu) dense(50,relu) dense(20,relu) dense(10)")  # fmt: skip
point = jaxnn.search(lecture, (x, y), seeds=SEEDS, epochs=EPOCHS, batch_size=32,
                     learning_rate=0.003, validation_split=0.2,
                     loss="softmax_cross_entropy", metrics=["accuracy"], verbose=0)  # fmt: skip
row = point.rows[0]
best = max(result.rows, key=lambda r: r["val_accuracy_mean"])
print(
    f"20-50-70-100-70-50-20: val_accuracy {row['val_accuracy_mean']:.4f} ± {row['val_accuracy_std']:.4f}"
)
print(f"best of the grid ({best['depth']} x {best['width']}): "
      f"{best['val_accuracy_mean']:.4f} ± {best['val_accuracy_std']:.4f}")  # fmt: skip

# %% [markdown]
# Width matters more than depth on the digits, and the top networks often differ by less than
# their seeds' spread: a ranking from one seed each would be partly chance. The best network is
# kept: `result.best.model` and `result.best.train_state` go straight into `jaxnn.save_model`.
