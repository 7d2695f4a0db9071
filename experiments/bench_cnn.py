"""T3: training throughput of a small CNN with jaxnn.fit against the loops a user would write.

T3 (from the conv/recurrent issue): Conv(32, 3x3, valid, relu) - Conv(64, 3x3, valid, relu) -
MaxPool 2x2 - Flatten - Dense 128 relu - Dense 10 on 28x28x1 inputs, softmax cross-entropy on
integer labels, Adam 1e-3, batch 128. The data is random of MNIST's shape (throughput does not
depend on the values); ``--n`` samples per epoch.

Implementations, each in its own process (``--worker``), interleaved over ``--rounds`` rounds:

- ``jaxnn_fit``: ``jaxnn.fit`` with its defaults (on CPU: convolutions as patches + one matrix
  product, one compiled step per batch);
- ``jaxnn_fit_command``: the same in a process whose ``XLA_FLAGS`` turns YNNPACK's CPU
  convolutions off, as the ``jaxnn`` command sets for itself (``algorithm="auto"`` then takes
  XLA's convolution);
- ``jaxnn_fit_xla_conv``: the same with ``algorithm="xla"`` (XLA's convolution), to show what the
  CPU path buys;
- ``jaxnn_fit_scan``: the default algorithm with the whole epoch in one ``lax.scan``
  (``steps_per_chunk=steps``), to check ``fit``'s rule of one step per chunk for convolutions;
- ``jax_step``: plain JAX, ``lax.conv_general_dilated`` + ``reduce_window``, a jitted step per
  batch; ``flax_nnx``, ``keras_jax`` (Keras 3 on JAX, ``model.fit``), ``torch_cpu``.

Each trains one epoch to compile, then ``--epochs`` timed epochs; samples per second come from the
median epoch. Run (about 10 minutes on 2 cores;
needs ``pip install 'jaxnn[bench]' torch==2.13.0``)::

    python experiments/bench_cnn.py --rounds 3 --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import _report
import numpy as np
from _report import write_section

IMPLS = [
    "jaxnn_fit",
    "jaxnn_fit_command",
    "jaxnn_fit_xla_conv",
    "jaxnn_fit_scan",
    "jax_step",
    "flax_nnx",
    "keras_jax",
    "torch_cpu",
]
BATCH = 128


def make_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 28, 28, 1)).astype(np.float32)
    return x, rng.integers(0, 10, n).astype(np.int32)


def _batches(n, rng):
    perm = rng.permutation(n)
    return [perm[a : a + BATCH] for a in range(0, n - BATCH + 1, BATCH)]


def _jaxnn(x, y, epochs, **options):
    import jax

    import jaxnn
    from jaxnn.layers import Conv2D, Dense, Flatten, MaxPool

    algorithm = options.pop("algorithm", "auto")
    model = jaxnn.serial(
        Conv2D(32, 3, activation="relu", algorithm=algorithm),
        Conv2D(64, 3, activation="relu", algorithm=algorithm),
        MaxPool(2),
        Flatten(),
        Dense(128),
        jax.nn.relu,
        Dense(10),
    )
    marks = []
    timer = jaxnn.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs, run: marks.append(time.perf_counter())
    )
    start = time.perf_counter()
    jaxnn.fit(
        model,
        (x, y),
        loss="softmax_cross_entropy",
        optimizer="adam",
        learning_rate=1e-3,
        epochs=epochs + 1,
        batch_size=BATCH,
        callbacks=[timer],
        verbose=0,
        **options,
    )
    times = np.diff([start] + marks).tolist()
    return times[0], times[1:]


def worker_jaxnn_fit(x, y, epochs):
    return _jaxnn(x, y, epochs)


def worker_jaxnn_fit_command(x, y, epochs):
    return _jaxnn(x, y, epochs)  # the flag comes from the process's environment (drive)


def worker_jaxnn_fit_xla_conv(x, y, epochs):
    return _jaxnn(x, y, epochs, algorithm="xla")


def worker_jaxnn_fit_scan(x, y, epochs):
    return _jaxnn(x, y, epochs, steps_per_chunk=len(x) // BATCH)


def worker_jax_step(x, y, epochs):
    import jax
    import jax.numpy as jnp
    import optax

    def glorot(key, shape, fan_in, fan_out):
        limit = np.sqrt(6 / (fan_in + fan_out))
        return jax.random.uniform(key, shape, jnp.float32, -limit, limit)

    k = jax.random.split(jax.random.key(0), 4)
    params = {
        "c1": glorot(k[0], (3, 3, 1, 32), 9, 288), "b1": jnp.zeros(32),
        "c2": glorot(k[1], (3, 3, 32, 64), 288, 576), "b2": jnp.zeros(64),
        "d1": glorot(k[2], (9216, 128), 9216, 128), "e1": jnp.zeros(128),
        "d2": glorot(k[3], (128, 10), 128, 10), "e2": jnp.zeros(10),
    }  # fmt: skip
    dims = ("NHWC", "HWIO", "NHWC")

    def model(p, x):
        x = jax.nn.relu(
            jax.lax.conv_general_dilated(x, p["c1"], (1, 1), "VALID", dimension_numbers=dims)
            + p["b1"]
        )
        x = jax.nn.relu(
            jax.lax.conv_general_dilated(x, p["c2"], (1, 1), "VALID", dimension_numbers=dims)
            + p["b2"]
        )
        x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        x = jax.nn.relu(x.reshape(x.shape[0], -1) @ p["d1"] + p["e1"])
        return x @ p["d2"] + p["e2"]  # fmt: skip

    opt = optax.adam(1e-3)

    @jax.jit
    def step(p, s, xb, yb):
        def loss(p):
            return optax.softmax_cross_entropy_with_integer_labels(model(p, xb), yb).mean()

        value, grads = jax.value_and_grad(loss)(p)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    state, rng, times = opt.init(params), np.random.default_rng(0), []
    xd, yd = jax.device_put(x), jax.device_put(y)
    for _ in range(epochs + 1):
        t = time.perf_counter()
        for rows in _batches(len(x), rng):
            params, state, value = step(params, state, xd[rows], yd[rows])
        float(value)
        times.append(time.perf_counter() - t)
    return times[0], times[1:]


def worker_flax_nnx(x, y, epochs):
    import jax
    import optax
    from flax import nnx

    class CNN(nnx.Module):
        def __init__(self, rngs):
            self.c1 = nnx.Conv(1, 32, (3, 3), padding="VALID", rngs=rngs)
            self.c2 = nnx.Conv(32, 64, (3, 3), padding="VALID", rngs=rngs)
            self.d1 = nnx.Linear(9216, 128, rngs=rngs)
            self.d2 = nnx.Linear(128, 10, rngs=rngs)

        def __call__(self, x):
            x = jax.nn.relu(self.c2(jax.nn.relu(self.c1(x))))
            x = nnx.max_pool(x, (2, 2), (2, 2))
            return self.d2(jax.nn.relu(self.d1(x.reshape(x.shape[0], -1))))

    model = CNN(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, xb, yb):
        def loss_fn(model):
            return optax.softmax_cross_entropy_with_integer_labels(model(xb), yb).mean()

        value, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return value

    rng, times = np.random.default_rng(0), []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        for rows in _batches(len(x), rng):
            value = train_step(model, optimizer, x[rows], y[rows])
        float(value)
        times.append(time.perf_counter() - t)
    return times[0], times[1:]


def worker_keras_jax(x, y, epochs):
    os.environ["KERAS_BACKEND"] = "jax"
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    marks = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            marks.append(time.perf_counter())

    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=epochs + 1, verbose=0, callbacks=[Timer()])
    times = np.diff([start] + marks).tolist()
    return times[0], times[1:]


def worker_torch_cpu(x, y, epochs):
    import torch

    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip
    opt, loss_fn = torch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # PyTorch wants NCHW
    yt = torch.from_numpy(y.astype(np.int64))
    times = []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        perm = torch.randperm(len(xt))
        for a in range(0, len(xt) - BATCH + 1, BATCH):
            rows = perm[a : a + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[rows]), yt[rows])
            loss.backward()
            opt.step()
        float(loss)
        times.append(time.perf_counter() - t)
    return times[0], times[1:]


def run_worker(impl: str, n: int, epochs: int) -> None:
    import contextlib

    x, y = make_data(n)
    with contextlib.redirect_stdout(sys.stderr):
        compile_s, times = globals()[f"worker_{impl}"](x, y, epochs)
    print(json.dumps({"compile_s": compile_s, "epoch_s": times}))


def versions() -> str:
    found = _report.versions(["jax", "jaxlib", "optax", "flax", "keras", "torch"])
    return ", ".join(f"{name} {v}" for name, v in found.items())


def drive(args: argparse.Namespace) -> None:
    results: dict[str, list[dict]] = {}
    for r in range(args.rounds):
        for impl in args.impls:
            cmd = [sys.executable, __file__, "--worker", impl, "--n", str(args.n),
                   "--epochs", str(args.epochs)]  # fmt: skip
            env = dict(os.environ, PYTHONWARNINGS="ignore")
            if impl == "jaxnn_fit_command":
                from jaxnn.cli.app import own_process_flags

                env.pop("XLA_FLAGS", None)
                own_process_flags(env)
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode:
                print(f"{impl} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            results.setdefault(impl, []).append(result)
            rate = args.n // BATCH * BATCH / statistics.median(result["epoch_s"])
            print(f"round {r + 1} {impl:20s} {rate:10,.0f} samples/s", flush=True)
    report(results, args)


def report(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    samples = args.n // BATCH * BATCH

    def rate(impl):
        runs = results.get(impl)
        if not runs:
            return None
        return samples / statistics.median(t for run in runs for t in run["epoch_s"])

    torch_rate = rate("torch_cpu")
    lines = [
        "| implementation | T3 samples/s | vs PyTorch CPU | first epoch (s) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for impl in args.impls:
        r = rate(impl)
        if r is None:
            lines.append(f"| {impl} | failed | | |")
            continue
        first = statistics.median(run["compile_s"] for run in results[impl])
        versus = f"{r / torch_rate:.2f}x" if torch_rate else "n/a"
        lines.append(f"| {impl} | {r:,.0f} | {versus} | {first:.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        write_section(
            args.out,
            "cnn",
            "## T3, a small CNN: `experiments/bench_cnn.py`\n\n"
            f"Machine: {os.cpu_count()} CPU cores, backend CPU. Versions: {versions()}.\n\n"
            f"Command: `python experiments/bench_cnn.py --rounds {args.rounds} --n {args.n} "
            f"--epochs {args.epochs} --out {args.out}`. {samples:,} samples per epoch; samples "
            "per second from the median epoch over all rounds, each implementation in its own "
            "process, interleaved; the first epoch (compilation) apart.\n\n"
            + table
            + "\n"
            + CNN_READING,
        )


CNN_READING = """
How to read this:

