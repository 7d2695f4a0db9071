r"""A tiny scalar reverse-mode autodiff engine, to see backpropagation one number at a time.

Each :class:`Value` holds a number, its gradient, the values it was computed from, and the local
derivative of itself with respect to each of them, written beside the forward rule of every
operation. :meth:`Value.backward` visits the graph in reverse topological order and applies the
chain rule

.. math:: \frac{\partial L}{\partial p} \mathrel{+}= \frac{\partial L}{\partial v}
    \frac{\partial v}{\partial p}

for every value :math:`v` and each parent :math:`p` (``+=`` because a value used twice receives
gradient along both paths). :func:`to_dot` draws the graph with each node's value and gradient.

Example:
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> loss = (a * b + a).tanh()
    >>> loss.backward()
    >>> t = math.tanh(2.0 * -3.0 + 2.0)  # by hand: d/da = (1 - t^2)(b + 1), d/db = (1 - t^2) a
    >>> math.isclose(a.grad, (1 - t * t) * (-3.0 + 1)), math.isclose(b.grad, (1 - t * t) * 2.0)
    (True, True)
"""

from __future__ import annotations

import math
import random
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MLP", "Value", "draw", "to_dot"]


def _check_number(other: Any, op: str) -> Value:
    if isinstance(other, Value):
        return other
    if isinstance(other, bool) or not isinstance(other, (int, float)):
        raise TypeError(
            f"Value {op}: expected a number or a Value; got {type(other).__name__} {other!r}."
        )
    return Value(float(other))


class Value:
    """A scalar in a computation graph, with its gradient.

    Args:
        data: The number.
        label: An optional name, shown in drawings.

    Raises:
        TypeError: If ``data`` is not an int or float.
    """

    __slots__ = ("data", "grad", "label", "op", "parents", "local_grads")

    def __init__(
        self,
        data: float,
        *,
        label: str = "",
        op: str = "",
        parents: tuple[Value, ...] = (),
        local_grads: tuple[float, ...] = (),
    ) -> None:
        """Stores the number; an operation also records its parents and local derivatives."""
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise TypeError(f"Value: data must be a number; got {type(data).__name__} {data!r}.")
        self.data, self.grad = float(data), 0.0
        self.label, self.op = label, op
        self.parents, self.local_grads = parents, local_grads

    def __repr__(self) -> str:
        """Shows the number and its gradient."""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # Each operation: the forward rule, then the local derivatives d(out)/d(parent).

    def __add__(self, other: Any) -> Value:
        """:math:`a + b`; local derivatives 1 and 1."""
        other = _check_number(other, "+")
        return Value(self.data + other.data, op="+", parents=(self, other), local_grads=(1.0, 1.0))

    def __mul__(self, other: Any) -> Value:
        """:math:`a b`; local derivatives :math:`b` and :math:`a`."""
        other = _check_number(other, "*")
        return Value(
            self.data * other.data,
            op="*",
            parents=(self, other),
            local_grads=(other.data, self.data),
        )

    def __pow__(self, exponent: Any) -> Value:
        """:math:`a^k` for a number :math:`k`; local derivative :math:`k a^{k-1}`."""
        if isinstance(exponent, bool) or not isinstance(exponent, (int, float)):
            raise TypeError(f"Value **: the exponent must be a number; got {exponent!r}.")
        return Value(
            self.data**exponent,
            op=f"**{exponent:g}",
            parents=(self,),
            local_grads=(exponent * self.data ** (exponent - 1),),
        )

    def exp(self) -> Value:
        """:math:`e^a`; local derivative :math:`e^a`."""
        out = math.exp(self.data)
        return Value(out, op="exp", parents=(self,), local_grads=(out,))

    def log(self) -> Value:
        r""":math:`\ln a`; local derivative :math:`1/a`.

        Raises:
            ValueError: For :math:`a \le 0`.
        """
        if self.data <= 0:
            raise ValueError(f"Value.log: the argument must be > 0; got {self.data}.")
        return Value(math.log(self.data), op="log", parents=(self,), local_grads=(1.0 / self.data,))

    def tanh(self) -> Value:
        r""":math:`\tanh a`; local derivative :math:`1 - \tanh^2 a`."""
        out = math.tanh(self.data)
        return Value(out, op="tanh", parents=(self,), local_grads=(1.0 - out * out,))

    def sigmoid(self) -> Value:
        r""":math:`\sigma(a)`; local derivative :math:`\sigma(a)(1 - \sigma(a))`."""
        out = 0.5 * (math.tanh(0.5 * self.data) + 1.0)
        return Value(out, op="sigmoid", parents=(self,), local_grads=(out * (1.0 - out),))

    def relu(self) -> Value:
        r""":math:`\max(0, a)`; local derivative :math:`[a > 0]`."""
        return Value(
            max(0.0, self.data), op="relu", parents=(self,), local_grads=(float(self.data > 0),)
        )

    def __neg__(self) -> Value:
        """:math:`-a`."""
        return self * -1.0

    def __radd__(self, other: Any) -> Value:
        """``number + value``."""
        return self + other

    def __sub__(self, other: Any) -> Value:
        """:math:`a - b`."""
        return self + (-_check_number(other, "-"))

    def __rsub__(self, other: Any) -> Value:
        """``number - value``."""
        return _check_number(other, "-") + (-self)

    def __rmul__(self, other: Any) -> Value:
        """``number * value``."""
        return self * other

    def __truediv__(self, other: Any) -> Value:
        """:math:`a / b = a b^{-1}`."""
        return self * _check_number(other, "/") ** -1

    def __rtruediv__(self, other: Any) -> Value:
        """``number / value``."""
        return _check_number(other, "/") * self**-1

    def topological_order(self) -> list[Value]:
        """Every value this one depends on, each after all of its parents (iterative DFS)."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node.parents if id(p) not in seen)
        return order

    def backward(self) -> None:
        r"""Sets each value's ``grad`` to :math:`\partial\,\text{self} / \partial v`."""
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in zip(node.parents, node.local_grads, strict=True):
                parent.grad += local * node.grad


