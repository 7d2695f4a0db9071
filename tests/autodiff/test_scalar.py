import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import data
from jaxnn.autodiff import scalar
from jaxnn.autodiff.scalar import MLP, Value


def expression(a, b, c, *, tanh, exp, log, sigmoid, relu):
    return (
        tanh(a * b + c) * a
        - b / c
        + log(exp(a**2) + 1.0)
        + sigmoid(c - a) * relu(b + 4.0)
        - 2.0 / a
    )


def test_gradients_equal_jax_grad():
    point = (0.7, -1.3, 2.1)
    values = [Value(v) for v in point]
    out = expression(
        *values,
        tanh=Value.tanh,
        exp=Value.exp,
        log=Value.log,
        sigmoid=Value.sigmoid,
        relu=Value.relu,
    )
    out.backward()
    with jax.enable_x64(True):

        def f(a, b, c):
            return expression(
                a,
                b,
                c,
                tanh=jnp.tanh,
                exp=jnp.exp,
                log=jnp.log,
                sigmoid=jax.nn.sigmoid,
                relu=jax.nn.relu,
            )

        args = tuple(jnp.float64(v) for v in point)
        expected_value = float(f(*args))
        expected = jax.grad(f, argnums=(0, 1, 2))(*args)
    assert out.data == pytest.approx(expected_value, rel=1e-12)
    for v, g in zip(values, expected, strict=True):
        assert v.grad == pytest.approx(float(g), rel=1e-12)


def test_a_value_used_twice_gets_both_gradients_and_backward_resets():
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad == 7.0
    y.backward()  # a second backward pass starts from zero, it does not accumulate
    assert x.grad == 7.0


def mlp_as_jnp(params, x):
    """The same network written with jnp: tanh hidden layers, a linear output."""
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b[None, :]
        if i < len(params) - 1:
            h = jnp.tanh(h)
    return h


def test_scalar_mlp_gradients_equal_jax_grad():
    net = MLP([2, 3, 3, 1], seed=1)
    xs = [[0.5, -1.0], [1.5, 0.2], [-0.4, 0.9]]
    ys = [1.0, -1.0, 0.5]
    loss = sum(((net(x) - y) ** 2 for x, y in zip(xs, ys, strict=True)), Value(0.0)) / len(xs)
    loss.backward()

    def jax_loss(params):
        pred = mlp_as_jnp(params, jnp.array(xs, jnp.float64))[:, 0]
        return jnp.mean((pred - jnp.array(ys, jnp.float64)) ** 2)

    with jax.enable_x64(True):
        params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in net.arrays()]
        assert float(jax_loss(params)) == pytest.approx(loss.data, rel=1e-12)
        grads = jax.grad(jax_loss)(params)
    engine = net.arrays("grad")
    assert len(engine) == 3
    for (gw, gb), (rw, rb) in zip(engine, grads, strict=True):
        np.testing.assert_allclose(gw, rw, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(gb, rb, rtol=1e-10, atol=1e-14)
    # arrays() lays the weights out as the jnp network reads them: W[i, j] is input i -> unit j.
    (w0, b0), _, _ = net.arrays()
    assert w0.shape == (2, 3) and b0.shape == (3,)
    assert w0[1, 2] == net.layers[0][2][0][1].data and b0[2] == net.layers[0][2][1].data


def test_arrays_rejects_an_unknown_field():
    with pytest.raises(ValueError, match=r"which must be 'data' or 'grad'; got 'value'"):
        MLP([2, 1]).arrays("value")


def test_scalar_mlp_learns_a_playground_set():
    x, y = data.xor(40, seed=0)
    x = x / 5.0
    targets = 2.0 * y - 1.0
    net = MLP([2, 6, 1], seed=0)
    losses = []
    for _ in range(60):
        loss = sum(
            ((net(list(map(float, xi))) - float(t)) ** 2 for xi, t in zip(x, targets, strict=True)),
            Value(0.0),
        ) / len(x)
        loss.backward()
        for p in net.parameters():
            p.data -= 0.2 * p.grad
        losses.append(loss.data)
    assert losses[-1] < 0.6 * losses[0]


def test_dot_graph_shows_values_and_gradients():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    c.backward()
    dot = scalar.to_dot(c)
    assert dot.startswith("digraph computation {") and dot.endswith("}")
    assert '"{ a | data 2 | grad -3 }"' in dot and '"{ b | data -3 | grad 2 }"' in dot
    assert '"{ c | data -6 | grad 1 }"' in dot
    assert dot.count("->") == 2


def test_draw_without_graphviz_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(scalar.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"draw: Graphviz's 'dot' program is not installed"):
        scalar.draw(Value(1.0), tmp_path / "g.png")


def test_errors():
    with pytest.raises(TypeError, match="Value: data must be a number; got str 'a'"):
        Value("a")
    with pytest.raises(TypeError, match=r"Value \+: expected a number or a Value; got str 'x'"):
        Value(1.0) + "x"
    with pytest.raises(TypeError, match=r"Value \*\*: the exponent must be a number"):
        Value(2.0) ** Value(2.0)
    with pytest.raises(ValueError, match="Value.log: the argument must be > 0; got -1.0"):
        Value(-1.0).log()
    assert math.isclose((2 / Value(4.0)).data, 0.5) and (5 - Value(2.0)).data == 3.0
