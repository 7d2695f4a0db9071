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
# # TensorBoard on jaxnn's event files
#
# The lecture opens TensorBoard inside the notebook with `%load_ext tensorboard` and
# `%tensorboard --logdir ...`. jaxnn's `TensorBoard` callback writes the same event files as
# Keras' (through tensorboardX; TensorFlow is not needed): scalars under `logs/train` and
# `logs/validation`, one point per epoch, named `epoch_loss`, `epoch_accuracy`, ...
#
# This notebook trains with the callback, then reads the files back with TensorBoard's own
# reader, `EventAccumulator`, which is what the TensorBoard server uses.

# %%
import os
import tempfile
from pathlib import Path

import jax
import matplotlib.pyplot as plt

import jaxnn
from jaxnn.layers import Dense

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: fewer epochs
EPOCHS = 10 if QUICK else 50
log_dir = Path(tempfile.mkdtemp()) / "logs"

# %%
(x, y), _ = jaxnn.data.moons(600, noise=0.2, seed=0, test_fraction=0.25)
model = jaxnn.serial(Dense(16), jax.nn.relu, Dense(16), jax.nn.relu, Dense(2))
ts, history = jaxnn.fit(
    model,
    (x, y),
    loss="softmax_cross_entropy",
    learning_rate=0.01,
    epochs=EPOCHS,
    batch_size=32,
    validation_split=0.2,
    metrics=["accuracy"],
    verbose=0,
    callbacks=[jaxnn.callbacks.TensorBoard(log_dir)],
)
for path in sorted(log_dir.rglob("events.out.tfevents.*")):
    print(path.relative_to(log_dir))

# %% [markdown]
# ## Reading the event files with TensorBoard's reader

# %%
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

curves = {}
for split in ("train", "validation"):
    events = EventAccumulator(str(log_dir / split))
    events.Reload()
    print(split, "scalars:", events.Tags()["scalars"])
    for tag in events.Tags()["scalars"]:
        curves[(split, tag)] = [(e.step, e.value) for e in events.Scalars(tag)]
loss = curves[("train", "epoch_loss")]
print("train epoch_loss, first and last:", loss[0], loss[-1])
assert [round(v, 5) for _, v in loss] == [round(v, 5) for v in history.history["loss"]]

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for ax, tag in zip(axes, ("epoch_loss", "epoch_accuracy"), strict=True):
    for split in ("train", "validation"):
        steps, values = zip(*curves[(split, tag)], strict=True)
        ax.plot(steps, values, label=split)
    ax.set_title(f"{tag} (read back by TensorBoard)")
    ax.set_xlabel("epoch")
    ax.legend()
plt.show()

# %% [markdown]
# ## TensorBoard itself, in the notebook
#
# With the `tensorboard` package installed, these two lines open the dashboard in the cell
# (the test run and the documentation site skip them: they start a server):
#
# ```
# %load_ext tensorboard
# %tensorboard --logdir {log_dir}
# ```

# %%
if not QUICK:
    from IPython import get_ipython

    get_ipython().run_line_magic("load_ext", "tensorboard")
    get_ipython().run_line_magic("tensorboard", f"--logdir {log_dir}")