def to_dot(root: Value) -> str:
    """The computation graph of ``root`` in Graphviz DOT, with each value and gradient.

    Example:
        >>> x = Value(3.0, label="x")
        >>> y = x * x
        >>> y.backward()
        >>> print(to_dot(y).splitlines()[2])
          n0 [shape=record, label="{ x | data 3 | grad 6 }"];
    """
    order = root.topological_order()
    ids = {id(v): i for i, v in enumerate(order)}
    lines = ["digraph computation {", "  rankdir=LR;"]
    for v in order:
        name = v.label or v.op or "const"
        text = f"{{ {name} | data {v.data:.4g} | grad {v.grad:.4g} }}"
        lines.append(f'  n{ids[id(v)]} [shape=record, label="{text}"];')
    for v in order:
        for p in v.parents:
            lines.append(f"  n{ids[id(p)]} -> n{ids[id(v)]};")
    lines.append("}")
    return "\n".join(lines)


def draw(root: Value, path: str | Path) -> Path:
    """Renders :func:`to_dot` to an image with Graphviz's ``dot`` (format from the suffix).

    Raises:
        RuntimeError: If Graphviz's ``dot`` program is not installed (``apt install graphviz``);
            :func:`to_dot` gives the text without it.
    """
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "draw: Graphviz's 'dot' program is not installed (e.g. apt install graphviz); "
            "to_dot(value) gives the DOT text without it."
        )
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=to_dot(root), text=True, check=True)
    return path


class MLP:
    """A multi-layer perceptron of :class:`Value` s: tanh hidden layers, a linear output.

    Args:
        sizes: Layer widths, e.g. ``[2, 4, 1]``.
        seed: Seed of the uniform(-1, 1) initial weights (default 0).

    Example:
        >>> net = MLP([2, 3, 1])
        >>> len(net.parameters()), type(net([0.5, -1.0])).__name__
        (13, 'Value')
    """

    def __init__(self, sizes: Sequence[int], *, seed: int = 0) -> None:
        """Draws the weights; biases start at 0."""
        rng = random.Random(seed)
        self.layers = [
            [([Value(rng.uniform(-1, 1)) for _ in range(d_in)], Value(0.0)) for _ in range(d_out)]
            for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True)
        ]

    def parameters(self) -> list[Value]:
        """All weights and biases, layer by layer, neuron by neuron (weights then bias)."""
        return [p for layer in self.layers for w, b in layer for p in (*w, b)]

    def arrays(self, which: str = "data") -> list[tuple[np.ndarray, np.ndarray]]:
        """Each layer's weights ``(D_in, D_out)`` and biases ``(D_out,)`` as NumPy arrays.

        ``which="data"`` gives the values, ``"grad"`` the gradients from the last
        :meth:`Value.backward`: the same layout as a ``jnp`` network ``h @ W + b``, so the
        engine's numbers can be checked against ``jax.grad``.

        Raises:
            ValueError: For ``which`` other than ``"data"`` and ``"grad"``.

        Example:
            >>> [(w.shape, b.shape) for w, b in MLP([2, 3, 1]).arrays()]
            [((2, 3), (3,)), ((3, 1), (1,))]
        """
        if which not in ("data", "grad"):
            raise ValueError(f"MLP.arrays: which must be 'data' or 'grad'; got {which!r}.")
        return [
            (
                np.array([[getattr(wi, which) for wi in w] for w, _ in layer]).T,
                np.array([getattr(b, which) for _, b in layer]),
            )
            for layer in self.layers
        ]

    def __call__(self, x: Iterable[float | Value]) -> Value:
        """The output for one input vector (one output unit)."""
        h: list[Any] = list(x)
        for i, layer in enumerate(self.layers):
            out = [sum((wi * hi for wi, hi in zip(w, h, strict=True)), b) for w, b in layer]
            h = out if i == len(self.layers) - 1 else [v.tanh() for v in out]
        result: Value = h[0]
        return result
