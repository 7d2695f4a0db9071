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
# # Fashion-MNIST, the Keras way
#
# The lecture trains Keras on Zalando's Fashion-MNIST with `compile`, `fit`, `evaluate` and
# `predict`. In jaxnn the same steps are function calls: `fit` takes the loss, optimizer and
# metrics that `compile` would, and returns the trained state and the history.
#
# | Keras | jaxnn |
# | --- | --- |
# | `model.compile(optimizer="adam", loss=..., metrics=["accuracy"])` | arguments of `jaxnn.fit` |
# | `model.fit(x, y, epochs=..., validation_split=0.1)` | `ts, history = jaxnn.fit(model, (x, y), ...)` |
# | `model.evaluate(x_test, y_test)` | `jaxnn.evaluate(model, ts, (x_test, y_test))` |
# | `model.predict(x_test)` | `jaxnn.predict(model, ts, x_test)` |
# | `model.save("m.keras")` | `jaxnn.save_model("m.jaxnn", model, ts)` |
#
# Without the Fashion-MNIST files (and without a network to fetch them) the notebook says where
# to put them and trains on scikit-learn's 8 x 8 digits instead.

# %%
import os
import tempfile
from pathlib import Path

import jax
import numpy as np

import jaxnn
from jaxnn.layers import Dense, Flatten

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: no download, few epochs
EPOCHS = 3 if QUICK else 20
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # fmt: skip


def load_images(name):
    """The set's images as float32 (N, H, W, 1) in [0, 1] and int32 labels, or a stand-in."""
    try:  # the cache folder is $JAXNN_DATA or ~/.cache/jaxnn
        (x, y), (x_test, y_test) = getattr(jaxnn.data, name)(download=not QUICK)
    except OSError as error:  # not on this machine and not downloadable: it says where to put it
        print(f"{name} is not on this machine. {error}")
        print("Using a stand-in: the 1,797 8x8 digits that ship with scikit-learn.")
        (x, y), (x_test, y_test) = jaxnn.data.digits(images=True, test_fraction=0.2)
        return (x, y), (x_test, y_test), "the digits (stand-in)"
    x, x_test = (a[..., None].astype(np.float32) / 255 for a in (x, x_test))
    y, y_test = y.astype(np.int32), y_test.astype(np.int32)
    if QUICK:  # the test run trains on a slice
        x, y, x_test, y_test = x[:2000], y[:2000], x_test[:500], y_test[:500]
    print(f"{name}: {len(x):,} training and {len(x_test):,} test images, {x.shape[1:]}")
    return (x, y), (x_test, y_test), name


(x, y), (x_test, y_test), source = load_images("fashion_mnist")
names = CLASSES if source == "fashion_mnist" else [str(d) for d in range(10)]
jaxnn.viz.plot_samples(x[:16], y[:16], ncols=8, class_names=names)

# %% [markdown]
# ## Model and fit
#
# `verbose=1` shows a progress bar per epoch, as Keras does; in a notebook it is a widget.
# `EarlyStopping` stops when the validation loss has not improved for three epochs and restores
# the best weights.

# %%
model = jaxnn.serial(Flatten(), Dense(128, activation="relu"), Dense(10))
ts, history = jaxnn.fit(
    model,
    (x, y),
    loss="softmax_cross_entropy",
    optimizer="adam",
    learning_rate=1e-3,
    epochs=EPOCHS,
    batch_size=64,
    validation_split=0.1,
    metrics=["accuracy"],
    callbacks=[jaxnn.callbacks.EarlyStopping(patience=3, restore_best_weights=True)],
    verbose=1,
)

# %%
jaxnn.viz.plot_history(history)

# %% [markdown]
# ## Evaluate and predict

# %%
test = jaxnn.evaluate(model, ts, (x_test, y_test))
print(f"{source}: test loss {test['loss']:.4f}, test accuracy {test['accuracy']:.4f}")
probabilities = jax.nn.softmax(jaxnn.predict(model, ts, x_test[:5]))
for p, label in zip(np.asarray(probabilities), y_test[:5], strict=True):
    print(f"predicted {names[int(p.argmax())]!r} ({p.max():.2f}), true {names[int(label)]!r}")

# %% [markdown]
# ## Save the whole model, load it back
#
# One file holds the architecture, the weights and the optimizer state; `load_model` needs no
# code. A notebook shows the loaded model as a table.

# %%
path = Path(tempfile.mkdtemp()) / "fashion.jaxnn"
jaxnn.save_model(path, model, ts)
saved = jaxnn.load_model(path)
again = jaxnn.evaluate(
    saved.model,
    saved.train_state,
    (x_test, y_test),
    loss="softmax_cross_entropy",
    metrics=["accuracy"],
)
assert abs(again["accuracy"] - test["accuracy"]) < 1e-6
saved
