"""Tutorial 3: backpropagation one number at a time, with a tiny scalar engine

`jaxnn.autodiff.Value` is a number that remembers how it was computed: its parents and the local
derivative with respect to each. `backward()` walks the graph from the output back, in reverse
topological order, and applies the chain rule at every node. That is all of reverse-mode
automatic differentiation; `jax.grad` does the same on whole arrays.
"""

# %%
# ## One neuron, by hand and by the engine
#
# y = tanh(w x + b). By the chain rule, with d = 1 - tanh(w x + b)^2:
# dy/dw = d x, dy/dx = d w, dy/db = d.

import math

from jaxnn.autodiff import Value

w, x, b = Value(0.5, label="w"), Value(2.0, label="x"), Value(-0.3, label="b")
wx = w * x
wx.label = "w*x"
z = wx + b
z.label = "z"
y = z.tanh()
y.label = "y"
y.backward()
d = 1 - math.tanh(0.5 * 2.0 - 0.3) ** 2
print(f"y = {y.data:.6f}")
print(f"engine:  dy/dw = {w.grad:.6f}  dy/dx = {x.grad:.6f}  dy/db = {b.grad:.6f}")
print(f"by hand: dy/dw = {d * 2.0:.6f}  dy/dx = {d * 0.5:.6f}  dy/db = {d:.6f}")

# %%
# ## The graph it built
#
# `to_dot` writes the graph in Graphviz's DOT language with each node's value and gradient
# (`jaxnn.autodiff.scalar.draw(y, "graph.png")` renders it when Graphviz is installed). Beside
# it, the program JAX traces for the same function (its *jaxpr*): the same three operations,
# `mul`, `add`, `tanh`, which `jax.grad` differentiates.

import jax

from jaxnn.autodiff import to_dot
from jaxnn.autodiff.modes import jaxpr_text

print(to_dot(y))
print()
print(jaxpr_text(lambda w, x, b: jax.numpy.tanh(w * x + b), 0.5, 2.0, -0.3))
grads = jax.grad(lambda w, x, b: jax.numpy.tanh(w * x + b), argnums=(0, 1, 2))(0.5, 2.0, -0.3)
print("jax.grad:", [round(float(g), 6) for g in grads])

# %%
# ## A value used twice
#
# When a value feeds two operations, gradient arrives along both paths and adds up: that is why
# `backward` accumulates with `+=`. For f = a * a + a, df/da = 2a + 1.

a = Value(3.0, label="a")
f = a * a + a
f.backward()
print(f"df/da = {a.grad} (2 * 3 + 1 = 7)")

# %%
# ## Training a small network on the Playground's XOR
#
# `MLP([2, 6, 1])` is a network of `Value`s (tanh hidden layer, linear output). Each step builds
# the loss over the 40 points as one graph, calls `backward()`, and moves every weight against
# its gradient. (`backward()` first sets every gradient in the graph to zero, so there is no
# `zero_grad` step.) Slow (every multiplication is a Python object), but every number can be
# inspected.

from jaxnn import data
from jaxnn.autodiff import MLP

xs, labels = data.xor(40, seed=0)
xs = xs / 5.0
targets = 2.0 * labels - 1.0  # -1 / +1 for a tanh-sized output
net = MLP([2, 6, 1], seed=0)


def loss_of(net):
    total = Value(0.0)
    for xi, t in zip(xs, targets, strict=True):
        total = total + (net([float(v) for v in xi]) - float(t)) ** 2
    return total / len(xs)


for epoch in range(61):
    loss = loss_of(net)
    loss.backward()
    for p in net.parameters():
        p.data -= 0.2 * p.grad
    if epoch % 15 == 0:
        correct = sum(
            (net([float(v) for v in xi]).data > 0) == (t > 0)
            for xi, t in zip(xs, targets, strict=True)
        )
        print(f"epoch {epoch:2}: loss {loss.data:.4f}, accuracy {correct / len(xs):.2f}")

# %%
# ## The engine agrees with jax.grad
#
# The same network written with `jnp` from the engine's own weights (`net.arrays()` gives them
# as `(W, b)` per layer), differentiated by `jax.grad` in float64: every one of its 25 gradients
# matches the engine's (`net.arrays("grad")`).

import jax.numpy as jnp
import numpy as np

loss = loss_of(net)
loss.backward()

with jax.enable_x64(True):
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in net.arrays("data")]

    def jnp_loss(params):
        h = jnp.asarray(xs, jnp.float64)
        for i, (w, b) in enumerate(params):
            h = h @ w + b[None, :]
            h = jnp.tanh(h) if i < len(params) - 1 else h
        return jnp.mean((h[:, 0] - jnp.asarray(targets)) ** 2)

    reference = jax.grad(jnp_loss)(params)
    jnp_value = float(jnp_loss(params))
engine = net.arrays("grad")
diff = max(
    float(np.max(np.abs(e - np.asarray(r))))
    for pair in zip(engine, reference, strict=True)
    for e, r in zip(*pair, strict=True)
)
print(f"loss: engine {loss.data:.10f}, jnp {jnp_value:.10f}")
print(f"largest |engine - jax.grad| over {len(net.parameters())} gradients: {diff:.1e}")
print("agree to 1e-12:", diff < 1e-12)
