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
# # CNN basics: filters and feature maps
#
# A convolutional layer slides small filters over the image; each filter gives one feature map,
# large where the image looks like the filter. This notebook applies hand-made filters (edges,
# blur) with a jaxnn `Conv2D`, works out the output shapes, and then looks at the feature maps
# of a CNN trained on digits.

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxnn
from jaxnn.layers import Conv2D, Dense, Flatten, MaxPool

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: fewer epochs

# %% [markdown]
# ## An image and four filters
#
# A 28 x 28 image of a square and a bar. The filters: vertical edges and horizontal edges
# (Sobel), a 3 x 3 blur, and a sharpen filter.

# %%
image = np.zeros((28, 28), np.float32)
image[6:20, 6:20] = 1.0
image[22:25, 3:26] = 1.0
filters = {
    "vertical edges": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
}
kernel = np.stack([np.asarray(f, np.float32) for f in filters.values()], axis=-1)  # (3, 3, 4)

# %% [markdown]
# A `Conv2D` keeps its filters in `params["w"]`, shape `(kernel_h, kernel_w, C_in, C_out)`;
# put ours there, bias zero, and apply it to the image, shape `(N, H, W, C)`.

# %%
conv = Conv2D(4, 3, padding="same", use_bias=False)
_, params, state = conv.init(jax.random.key(0), (-1, 28, 28, 1))
print("params:", jax.tree.map(jnp.shape, params))
params = {"w": jnp.asarray(kernel)[:, :, None, :]}
maps, _ = conv.apply(params, state, jnp.asarray(image)[None, :, :, None])
print("feature maps:", maps.shape)

fig, axes = plt.subplots(1, 5, figsize=(13, 2.8))
axes[0].imshow(image, cmap="gray")
axes[0].set_title("input")
for ax, name, m in zip(axes[1:], filters, np.moveaxis(np.asarray(maps[0]), -1, 0), strict=True):
    ax.imshow(m, cmap="RdBu_r")
    ax.set_title(name)
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# The vertical-edge map is positive on the square's left edge and negative on its right edge;
# the bar, which has almost no vertical edges, nearly vanishes in it.
#
# ## Output shapes
#
# Without padding (`"valid"`) a $k \times k$ filter shrinks an $H$-pixel side to
# $\lfloor (H - k) / s \rfloor + 1$ with stride $s$; `"same"` padding keeps $\lceil H / s \rceil$.
# Pooling with a window of 2 halves each side. `init` computes the shapes without running
# anything:

# %%
for layer in (Conv2D(8, 3), Conv2D(8, 3, padding="same"), Conv2D(8, 5, strides=2), MaxPool(2)):
    shape, _, _ = layer.init(jax.random.key(0), (-1, 28, 28, 1))
    print(f"{layer.name:10s} {dict(layer.config or {}).get('padding', ''):6s} -> {shape}")

# %% [markdown]
# ## A trained CNN's own filters
#
# Train a small CNN on scikit-learn's 8 x 8 digits, then look at what its first layer computes
# for one digit: `jaxnn.intermediates` returns every layer's output.

# %%
(x, y), (x_test, y_test) = jaxnn.data.digits(images=True, test_fraction=0.2)
model = jaxnn.serial(Conv2D(8, 3, padding="same"), jax.nn.relu, MaxPool(2), Flatten(), Dense(10))
ts, _ = jaxnn.fit(model, (x, y), loss="softmax_cross_entropy", learning_rate=3e-3,
                  epochs=5 if QUICK else 20, batch_size=64, metrics=["accuracy"], verbose=0)  # fmt: skip
print(f"test accuracy {jaxnn.evaluate(model, ts, (x_test, y_test))['accuracy']:.3f}")
outputs = jaxnn.intermediates(model, ts.params, ts.state, x_test[:1])
print({name: tuple(v.shape) for name, v in outputs.items()})

fig, axes = plt.subplots(1, 9, figsize=(14, 1.9))
axes[0].imshow(x_test[0, :, :, 0], cmap="gray")
axes[0].set_title(f"digit {y_test[0]}")
for i, ax in enumerate(axes[1:]):
    ax.imshow(np.asarray(outputs["relu"][0, :, :, i]), cmap="viridis")
    ax.set_title(f"map {i}")
for ax in axes:
    ax.axis("off")
plt.show()
