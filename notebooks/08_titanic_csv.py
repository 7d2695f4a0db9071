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
# # Who survived the Titanic? A network on a CSV
#
# The Kaggle exercise: predict `Survived` from a passenger's class, sex, age, family aboard,
# fare and port. `jaxnn.data.load_csv` reads the CSV, one-hot encodes the text columns, fills
# missing values with the training split's median or mode, and splits off a test set, with
# every statistic taken from the training rows only.
#
# **The data.** Kaggle's `train.csv` (https://www.kaggle.com/c/titanic/data, free with an
# account) cannot be downloaded without logging in. Put it at
# `$JAXNN_DATA/titanic/train.csv` (`~/.cache/jaxnn/titanic/train.csv` by default). Without it
# the notebook writes a synthetic stand-in with the same columns, in which women and first-class
# passengers survive more often, and says so.

# %%
import csv
import os
import tempfile
from pathlib import Path

import jax
import numpy as np

import jaxnn
from jaxnn.layers import Dense, Dropout

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: few epochs
EPOCHS = 10 if QUICK else 60

# %%
COLUMNS = ["PassengerId", "Survived", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch",
           "Ticket", "Fare", "Cabin", "Embarked"]  # fmt: skip


def write_standin(path, n=891, seed=0):
    """A synthetic passenger list with Kaggle's columns (Age missing for a fifth of them)."""
    rng = np.random.default_rng(seed)
    pclass = rng.choice([1, 2, 3], n, p=[0.24, 0.21, 0.55])
    female = rng.random(n) < 0.35
    age = np.clip(rng.normal(30, 14, n), 0.5, 80).round(1)
    fare = np.round(rng.lognormal(np.log(np.array([0, 60, 20, 9])[pclass]), 0.5), 2)
    logit = -1.2 + 2.5 * female + 0.9 * (2 - pclass) - 0.02 * (age - 30)
    survived = rng.random(n) < 1 / (1 + np.exp(-logit))
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for i in range(n):
            out.writerow([i + 1, int(survived[i]), pclass[i], f"Passenger {i + 1}",
                          "female" if female[i] else "male",
                          "" if rng.random() < 0.2 else age[i], rng.poisson(0.5),
                          rng.poisson(0.4), f"T{i}", fare[i], "",
                          rng.choice(["S", "C", "Q"], p=[0.72, 0.19, 0.09])])  # fmt: skip


path = jaxnn.data.cache_dir() / "titanic" / "train.csv"
if path.is_file():
    print(f"Reading the Titanic passengers from {path}")
else:
    print(f"No Titanic CSV at {path}: download train.csv from "
          "https://www.kaggle.com/c/titanic/data and put it there.")  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "titanic-standin.csv"
    write_standin(path)
    print(f"Using a synthetic stand-in with the same columns: {path}")
print(open(path).read().splitlines()[:3])

# %% [markdown]
# ## Load, encode, split
#
# `Pclass` is a number but a category; names, tickets and cabins are left out.

# %%
data = jaxnn.data.load_csv(
    path,
    target="Survived",
    categorical=["Pclass"],
    drop=["PassengerId", "Name", "Ticket", "Cabin"],
    stratify=True,
)
print("features:", data.feature_names)
print("training rows:", data.x_train.shape, "test rows:", data.x_test.shape)
print("survival rate in training:", round(float(data.y_train.mean()), 3))

# %% [markdown]
# Scale with the training rows' mean and standard deviation, then train a small network with
# one logit and the sigmoid binary cross-entropy.

# %%
scaler = jaxnn.data.Standardize.fit(data.x_train)
x_train, x_test = scaler.transform(data.x_train), scaler.transform(data.x_test)
y_train = data.y_train.astype(np.float32).reshape(-1, 1)
y_test = data.y_test.astype(np.float32).reshape(-1, 1)
model = jaxnn.serial(Dense(16), jax.nn.relu, Dropout(0.2), Dense(1))
ts, history = jaxnn.fit(
    model,
    (x_train, y_train),
    loss="sigmoid_binary_cross_entropy",
    learning_rate=3e-3,
    epochs=EPOCHS,
    batch_size=32,
    validation_split=0.2,
    verbose=0,
)
logits = np.asarray(jaxnn.predict(model, ts, x_test))
accuracy = float(np.mean((logits > 0) == (y_test > 0.5)))
baseline = float(max(y_test.mean(), 1 - y_test.mean()))
print(f"test accuracy {accuracy:.3f} (always guessing the commoner outcome: {baseline:.3f})")

# %% [markdown]
# ## Which features matter?
#
# A rough answer: how much the test accuracy drops when one feature's column is shuffled.

# %%
rng = np.random.default_rng(0)
for i, name in enumerate(data.feature_names):
    shuffled = x_test.copy()
    shuffled[:, i] = rng.permutation(shuffled[:, i])
    drop = accuracy - float(
        np.mean((np.asarray(jaxnn.predict(model, ts, shuffled)) > 0) == (y_test > 0.5))
    )
    print(f"{name:12s} {drop:+.3f}")

# %%
jaxnn.viz.plot_history(history)
