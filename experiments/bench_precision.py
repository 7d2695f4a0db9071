"""Mixed precision on the CPU: test accuracy and training speed of each policy, in one run.

Two models on scikit-learn's real 8x8 digits (80% train, 20% test): the digits MLP of
``jaxnn train --data digits`` (Dense 128 relu, Dropout 0.1, Dense 64 relu, Dense 10; 40 epochs)
and the small CNN of ``experiments/cnn_digits.py`` (two Conv2D + MaxPool, Dense 64, Dropout,
Dense 10; 30 epochs), Adam 1e-3, batch 32, each trained by ``jaxnn.fit(precision=...)`` from
``--seeds`` seeds. Accuracy is ``jaxnn.evaluate`` on the test images (mean and spread over the
seeds).

Speed is the jitted training step of :func:`jaxnn.make_train_step` under each policy, one
epoch's batches in a ``lax.scan`` (what ``fit``'s compiled loop runs), after a compiling call,
with ``block_until_ready``: the median of ``--repeats`` epochs, the policies interleaved in each
round so that a load on the machine hits them alike.

Usage: python experiments/bench_precision.py [--seeds 3] [--repeats 7] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxnn
from jaxnn import data
from jaxnn.layers import Dense, Dropout

sys.path.insert(0, str(Path(__file__).parent))
from _report import versions, write_section  # noqa: E402
from cnn_digits import cnn  # noqa: E402  (the small CNN of experiments/cnn_digits.py)

POLICIES = ["float32", "mixed_bfloat16", "bfloat16", "mixed_float16"]
BATCH = 32


def mlp() -> jaxnn.Layer:
    return jaxnn.serial(
        Dense(128), jax.nn.relu, Dropout(0.1), Dense(64), jax.nn.relu, Dense(10), name="mlp"
    )


MODELS = {
    "digits MLP": (mlp, (-1, 64), 40),
    "small CNN": (cnn, (-1, 8, 8, 1), 30),
}


def _accuracy(build, shape, epochs, policy, seed, split) -> float:
    (x, y), (x_test, y_test) = split
    x, x_test = x.reshape(-1, *shape[1:]), x_test.reshape(-1, *shape[1:])
    ts, _ = jaxnn.fit(
        build(), (x, y), loss="softmax_cross_entropy", optimizer="adam", learning_rate=1e-3,
        epochs=epochs, batch_size=BATCH, metrics=["accuracy"], seed=seed, verbose=0,
        precision=policy,
    )  # fmt: skip
    result = jaxnn.evaluate(
        build(), ts, (x_test, y_test), loss="softmax_cross_entropy", metrics=["accuracy"]
    )
    return float(result["accuracy"])


def _epoch_runner(build, shape, policy, x, y):
    """A jitted epoch (scan of the train step over its batches) and its first state."""
    model = build()
    opt = jaxnn.optimizers.get("adam", 1e-3)
    ts = jaxnn.TrainState.create(model, jax.random.key(0), shape, opt, precision=policy)
    step = jaxnn.make_train_step(model, "softmax_cross_entropy", opt, precision=policy)
    steps = len(x) // BATCH
    xb = jnp.asarray(x[: steps * BATCH].reshape(steps, BATCH, *shape[1:]))
    yb = jnp.asarray(y[: steps * BATCH].reshape(steps, BATCH))

    @jax.jit
    def epoch(ts):
        return jax.lax.scan(lambda s, b: (step(s, b)[0], None), ts, (xb, yb))[0]

    return epoch, ts, steps * BATCH


def _speeds(shape_of, split, repeats: int) -> dict[str, dict[str, float]]:
    (x, y), _ = split
    out: dict[str, dict[str, float]] = {}
    for label, (build, shape, _) in shape_of.items():
        runners = {p: _epoch_runner(build, shape, p, x, y) for p in POLICIES}
        for epoch, ts, _ in runners.values():
            jax.block_until_ready(epoch(ts))  # compile
        times: dict[str, list[float]] = {p: [] for p in POLICIES}
        for _ in range(repeats):
            for p, (epoch, ts, _) in runners.items():
                start = time.perf_counter()
                jax.block_until_ready(epoch(ts))
                times[p].append(time.perf_counter() - start)
        n = next(iter(runners.values()))[2]
        out[label] = {p: n / statistics.median(t) for p, t in times.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=None, help="write the section into this Markdown file")
    args = parser.parse_args()
    split = data.digits(test_fraction=0.2, seed=0)
    acc: dict[str, dict[str, list[float]]] = {}
    for label, (build, shape, epochs) in MODELS.items():
        acc[label] = {}
        for p in POLICIES:
            acc[label][p] = [
                _accuracy(build, shape, epochs, p, s, split) for s in range(args.seeds)
            ]
            print(label, p, np.round(acc[label][p], 4), flush=True)
    speed = _speeds(MODELS, split, args.repeats)
    lines = [
        "## Mixed precision on the CPU: `experiments/bench_precision.py`",
        "",
        f"Command: `python experiments/bench_precision.py --seeds {args.seeds} --repeats "
        f"{args.repeats} --out docs/benchmarks.md`. Digits (1,437 training, 360 test images), "
        f"Adam 1e-3, batch {BATCH}; the MLP 40 epochs, the CNN 30; accuracy is the mean "
        f"(and spread) over {args.seeds} seeds; speed is the jitted training step over one "
        f"epoch, the median of {args.repeats} epochs, policies interleaved.",
        "",
        "| Model | Policy | Test accuracy | Δ vs float32 (points) | Training samples/s "
        "| Speed vs float32 |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for label in MODELS:
        base_acc = float(np.mean(acc[label]["float32"]))
        base_speed = speed[label]["float32"]
        for p in POLICIES:
            a = np.asarray(acc[label][p])
            lines.append(
                f"| {label} | `{p}` | {a.mean():.4f} ± {a.std():.4f} | "
                f"{100 * (a.mean() - base_acc):+.1f} | {speed[label][p]:,.0f} | "
                f"{speed[label][p] / base_speed:.2f}x |"
            )
    v = versions(["jax", "jaxlib"])
    lines += [
        "",
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{jax.device_count()} {jax.default_backend()} device(s); jax {v['jax']}, "
        f"jaxlib {v['jaxlib']}. The CPU has no bfloat16 or float16 arithmetic units: XLA "
        "converts to float32 around each operation, so the low-precision policies are slower "
        "here; they pay off on GPUs with tensor cores and on TPUs.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_section(args.out, "precision", text)


if __name__ == "__main__":
    main()
