"""Tutorial 2: gradient descent on a line, from three points to mini-batches

Fitting a line y_hat = w x + b is the smallest learning problem: two parameters, a loss,
and its gradient written by hand. This page fits the lectures' kind of three-point example,
compares the absolute and the squared error, then batch, mini-batch and stochastic gradient
descent, and the learning rate that is too small, right, or too large.
"""

# %%
# ## Three points and the total absolute error
#
# The points (1, 2), (2, 4), (3, 5). The line through the outer two, y = 1.5 x + 0.5, misses the
# middle point by 0.5, a total absolute error of 0.5, and no line does better
# (`best_absolute_line` tries every line through two points, where the best one always lies).
# (The lecture notes' own three points are not in our sources; these give their figure of 0.5.)

import numpy as np

from jaxnn.autodiff import descent

x, y = descent.three_points()
for w, b in [(2.0, 0.0), (1.0, 2.0), (1.5, 0.5)]:
    pred = w * x + b
    print(
        f"y = {w} x + {b}: predictions {pred.tolist()}, "
        f"total absolute error {descent.total_absolute_error(w, b, x, y)}"
    )
print("best line under absolute error (w, b, total):", descent.best_absolute_line(x, y))

# %%
# ## Squared error picks another line
#
# Gradient descent on the mean squared error, with the hand-written gradient
# `dL/dw = 2/N sum (y_hat - y) x`, `dL/db = 2/N sum (y_hat - y)`, reaches the least-squares line
# y = 1.5 x + 2/3. It misses by 1/6, 1/3, 1/6: a total absolute error of 2/3, but a smaller
# squared error than the line above, because squares punish the one big miss.

ls = descent.gradient_descent(x, y, learning_rate=0.05, epochs=3000)
w_ls, b_ls = float(ls.weights[0]), ls.bias
exact = np.linalg.lstsq(np.c_[x, np.ones(3)], y, rcond=None)[0]
print(
    f"gradient descent: w = {w_ls:.4f}, b = {b_ls:.4f}; "
    f"normal equations: w = {exact[0]:.4f}, b = {exact[1]:.4f}"
)
for name, (w, b) in {"least squares": (w_ls, b_ls), "least absolute": (1.5, 0.5)}.items():
    mse = descent.mse(np.array([w]), b, x[:, None], y)
    print(
        f"{name:14}: total absolute error {descent.total_absolute_error(w, b, x, y):.4f}, "
        f"mean squared error {mse:.4f}"
    )

# %%
# ## Descending the absolute error
#
# The absolute error's gradient is `1/N sum sign(y_hat - y) x`: it has the same size however
# close the line is, so with a constant step the fit hovers around the kink instead of settling.
# A smaller step ends closer to 0.5.

for rate in (0.03, 0.01, 0.003):
    t = descent.gradient_descent(x, y, learning_rate=rate, epochs=5000, loss="mae")
    total = descent.total_absolute_error(t.weights, t.bias, x, y)
    print(
        f"learning rate {rate}: w = {t.weights[0]:.3f}, b = {t.bias:.3f}, "
        f"total absolute error {total:.3f}"
    )

# %%
# ## Batch, mini-batch, stochastic
#
# On 40 noisy points of y = 2x + 1: batch descent takes one step per epoch on all the points,
# mini-batch one per 8 points, stochastic one per point. More steps per epoch means a faster
# start, and a noisier end.

rng = np.random.default_rng(0)
xs = rng.uniform(-1, 1, 40)
ys = 2 * xs + 1 + 0.1 * rng.normal(size=40)
print("method     updates  loss after epoch 1, 5, 20, 100       w      b")
for method, rate in (("batch", 0.3), ("minibatch", 0.1), ("sgd", 0.03)):
    t = descent.gradient_descent(xs, ys, method=method, learning_rate=rate, epochs=100)
    losses = "  ".join(f"{t.losses[e]:.4f}" for e in (1, 5, 20, 100))
    print(f"{method:9}  {t.updates:7}  {losses}   {t.weights[0]:.3f}  {t.bias:.3f}")

# %%
# ## The learning rate
#
# The squared error's curvature is the Hessian `2/N [x 1]^T [x 1]`; a step beyond
# `2 / largest eigenvalue` overshoots more each time and diverges. Too small a step crawls.

design = np.c_[xs, np.ones(40)]
limit = 2 / np.linalg.eigvalsh(2 * design.T @ design / 40).max()
print(f"largest stable learning rate: {limit:.3f}")
study = descent.learning_rate_study(xs, ys, (0.01, 0.5, 1.1 * limit), epochs=20)
for rate, losses in study.items():
    print(
        f"rate {rate:.3f}: loss at epochs 0, 5, 10, 20 = "
        + ", ".join(f"{losses[e]:.3g}" for e in (0, 5, 10, 20))
    )
