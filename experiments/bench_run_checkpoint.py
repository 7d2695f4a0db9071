"""What the per-epoch checkpoint of ``jaxnn train`` costs (it makes ``--resume`` possible).

Trains the same model with :func:`jaxnn.fit` with and without the run's checkpoint callback
(:class:`jaxnn.cli.resume.RunCheckpoint`, an atomic msgpack write with fsync after every epoch),
interleaved over rounds, and reports the median epoch after the first (compiling) one. Two
models: the digits MLP of ``jaxnn train --data digits`` (64-128-10, 1,437 rows) and an
MNIST-shaped 784-512-512-10 MLP (Adam, batch 128, 6,000 synthetic rows). The checkpoint holds the
parameters and Adam's two moments, about 3x the parameter bytes.

Usage: python experiments/bench_run_checkpoint.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import jax
import numpy as np

import jaxnn
from jaxnn.cli.resume import RunCheckpoint
from jaxnn.layers import Dense


def _tasks() -> dict[str, tuple]:
    rng = np.random.default_rng(0)
    x, y = jaxnn.data.digits()  # 1,797 rows; the command trains on 80% of them
    mnist_x = rng.normal(size=(6000, 784)).astype(np.float32)
    mnist_y = rng.integers(0, 10, 6000)
    return {
        "digits MLP 64-128-10, batch 32": (
            jaxnn.serial(Dense(128), jax.nn.relu, Dense(10)),
            (x[:1437], y[:1437]),
            32,
        ),
        "784-512-512-10, batch 128": (
            jaxnn.serial(Dense(512), jax.nn.relu, Dense(512), jax.nn.relu, Dense(10)),
            (mnist_x, mnist_y),
            128,
        ),
    }


def _epoch_seconds(model, data, batch_size: int, checkpoint: bool, epochs: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        callbacks = [RunCheckpoint(Path(folder))] if checkpoint else []
        _, history = jaxnn.fit(
            model, data, loss="softmax_cross_entropy", optimizer="adam", epochs=epochs,
            batch_size=batch_size, callbacks=callbacks, verbose=0,
        )  # fmt: skip
    return statistics.median(history.epoch_times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    print("| model | epoch without | epoch with checkpoint | cost per epoch |")
    print("| --- | --- | --- | --- |")
    for name, (model, data, batch) in _tasks().items():
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            for checkpoint in (False, True):
                times[checkpoint].append(
                    _epoch_seconds(model, data, batch, checkpoint, args.epochs)
                )
        without, with_ = (statistics.median(times[c]) for c in (False, True))
        print(
            f"| {name} | {without * 1e3:.1f} ms | {with_ * 1e3:.1f} ms | "
            f"{(with_ - without) * 1e3:+.1f} ms ({with_ / without - 1:+.0%}) |"
        )


if __name__ == "__main__":
    main()
