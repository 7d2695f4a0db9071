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
# # The perceptron learning rule
#
# Rosenblatt's perceptron learns the weights of a threshold unit from examples. On a mistake it
# moves the weights towards the right answer,
#
# $$w \leftarrow w + \eta\,(y - \hat y)\,x, \qquad b \leftarrow b + \eta\,(y - \hat y),$$
#
# and leaves them alone otherwise. On linearly separable data it stops after finitely many
# mistakes (Novikoff's theorem).

# %%
import numpy as np

import jaxnn
from jaxnn.autodiff import perceptron_train

# %% [markdown]
# ## Learning AND and OR
#
# `errors` counts the mistakes in each pass over the four examples; the rule has converged when
# a pass makes none.

# %%
truth = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
for name, target in (("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1])):
    p = perceptron_train(truth, target)
    print(f"{name}: mistakes per epoch {p.errors}, weights {p.weights.tolist()}, bias {p.bias}")
    print(f"     predictions {p.predict(truth).tolist()} (target {target})")
    assert p.converged

# %% [markdown]
# ## The rule by hand, one step at a time
#
# The same rule in a few lines of NumPy, printing every update on the AND gate.

# %%
w, b, lr = np.zeros(2), 0.0, 1.0
for epoch in range(20):
    mistakes = 0
    for xi, yi in zip(truth, [0, 0, 0, 1], strict=True):
        y_hat = int(w @ xi + b >= 0)
        if y_hat != yi:
            w, b = w + lr * (yi - y_hat) * xi, b + lr * (yi - y_hat)
            mistakes += 1
            print(f"epoch {epoch}: x={xi.tolist()} wrong ({y_hat}), now w={w.tolist()}, b={b}")
    if mistakes == 0:
        print(f"epoch {epoch}: no mistakes, done")
        break
print("final: w =", w.tolist(), "b =", b, "predictions:", [int(w @ xi + b >= 0) for xi in truth])

# %% [markdown]
# ## Two clouds of points
#
# On 2-D data the perceptron draws a line. Two separated Gaussian blobs are linearly separable,
# so it converges and classifies every training point correctly.

# %%
x, y = jaxnn.data.blobs(200, centers=2, seed=0)
p = perceptron_train(x, y, epochs=50, seed=0)
accuracy = float(np.mean(p.predict(x) == y))
print(
    f"{len(x)} points, converged: {p.converged} after {len(p.errors)} epochs, accuracy {accuracy}"
)

# %% [markdown]
# ## ... and XOR, which it never learns
#
# No line separates XOR's ones from its zeros, so the rule keeps making mistakes, epoch after
# epoch. The next notebook adds a hidden layer.

# %%
p = perceptron_train(truth, [0, 1, 1, 0], epochs=20)
print("mistakes per epoch:", p.errors)
print("converged:", p.converged)
assert not p.converged
