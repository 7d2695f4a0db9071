"""Forward mode, reverse mode and finite differences as the inputs (or outputs) grow.

For f: R^n -> R (a "loss") the script times jax.jacfwd, jax.jacrev and central finite differences
(all jitted; the median of repeated runs after compilation) and measures what each costs in
evaluations of f two ways: by counting the passes as they run (``modes.count_evaluations``, which
builds the Jacobian one JVP, VJP or f-evaluation at a time with f wrapped in a counter), and by
dividing the floating-point operations XLA counts in the compiled Jacobian by those of f
(``modes.flops``). Then the reverse shape, g: R -> R^m, where forward mode needs one pass and
reverse mode m. It writes docs/autodiff-modes.md.

    python experiments/autodiff_modes.py
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from jaxnn.autodiff.modes import count_evaluations, flops
from jaxnn.checkpoint import write_atomic


def timed(fn, *args, repeats=20):
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def many_to_one(n):
    w = jax.random.normal(jax.random.key(0), (n, 64)) / jnp.sqrt(n)
    return lambda x: jnp.sum(jnp.tanh(x @ w) ** 2)


def one_to_many(m):
    w = jax.random.normal(jax.random.key(0), (m,))
    return lambda t: jnp.tanh(t[0] * w) ** 2  # t: a vector of one input


def finite_differences(f, eps=1e-3):
    def jac(x):
        steps = jnp.eye(x.shape[0]) * eps
        return jax.vmap(lambda e: (f(x + e) - f(x - e)) / (2 * eps))(steps)

    return jac


def counted(f, x):
    """Passes counted as they run: "runs of f + JVPs + VJPs" for each method."""
    out = []
    for method in ("forward", "reverse", "finite_differences"):
        c = count_evaluations(f, x, method)
        out.append(f"{c.function_calls} f / {c.forward_passes} JVP / {c.backward_passes} VJP")
    return out


def flop_ratios(f, x, methods):
    base = flops(f, x)
    return [f"{flops(m, x) / base:.1f}" for m in methods]


def main():
    rows = [
        "| n inputs, 1 output | jacfwd (ms) | jacrev (ms) | finite diff (ms) "
        "| counted: forward | counted: reverse | counted: finite diff "
        "| FLOPs / FLOPs of f: fwd / rev / fd |",
        "| ---: | ---: | ---: | ---: | --- | --- | --- | --- |",
    ]
    for n in (1, 10, 100, 1000, 4000):
        f, x = many_to_one(n), jnp.ones(n)
        methods = [jax.jacfwd(f), jax.jacrev(f), finite_differences(f)]
        t_fwd, t_rev, t_fd = (timed(jax.jit(m), x) for m in methods)
        ratios = " / ".join(flop_ratios(f, x, methods))
        rows.append(
            f"| {n} | {t_fwd * 1e3:.3f} | {t_rev * 1e3:.3f} | {t_fd * 1e3:.3f} | "
            + " | ".join(counted(f, x))
            + f" | {ratios} |"
        )
    rows += [
        "",
        "| 1 input, m outputs | jacfwd (ms) | jacrev (ms) | counted: forward | counted: reverse "
        "| FLOPs / FLOPs of g: fwd / rev |",
        "| ---: | ---: | ---: | --- | --- | --- |",
    ]
    for m in (1, 10, 100, 1000, 4000):
        g, t = one_to_many(m), jnp.ones(1)
        methods = [jax.jacfwd(g), jax.jacrev(g)]
        t_fwd, t_rev = (timed(jax.jit(m), t) for m in methods)
        ratios = " / ".join(flop_ratios(g, t, methods))
        rows.append(
            f"| {m} | {t_fwd * 1e3:.3f} | {t_rev * 1e3:.3f} | "
            + " | ".join(counted(g, t)[:2])
            + f" | {ratios} |"
        )
    text = "\n".join(rows)
    print(text)
    out = Path(__file__).resolve().parent.parent / "docs" / "autodiff-modes.md"
    page = (
        "# Forward mode, reverse mode, finite differences\n\n"
        "Command: `python experiments/autodiff_modes.py` (CPU, jitted, median of 20 runs after "
        "compilation). f(x) = sum(tanh(x W)^2) with W of shape (n, 64); g(t) = tanh(t w)^2 with w "
        "of length m.\n\n"
        "The *counted* columns come from `jaxnn.autodiff.modes.count_evaluations`, which builds "
        "the Jacobian one pass at a time with f wrapped in a counter: how many times f's body ran, "
        "how many tangents were pushed forward (JVPs) and how many cotangents pulled back (VJPs). "
        "The FLOP columns divide the floating-point operations XLA counts in the compiled "
        "`jax.jacfwd`, `jax.jacrev` and finite-difference programs by those of f itself "
        "(`modes.flops`): the cost of each, in evaluations of f, on the program that really "
        "runs.\n\n" + text + "\n\n"
        "For one output, reverse mode computes the whole gradient from one run of f and one "
        "backward pass, about 2-3 evaluations of f in FLOPs whatever n is, while forward mode "
        "needs n passes and finite differences 2n evaluations (and are approximate): this is why "
        "training uses reverse mode. With one input and many outputs the roles swap.\n"
    )
    write_atomic(out, page.encode())


if __name__ == "__main__":
    main()
