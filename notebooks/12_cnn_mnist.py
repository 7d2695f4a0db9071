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
# # A CNN on MNIST and Fashion-MNIST
#
# The lecture's Keras CNN: two blocks of convolution, ReLU and max-pooling, then a dense
# classifier. Convolutions share their weights over the image, so the CNN has fewer parameters
# than an MLP with the same first layer and keeps the pixels' neighbourhoods. Set `DATASET` to
# `"mnist"` or `"fashion_mnist"`; without the files (and without a network) the notebook says
# where to put them and uses scikit-learn's 8 x 8 digits as a stand-in.

# %%
import os

import jax
import numpy as np

import jaxnn
from jaxnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: no download, few epochs
EPOCHS = 2 if QUICK else 10
DATASET = "fashion_mnist"


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


(x, y), (x_test, y_test), source = load_images(DATASET)

# %% [markdown]
# ## The CNN
#
# `"same"` padding keeps each side until the pooling halves it: 28 -> 14 -> 7 on MNIST
# (8 -> 4 -> 2 on the stand-in).

# %%
cnn = jaxnn.serial(
    Conv2D(32, 3, padding="same"), jax.nn.relu, MaxPool(2),
    Conv2D(64, 3, padding="same"), jax.nn.relu, MaxPool(2),
    Flatten(), Dropout(0.3), Dense(128), jax.nn.relu, Dense(10),
)  # fmt: skip
jaxnn.summary(cnn, (-1, *x.shape[1:]), print_fn=None)

# %% [markdown]
# An MLP for comparison: its first layer alone has more weights than the whole CNN on MNIST.

# %%
mlp = jaxnn.serial(Flatten(), Dense(256), jax.nn.relu, Dense(128), jax.nn.relu, Dense(10))
print(f"MLP params: {jaxnn.summary(mlp, (-1, *x.shape[1:]), print_fn=None).params:,}")

# %%
results = {}
for name, model in (("CNN", cnn), ("MLP", mlp)):
    ts, history = jaxnn.fit(
        model,
        (x, y),
        loss="softmax_cross_entropy",
        learning_rate=1e-3,
        epochs=EPOCHS,
        batch_size=64,
        validation_split=0.1,
        metrics=["accuracy"],
        verbose=0,
        callbacks=[jaxnn.callbacks.LivePlot(["accuracy"])],
    )
    results[name] = jaxnn.evaluate(model, ts, (x_test, y_test))["accuracy"]
    if name == "CNN":
        cnn_state = ts
for name, accuracy in results.items():
    print(f"{source}, {name}: test accuracy {accuracy:.4f}")

# %% [markdown]
# ## Where the CNN is wrong

# %%
scores = np.asarray(jaxnn.predict(cnn, cnn_state, x_test))
jaxnn.viz.plot_confusion_matrix(y_test, scores, normalize=True)
