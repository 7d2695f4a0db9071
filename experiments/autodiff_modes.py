"""Forward mode, reverse mode and finite differences as the inputs (or outputs) grow.

For f: R^n -> R (a "loss") the script times jax.jacfwd, jax.jacrev and central finite differences
(all jitted; the median of repeated runs after compilation) and counts the passes each needs
(n, 1 and 2n). Then the reverse shape, g: R -> R^m, where forward mode needs one pass and
reverse mode m. It writes docs/autodiff-modes.md.

    python experiments/autodiff_modes.py
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from jaxnn.autodiff.modes import passes_for_jacobian


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
    return lambda t: jnp.tanh(t * w) ** 2


def finite_differences(f, eps=1e-3):
    def jac(x):
        steps = jnp.eye(x.shape[0]) * eps
        return jax.vmap(lambda e: (f(x + e) - f(x - e)) / (2 * eps))(steps)

    return jac


def main():
    rows = [
        "| n inputs, 1 output | jacfwd (ms) | jacrev (ms) | finite diff (ms) "
        "| passes fwd / rev / fd |",
        "| ---: | ---: | ---: | ---: | --- |",
    ]
    for n in (1, 10, 100, 1000, 4000):
        f, x = many_to_one(n), jnp.ones(n)
        t_fwd = timed(jax.jit(jax.jacfwd(f)), x)
        t_rev = timed(jax.jit(jax.jacrev(f)), x)
        t_fd = timed(jax.jit(finite_differences(f)), x)
        p = passes_for_jacobian(n, 1)
        passes = f"{p['forward']} / {p['reverse']} / {p['finite_differences']}"
        rows.append(
            f"| {n} | {t_fwd * 1e3:.3f} | {t_rev * 1e3:.3f} | {t_fd * 1e3:.3f} | {passes} |"
        )
    rows += [
        "",
        "| 1 input, m outputs | jacfwd (ms) | jacrev (ms) | passes fwd / rev |",
        "| ---: | ---: | ---: | --- |",
    ]
    for m in (1, 10, 100, 1000, 4000):
        g, t = one_to_many(m), jnp.ones(())
        t_fwd = timed(jax.jit(jax.jacfwd(g)), t)
        t_rev = timed(jax.jit(jax.jacrev(g)), t)
        p = passes_for_jacobian(1, m)
        rows.append(
            f"| {m} | {t_fwd * 1e3:.3f} | {t_rev * 1e3:.3f} | {p['forward']} / {p['reverse']} |"
        )
    text = "\n".join(rows)
    print(text)
    out = Path(__file__).resolve().parent.parent / "docs" / "autodiff-modes.md"
    out.write_text(
        "# Forward mode, reverse mode, finite differences\n\n"
        "Command: `python experiments/autodiff_modes.py` (CPU, jitted, median of 20 runs after "
        "compilation). f(x) = sum(tanh(x W)^2) with W of shape (n, 64); g(t) = tanh(t w)^2 with w "
        "of length m.\n\n" + text + "\n\n"
        "For one output, reverse mode computes the whole gradient in one backward pass whatever n "
        "is, while forward mode needs n passes and finite differences 2n evaluations (and are "
        "approximate): this is why training uses reverse mode. With one input and many outputs the "
        "roles swap.\n"
    )


if __name__ == "__main__":
    main()
