"""Data-parallel scaling of ``jaxnn.fit`` over 1, 2 and 4 simulated CPU devices.

Each device count runs in a fresh process (the count is fixed when jax starts, with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``). The model is an MLP on 8192 rows with a
global batch of 256; each process fits once to compile, then times ``--epochs`` epochs and reports
the median step time of ``--repeats`` timed fits, once with the data whole on every device (the
default) and once split by rows over the devices, as when each host feeds its own rows
(``distributed.process_local_array``). Prints the markdown table shown on
docs/parallel.md. Simulated CPU devices share the machine's cores, so this measures the cost of
the partitioned program and its collectives, not a speed-up; on a GPU host pass ``--devices``
counts up to the number of GPUs instead (without the simulated-device flag).

Usage: python experiments/bench_parallel.py [--counts 1 2 4] [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def child(count: int, epochs: int, repeats: int) -> dict:
    import jax
    import numpy as np

    import jaxnn
    from jaxnn.layers import Dense

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8192, 64)).astype("float32")
    y = (x[:, :8].sum(axis=1) > 0).astype("int32")
    model = jaxnn.serial(Dense(256), jax.nn.relu, Dense(256), jax.nn.relu, Dense(2))
    devices = jax.devices()[:count]
    kw = dict(loss="softmax_cross_entropy", batch_size=256, verbose=0)
    steps = epochs * (len(x) // 256)

    def median_step(data: tuple, **placement: object) -> float:
        jaxnn.fit(model, data, epochs=1, **kw, **placement)  # compile
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            ts, _ = jaxnn.fit(model, data, epochs=epochs, **kw, **placement)
            jax.block_until_ready(ts.params)
            times.append((time.perf_counter() - start) / steps)
        return 1e3 * sorted(times)[len(times) // 2]

    row = {
        "devices": count,
        "platform": devices[0].platform,
        "step_ms": median_step((x, y), devices=devices),
        "split_ms": None,
    }
    if count > 1:
        from jaxnn import distributed

        mesh = distributed.data_mesh(devices)
        split = (distributed.process_local_array(x, mesh), distributed.process_local_array(y, mesh))
        row["split_ms"] = median_step(split, mesh=mesh)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--real-devices", action="store_true", help="no simulated CPU devices")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.epochs, args.repeats)))
        return
    rows = []
    for count in args.counts:
        env = dict(os.environ)
        if not args.real_devices:
            env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={max(args.counts)}"
            env["JAX_PLATFORMS"] = "cpu"
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(count),
            "--epochs",
            str(args.epochs),
            "--repeats",
            str(args.repeats),
        ]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    base = rows[0]["step_ms"]
    print(
        "| devices | platform | step time (ms) | speed-up | scaling efficiency "
        "| step time, data split over the devices (ms) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        speedup = base / r["step_ms"]
        split = "" if r["split_ms"] is None else f"{r['split_ms']:.2f}"
        print(
            f"| {r['devices']} | {r['platform']} | {r['step_ms']:.2f} | {speedup:.2f}x | "
            f"{100 * speedup / r['devices']:.0f}% | {split} |"
        )


if __name__ == "__main__":
    main()
