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
# # A recurrent model: predicting a sequence
#
# A recurrent layer reads a sequence one step at a time and carries a hidden state from step to
# step: $h_t = \tanh(x_t W_x + h_{t-1} W_h + b)$. Here a `SimpleRNN` and an `LSTM` read 30 steps
# of a noisy sum of two sine waves and predict the next value. A model that only repeats the
# last value it saw is the baseline to beat.

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxnn
from jaxnn.layers import LSTM, Dense, SimpleRNN

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: fewer epochs
EPOCHS = 3 if QUICK else 40
WINDOW = 30

# %% [markdown]
# ## The data: windows of a signal, and the value that follows each

# %%
rng = np.random.default_rng(0)
t = np.arange(1200 if QUICK else 3000) * 0.1
signal = np.sin(t) + 0.5 * np.sin(3.1 * t) + 0.1 * rng.normal(size=t.shape)
windows = np.lib.stride_tricks.sliding_window_view(signal, WINDOW + 1).astype(np.float32)
x, y = windows[:, :WINDOW, None], windows[:, WINDOW:]  # x: (N, T, 1), y: (N, 1)
split = int(0.8 * len(x))
x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]
print("sequences:", x_train.shape, "targets:", y_train.shape)
baseline = float(np.mean((x_test[:, -1] - y_test) ** 2))
print(f"repeat-the-last-value baseline: test MSE {baseline:.4f}")

# %% [markdown]
# ## Two recurrent models
#
# `SimpleRNN(32)` returns its last hidden state, `(N, 32)`; a `Dense(1)` reads the prediction
# from it. The parameters are the input and recurrent weights:

# %%
rnn = jaxnn.serial(SimpleRNN(32), Dense(1))
_, params, _ = rnn.init(jax.random.key(0), (-1, WINDOW, 1))
print(jax.tree.map(jnp.shape, params))

# %%
errors, predictions = {}, {}
for name, model in (("SimpleRNN", rnn), ("LSTM", jaxnn.serial(LSTM(32), Dense(1)))):
    ts, history = jaxnn.fit(model, (x_train, y_train), loss="mse", learning_rate=3e-3,
                            epochs=EPOCHS, batch_size=64, validation_split=0.1, verbose=0)  # fmt: skip
    predictions[name] = np.asarray(jaxnn.predict(model, ts, x_test))
    errors[name] = float(np.mean((predictions[name] - y_test) ** 2))
    print(f"{name}: test MSE {errors[name]:.4f} (baseline {baseline:.4f})")

# %% [markdown]
# ## Predictions against the truth, on the first test steps

# %%
fig, ax = plt.subplots(figsize=(10, 3))
ax.plot(y_test[:200, 0], label="signal", color="black", linewidth=1)
for name, p in predictions.items():
    ax.plot(p[:200, 0], label=f"{name} (MSE {errors[name]:.3f})")
ax.set_xlabel("test step")
ax.legend()
plt.show()
