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
# # An MLP on MNIST
#
# The handwritten digits of MNIST, 28 x 28 pixels, ten classes: flatten each image into 784
# numbers and train a multilayer perceptron on them. The notebook reads MNIST from jaxnn's data
# cache (downloading it the first time); where the files are not there and cannot be
# downloaded, it says where to put them and trains on the small 8 x 8 digits of scikit-learn
# instead, which is what the test run does.

# %%
import os

import jax
import numpy as np

import jaxnn
from jaxnn.layers import Dense, Dropout, Flatten

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: no download, few epochs
EPOCHS = 3 if QUICK else 15


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


(x, y), (x_test, y_test), source = load_images("mnist")
print("training on", source)

# %% [markdown]
# ## A few training images

# %%
jaxnn.viz.plot_samples(x[:16], y[:16], ncols=8)

# %% [markdown]
# ## The model: Flatten, 128 ReLU units, dropout, 10 logits

# %%
model = jaxnn.serial(Flatten(), Dense(128), jax.nn.relu, Dropout(0.2), Dense(10))
jaxnn.summary(model, (-1, *x.shape[1:]), print_fn=None)

# %%
ts, history = jaxnn.fit(
    model,
    (x, y),
    loss="softmax_cross_entropy",
    optimizer="adam",
    learning_rate=1e-3,
    epochs=EPOCHS,
    batch_size=128,
    validation_split=0.1,
    metrics=["accuracy"],
    verbose=0,
    callbacks=[jaxnn.callbacks.LivePlot()],
)
history

# %% [markdown]
# ## How good is it on images it has never seen?

# %%
test = jaxnn.evaluate(model, ts, (x_test, y_test))
print(f"{source}: test accuracy {test['accuracy']:.4f}")
scores = jaxnn.predict(model, ts, x_test)
jaxnn.viz.plot_confusion_matrix(y_test, scores)

# %% [markdown]
# Predictions on test images: a wrong one is marked in its title.

# %%
jaxnn.viz.plot_samples(x_test[:16], y_test[:16], scores[:16], ncols=8)
