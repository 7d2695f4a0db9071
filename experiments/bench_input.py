"""Input pipelines: fit's throughput from a Grain dataset and a generator against in-memory arrays,
and the memory that training from a memory-mapped data set larger than 2 GB adds.

Part 1 trains the MLP task (784-512-512-10, batch 128, Adam) on the same rows three ways, in one
process, interleaved: in-memory arrays (copied to the device, shuffled there, whole epochs
compiled), an endless Python generator of shuffled batches (``steps_per_epoch``), and a Grain
``MapDataset`` of shuffled batches. Each repeat is one ``fit`` call; an epoch's time is the
median of its epochs after the first (which compiles). The stream's chunks are read, checked and
copied to the device by a background thread while the device trains on the last one.

Part 2 writes a ``float32`` data set of at least 2 GB to ``--tmp`` (block by block, never whole
in memory), opens it with ``np.load(mmap_mode="r")``, resets the kernel's peak-RSS counter and
trains one epoch on it (a 784-64-10 MLP: the model's size does not change what the data costs),
then reports the peak resident memory added (Linux ``VmHWM``): once as the process's first
``fit``, once after a warm-up ``fit`` on a little data in memory; then it deletes the file.

    python experiments/bench_input.py --out docs/benchmarks.md     # about 4 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

import jaxnn
from jaxnn.layers import Dense

sys.path.insert(0, str(Path(__file__).parent))
from _report import versions, write_section  # noqa: E402

BATCH = 128


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def reset_peak() -> int:
    """Resets the kernel's peak-RSS counter (Linux) and returns the resident bytes now."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_kib("VmRSS") * 1024


def mlp(hidden: tuple[int, ...]) -> jaxnn.Layer:
    layers: list = []
    for h in hidden:
        layers += [Dense(h), jax.nn.relu]
    return jaxnn.serial(*layers, Dense(10))


def _epoch_seconds(history: jaxnn.callbacks.History) -> float:
    return statistics.median(history.epoch_times[1:])


def throughput(rows: int, epochs: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per epoch of each input kind, ``repeats`` interleaved fit calls each."""
    import grain

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 784)).astype(np.float32)
    y = rng.integers(0, 10, rows).astype(np.int32)
    steps = rows // BATCH

    def generator():
        for epoch in range(10**9):
            for i in np.random.default_rng(epoch).permutation(steps):
                yield x[i * BATCH : (i + 1) * BATCH], y[i * BATCH : (i + 1) * BATCH]

    def grain_set():
        take = lambda i: (x[i * BATCH : (i + 1) * BATCH], y[i * BATCH : (i + 1) * BATCH])  # noqa: E731
        return grain.MapDataset.range(steps).shuffle(seed=0).map(take)

    kw = dict(loss="softmax_cross_entropy", epochs=epochs, batch_size=BATCH, verbose=0)
    model = mlp((512, 512))
    runs = {
        "arrays": lambda: jaxnn.fit(model, (x, y), **kw),
        "generator": lambda: jaxnn.fit(model, generator(), steps_per_epoch=steps, **kw),
        "grain": lambda: jaxnn.fit(model, grain_set(), **kw),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            _, history = run()
            times[name].append(_epoch_seconds(history))
    return times


def _write_npy(path: Path, rows: int, features: int, block: int = 16384) -> None:
    """A float32 ``(rows, features)`` .npy file written block by block (never whole in memory)."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (rows, features)}
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for start in range(0, rows, block):
            rng.normal(size=(min(block, rows - start), features)).astype(np.float32).tofile(f)
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def mapped(gigabytes: float, folder: str) -> dict[str, float]:
    """Peak resident memory that one epoch of training on a memory-mapped file adds.

    Measured twice: for the first ``fit`` of the process (the figure includes loading XLA's
    code and compiling), and again after a warm-up ``fit`` of the same model on a little data
    in memory (what the data costs).
    """
    rows = int(np.ceil(gigabytes * 1e9 / (784 * 4)))
    kw = dict(loss="softmax_cross_entropy", epochs=1, batch_size=1024, verbose=0)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / "x.npy"
        _write_npy(path, rows, 784)
        y = np.random.default_rng(1).integers(0, 10, rows).astype(np.int32)
        size = path.stat().st_size
        x = np.load(path, mmap_mode="r")
        out: dict[str, float] = {"bytes": size, "rows": rows}
        for run in ("cold", "warm"):
            if run == "warm":
                small = np.asarray(x[:20480])
                jaxnn.fit(mlp((64,)), (small, y[:20480]), data_on_device=False, **kw)
                del small
            before = reset_peak()
            start = time.perf_counter()
            _, history = jaxnn.fit(mlp((64,)), (x, y), **kw)
            out[f"seconds_{run}"] = time.perf_counter() - start
            out[f"added_{run}"] = _status_kib("VmHWM") * 1024 - before
            out["loss"] = history.history["loss"][-1]
        del x
    return out


def report(times: dict[str, list[float]], mem: dict[str, float], rows: int) -> str:
    base = statistics.median(times["arrays"])
    lines = [
        "## Input pipelines: streams and memory-mapped data (`experiments/bench_input.py`)",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores (shared), "
        f"{jax.default_backend()} backend; "
        + ", ".join(f"{k} {v}" for k, v in versions(["jax", "grain", "numpy"]).items())
        + ".",
        "",
        f"MLP 784-512-512-10, batch {BATCH}, Adam, {rows:,} rows ({rows // BATCH} steps per "
        f"epoch); seconds per epoch, median over epochs after the first of each `fit` call, "
        f"then over {len(times['arrays'])} interleaved calls.",
        "",
        "| input | s / epoch | samples / s | vs arrays |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, label in (("arrays", "in-memory arrays (on the device)"),
                        ("generator", "Python generator, `steps_per_epoch`"),
                        ("grain", "Grain `MapDataset` of batches")):  # fmt: skip
        t = statistics.median(times[name])
        lines.append(f"| {label} | {t:.3f} | {rows / t:,.0f} | {base / t:.2f}x |")
    lines += [
        "",
        f"Memory-mapped `x.npy` of {mem['bytes'] / 1e9:.2f} GB ({mem['rows']:,} rows of 784 "
        f"float32), one shuffled epoch of a 784-64-10 MLP at batch 1024 "
        f"({mem['seconds_warm']:.0f} s, checks included): peak resident memory added "
        f"{mem['added_warm'] / 2**20:,.0f} MiB after a warm-up `fit` of the same model on "
        f"20,480 rows in memory, {mem['added_cold'] / 2**20:,.0f} MiB as the process's first "
        f"`fit` (which also maps XLA's code and compiles). Linux VmHWM, reset just before "
        f"`fit`. The rows go to the device in chunks of at most 16 MiB, gathered 64 rows at a "
        f"time with the file's pages released after each (a row read maps about 1 MiB of the "
        f"file around it).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16384)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gigabytes", type=float, default=2.05)
    parser.add_argument("--tmp", default="/tmp")
    parser.add_argument("--out", default="docs/benchmarks.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    mem = mapped(args.gigabytes, args.tmp)
    print(mem, flush=True)
    times = throughput(args.rows, args.epochs, args.repeats)
    text = report(times, mem, args.rows)
    print(text)
    if not args.no_write:
        write_section(args.out, "input", text)


if __name__ == "__main__":
    main()
