"""Depthwise convolutions on the CPU: jaxnn's tap sum against XLA's grouped convolution.

``DepthwiseConv2D`` has two routes: ``"taps"`` (one strided slice of the padded input per
kernel tap, times that tap's weights, summed; what ``"auto"`` picks on the CPU backend) and
``"xla"`` (``lax.conv_general_dilated`` with ``feature_group_count = C_in``, what a user writing
plain JAX, or Keras on its JAX backend, runs). Each is timed jitted, forward and forward plus the
gradient with respect to input and kernel, after a compiling call, with ``block_until_ready``;
the figure is the median of ``--repeats`` calls.

Usage: python experiments/bench_depthwise.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from jaxnn.layers import DepthwiseConv2D

# (label, batch, H, W, C, kernel, depth multiplier, strides)
CASES = [
    ("32x32x32, 3x3", 32, 32, 32, 32, 3, 1, 1),
    ("16x16x128, 3x3", 32, 16, 16, 128, 3, 1, 1),
    ("32x32x16, 3x3, M=2, stride 2", 32, 32, 32, 16, 3, 2, 2),
    ("56x56x64, 5x5 (batch 8)", 8, 56, 56, 64, 5, 1, 1),
]


def _median_seconds(fn, *args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _time(algorithm: str, case: tuple, repeats: int) -> tuple[float, float]:
    _, n, h, w, c, k, m, s = case
    layer = DepthwiseConv2D(k, depth_multiplier=m, strides=s, padding="same", algorithm=algorithm)
    _, params, _ = layer.init(jax.random.key(0), (-1, h, w, c))
    x = jax.random.normal(jax.random.key(1), (n, h, w, c))

    def forward(p, x):
        return layer.apply(p, {}, x)[0]

    def loss(p, x):
        return jnp.sum(jnp.tanh(forward(p, x)))

    fwd = _median_seconds(jax.jit(forward), params, x, repeats=repeats)
    grad = _median_seconds(jax.jit(jax.grad(loss, argnums=(0, 1))), params, x, repeats=repeats)
    return fwd, grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, 'same' padding")
    print(
        "| input (batch 32) | forward taps | forward xla | forward+grad taps | forward+grad xla |"
    )
    print("| --- | --- | --- | --- | --- |")
    for case in CASES:
        (tf, tg), (xf, xg) = (_time(a, case, args.repeats) for a in ("taps", "xla"))
        print(
            f"| {case[0]} | {tf * 1e3:.1f} ms | {xf * 1e3:.1f} ms ({xf / tf:.1f}x) | "
            f"{tg * 1e3:.1f} ms | {xg * 1e3:.1f} ms ({xg / tg:.1f}x) |"
        )


if __name__ == "__main__":
    main()