- XLA's CPU convolutions are slow while its matrix products are not, so on CPU jaxnn's `Conv`
  layers compute patches (one gather) and one matrix product, and differentiate the input through
  XLA's transposed convolution, which is fast (`algorithm="auto"`; see `jaxnn/layers/conv.py`).
  `jaxnn_fit_xla_conv` is the same `fit` with XLA's convolution: the gap between the two rows is
  what that buys. Other backends keep XLA's convolution (cuDNN on GPU).
- `jaxnn_fit_command` is what `jaxnn train` runs on a CPU: the command sets
  `XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=-individual_convolution` for its own process
  (unless `XLA_FLAGS` is set), and `algorithm="auto"` then takes XLA's convolution without
  YNNPACK. A library user gets the same by setting that flag before starting Python.
- `jaxnn_fit_scan` runs the whole epoch in one `lax.scan`; `fit` runs one compiled step per batch
  for convolution models on CPU (`jaxnn.train.default_steps_per_chunk`) because of this row.
- Every JAX row pays for XLA's CPU kernels; PyTorch calls oneDNN's convolutions directly.
- This machine's timings move by 10-20% between runs; compare rows of one run.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=IMPLS)
    parser.add_argument("--n", type=int, default=3840, help="samples per epoch")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per process")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--impls", nargs="+", default=IMPLS, choices=IMPLS)
    parser.add_argument("--out", help="write the report section (Markdown) here")
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.n, args.epochs)
    else:
        drive(args)


if __name__ == "__main__":
    main()
