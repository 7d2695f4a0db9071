"""Training throughput of jaxnn.fit against the loops a user would write instead.

Tasks (from the training issue):

- T1 playground: MLP 2-8-8-1, tanh, sigmoid cross-entropy, SGD lr 0.03, batch 10, 1000 points.
- T2 MNIST-shaped: MLP 784-512-512-10, relu, softmax cross-entropy on integer labels, Adam 1e-3,
  batch 128, 60,000 samples (random data of MNIST's shape: throughput does not depend on values).

Each implementation runs in its own process (``--worker``), trains one epoch to compile, then
times ``--epochs`` epochs, each ended by ``block_until_ready`` (or its library's equivalent).
The driver interleaves the processes over ``--rounds`` rounds and reports the median epoch of all
rounds as samples per second, with the compile epoch apart. The jaxnn worker also records the
peak resident memory that ``fit`` adds on T2.

Run (about 10 minutes on 2 cores; needs ``pip install 'jaxnn[bench]' torch==2.13.0``)::

    python experiments/bench_fit.py --rounds 3 --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _report
import numpy as np
from _report import write_section

HERE = Path(__file__).resolve().parent
IMPLS = [
    "jaxnn_fit",
    "jaxnn_fit_host",
    "jax_scan_epoch",
    "jax_step",
    "flax_nnx",
    "flax_linen",
    "equinox",
    "keras_jax",
    "torch_cpu",
]
TASKS = {
    "T1": {"n": 1000, "batch": 10, "sizes": [2, 8, 8, 1], "epochs": 40},
    "T2": {"n": 60000, "batch": 128, "sizes": [784, 512, 512, 10], "epochs": 3},
}


def make_data(task: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    n = TASKS[task]["n"]
    if task == "T1":  # the Playground's circle: radius 5, label 1 inside radius 2.5
        r = np.concatenate([rng.uniform(0, 2.5, n // 2), rng.uniform(3.5, 5, n - n // 2)])
        angle = rng.uniform(0, 2 * np.pi, n)
        x = np.stack([r * np.sin(angle), r * np.cos(angle)], 1).astype(np.float32)
        y = (r < 3).astype(np.float32)[:, None]
        return x, y
    return rng.normal(size=(n, 784)).astype(np.float32), rng.integers(0, 10, n).astype(np.int32)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def reset_peak() -> int:
    """Resets the kernel's peak-RSS counter (Linux) and returns the resident bytes now."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_kib("VmRSS") * 1024


def peak_added(start: int) -> int:
    """Peak resident bytes since :func:`reset_peak`, above ``start``."""
    return _status_kib("VmHWM") * 1024 - start


# ------------------------------------------------------------------------------------------------
# Workers: each returns (compile_seconds, [epoch_seconds, ...], extra)


def _jaxnn_fit(task, x, y, epochs, callbacks):
    import jax
    import jax.numpy as jnp

    import jaxnn
    from jaxnn.layers import Dense

    cfg = TASKS[task]
    act = jnp.tanh if task == "T1" else jax.nn.relu
    layers = []
    for units in cfg["sizes"][1:-1]:
        layers += [Dense(units), act]
    model = jaxnn.serial(*layers, Dense(cfg["sizes"][-1]))
    loss = "sigmoid_binary_cross_entropy" if task == "T1" else "softmax_cross_entropy"
    optimizer, rate = ("sgd", 0.03) if task == "T1" else ("adam", 1e-3)
    before = reset_peak()
    ts, history = jaxnn.fit(
        model,
        (x, y),
        loss=loss,
        optimizer=optimizer,
        learning_rate=rate,
        epochs=epochs + 1,
        batch_size=cfg["batch"],
        callbacks=callbacks,
    )
    added = peak_added(before)
    times = history.epoch_times  # fit's own clock: each epoch's share of its compiled call
    state_bytes = sum(a.nbytes for a in jax.tree.leaves((ts.params, ts.opt_state)))
    extra = {"added_bytes": added, "data_bytes": x.nbytes + y.nbytes, "state_bytes": state_bytes}
    return times[0], times[1:], extra


def worker_jaxnn_fit(task, x, y, epochs):
    """fit with its defaults: several epochs per compiled call (no callback needs the host)."""
    return _jaxnn_fit(task, x, y, epochs, [])


def worker_jaxnn_fit_host(task, x, y, epochs):
    """fit with a callback that may read the TrainState: the host steps in after every epoch."""
    import jaxnn

    marks = []
    timer = jaxnn.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs, run: marks.append(time.perf_counter())
    )
    start = time.perf_counter()
    _, _, extra = _jaxnn_fit(task, x, y, epochs, [timer])
    times = np.diff([start] + marks).tolist()
    return times[0], times[1:], extra


def _plain_setup(task, x, y):
    import jax
    import jax.numpy as jnp
    import optax

    sys.path.insert(0, str(HERE))
    import _ref_plain_jax as ref

    cfg = TASKS[task]
    loss = ref.make_loss(task)
    opt = optax.sgd(0.03) if task == "T1" else optax.adam(1e-3)
    params = ref.init_mlp(jax.random.key(0), cfg["sizes"])
    return ref, loss, opt, params, jnp.asarray(x), jnp.asarray(y)


def worker_jax_scan_epoch(task, x, y, epochs):
    import jax

    before = reset_peak()
    ref, loss, opt, params, xd, yd = _plain_setup(task, x, y)
    epoch_fn = ref.scan_epoch_runner(loss, opt, xd, yd, TASKS[task]["batch"])
    opt_state = opt.init(params)
    times = []
    for e in range(epochs + 1):
        t = time.perf_counter()
        params, opt_state, value = epoch_fn(params, opt_state, jax.random.key(e))
        value.block_until_ready()
        times.append(time.perf_counter() - t)
    return times[0], times[1:], {"added_bytes": peak_added(before)}


def worker_jax_step(task, x, y, epochs):
    import jax

    ref, loss, opt, params, xd, yd = _plain_setup(task, x, y)
    step = ref.step_runner(loss, opt)
    opt_state, bs, rng = opt.init(params), TASKS[task]["batch"], np.random.default_rng(0)
    times = []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        perm = rng.permutation(len(x))
        for a in range(0, len(x) - bs + 1, bs):
            rows = perm[a : a + bs]
            (params, opt_state), value = step((params, opt_state), (x[rows], y[rows]))
        jax.block_until_ready(value)
        times.append(time.perf_counter() - t)
    return times[0], times[1:], {}


def _batches(n, bs, rng):
    perm = rng.permutation(n)
    return [perm[a : a + bs] for a in range(0, n - bs + 1, bs)]


def worker_flax_nnx(task, x, y, epochs):
    import jax
    import optax
    from flax import nnx

    cfg = TASKS[task]
    act = jax.nn.tanh if task == "T1" else jax.nn.relu

    class MLP(nnx.Module):
        def __init__(self, sizes, rngs):
            self.layers = nnx.List(
                [nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
            )

        def __call__(self, x):
            for layer in self.layers[:-1]:
                x = act(layer(x))
            return self.layers[-1](x)

    model = MLP(cfg["sizes"], nnx.Rngs(0))
    tx = optax.sgd(0.03) if task == "T1" else optax.adam(1e-3)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    metrics = nnx.MultiMetric(loss=nnx.metrics.Average("loss"))

    def loss_fn(model, xb, yb):
        logits = model(xb)
        if task == "T1":
            return optax.sigmoid_binary_cross_entropy(logits, yb).mean(), logits
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean(), logits

    @nnx.jit
    def train_step(model, optimizer, metrics, xb, yb):
        (loss, _), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, xb, yb)
        metrics.update(loss=loss)
        optimizer.update(model, grads)

    rng, times = np.random.default_rng(0), []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        for rows in _batches(len(x), cfg["batch"], rng):
            train_step(model, optimizer, metrics, x[rows], y[rows])
        float(metrics.compute()["loss"])
        metrics.reset()
        times.append(time.perf_counter() - t)
    return times[0], times[1:], {}


def worker_flax_linen(task, x, y, epochs):
    import flax.linen as nn
    import jax
    import optax
    from flax.training import train_state

    cfg = TASKS[task]
    act = nn.tanh if task == "T1" else nn.relu

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            for units in cfg["sizes"][1:-1]:
                x = act(nn.Dense(units)(x))
            return nn.Dense(cfg["sizes"][-1])(x)

    model = MLP()
    params = model.init(jax.random.key(0), x[:1])["params"]
    tx = optax.sgd(0.03) if task == "T1" else optax.adam(1e-3)
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)

    @jax.jit
    def train_step(state, xb, yb):
        def loss_fn(params):
            logits = state.apply_fn({"params": params}, xb)
            if task == "T1":
                return optax.sigmoid_binary_cross_entropy(logits, yb).mean()
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), loss

    rng, times = np.random.default_rng(0), []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        for rows in _batches(len(x), cfg["batch"], rng):
            state, loss = train_step(state, x[rows], y[rows])
        loss.block_until_ready()
        times.append(time.perf_counter() - t)
    return times[0], times[1:], {}


def worker_equinox(task, x, y, epochs):
    import equinox as eqx
    import jax
    import optax

    cfg = TASKS[task]
    act = jax.nn.tanh if task == "T1" else jax.nn.relu
    sizes = cfg["sizes"]
    model = eqx.nn.MLP(
        sizes[0], sizes[-1], sizes[1], len(sizes) - 2, activation=act, key=jax.random.key(0)
    )
    tx = optax.sgd(0.03) if task == "T1" else optax.adam(1e-3)
    opt_state = tx.init(eqx.filter(model, eqx.is_array))

    @eqx.filter_jit
    def train_step(model, opt_state, xb, yb):
        def loss_fn(model):
            logits = jax.vmap(model)(xb)
            if task == "T1":
                return optax.sigmoid_binary_cross_entropy(logits, yb).mean()
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

        loss, grads = eqx.filter_value_and_grad(loss_fn)(model)
        updates, opt_state = tx.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    rng, times = np.random.default_rng(0), []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        for rows in _batches(len(x), cfg["batch"], rng):
            model, opt_state, loss = train_step(model, opt_state, x[rows], y[rows])
        loss.block_until_ready()
        times.append(time.perf_counter() - t)
    return times[0], times[1:], {}


def worker_keras_jax(task, x, y, epochs):
    os.environ["KERAS_BACKEND"] = "jax"
    import keras

    cfg = TASKS[task]
    act = "tanh" if task == "T1" else "relu"
    layers = [keras.Input((cfg["sizes"][0],))]
    layers += [keras.layers.Dense(u, activation=act) for u in cfg["sizes"][1:-1]]
    model = keras.Sequential(layers + [keras.layers.Dense(cfg["sizes"][-1])])
    if task == "T1":
        model.compile(
            optimizer=keras.optimizers.SGD(0.03),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
        )
    else:
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    marks = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            marks.append(time.perf_counter())

    start = time.perf_counter()
    model.fit(
        x,
        y,
        batch_size=cfg["batch"],
        epochs=epochs + 1,
        shuffle=True,
        verbose=0,
        callbacks=[Timer()],
    )
    times = np.diff([start] + marks).tolist()
    return times[0], times[1:], {}


def worker_torch_cpu(task, x, y, epochs):
    import torch

    torch.manual_seed(0)
    cfg = TASKS[task]
    act = torch.nn.Tanh if task == "T1" else torch.nn.ReLU
    sizes, mods = cfg["sizes"], []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        mods += [torch.nn.Linear(a, b), act()]
    model = torch.nn.Sequential(*mods, torch.nn.Linear(sizes[-2], sizes[-1]))
    if task == "T1":
        opt, loss_fn = torch.optim.SGD(model.parameters(), lr=0.03), torch.nn.BCEWithLogitsLoss()
    else:
        opt, loss_fn = torch.optim.Adam(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y if task == "T1" else y.astype(np.int64))
    times, bs = [], cfg["batch"]
    for _ in range(epochs + 1):
        t = time.perf_counter()
        perm = torch.randperm(len(xt))
        for a in range(0, len(xt) - bs + 1, bs):
            rows = perm[a : a + bs]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[rows]), yt[rows])
            loss.backward()
            opt.step()
        float(loss)
        times.append(time.perf_counter() - t)
    return times[0], times[1:], {}


def run_worker(impl: str, task: str, epochs: int) -> None:
    import contextlib

    x, y = make_data(task)
    with contextlib.redirect_stdout(sys.stderr):  # fit's progress lines, Keras' logs
        compile_s, times, extra = globals()[f"worker_{impl}"](task, x, y, epochs)
    print(json.dumps({"compile_s": compile_s, "epoch_s": times, **extra}))


# ------------------------------------------------------------------------------------------------
# Driver


def versions() -> dict[str, str]:
    return _report.versions(["jax", "jaxlib", "optax", "flax", "equinox", "keras", "torch"])


def drive(args: argparse.Namespace) -> None:
    results: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.rounds):
        for task in args.tasks:
            for impl in args.impls:
                epochs = TASKS[task]["epochs"]
                cmd = [
                    sys.executable,
                    __file__,
                    "--worker",
                    impl,
                    "--task",
                    task,
                    "--epochs",
                    str(epochs),
                ]
                proc = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    env=dict(os.environ, PYTHONWARNINGS="ignore"),
                )
                if proc.returncode:
                    print(f"{impl} {task} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                    continue
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                results.setdefault((impl, task), []).append(result)
                rate = TASKS[task]["n"] / statistics.median(result["epoch_s"])
                print(f"round {r + 1} {task} {impl:15s} {rate:12,.0f} samples/s", flush=True)
    write_report(results, args)


READING = """
How to read this:

- *vs scan epoch* divides by plain JAX with the whole epoch in one jitted `lax.scan` and one
  Python call per epoch, the fastest loop a JAX user writes by hand. Issue 12's target for `fit`
  with its defaults (history and logs every epoch, shuffling on) is at least 1.0x on T1 and T2.
- `jaxnn_fit` runs with its defaults: no callback needs the host, so several epochs run per
  compiled call and each epoch's time is its share of the call (from `history.epoch_times`).
  `jaxnn_fit_host` adds a `LambdaCallback`, which may read the TrainState, so `fit` returns to
  the host after every epoch (timed by that callback).
- On T1 a step is a few microseconds of arithmetic, so per-step Python and dispatch overhead
  decides: every per-step loop (Flax, Equinox, Keras, PyTorch) is 5x to 60x slower than a fused
  epoch. On T2 the matrix products dominate and the gaps shrink.
- This machine's timings move by 10-20% between runs (2 shared cores); compare rows of one run.
- The first epoch includes tracing and compilation; `fit`'s also includes its data checks.
- Peak memory counts the resident set, so it includes XLA's runtime and compiled code as well as
  the device copy of the data (the data stays resident so that epochs need no transfers).
"""


def write_report(results: dict, args: argparse.Namespace) -> None:
    def rate(impl, task):
        runs = results.get((impl, task))
        if not runs:
            return None
        return TASKS[task]["n"] / statistics.median(t for run in runs for t in run["epoch_s"])

    def compile_s(impl, task):
        runs = results.get((impl, task))
        return statistics.median(run["compile_s"] for run in runs) if runs else None

    lines = [
        "| implementation | T1 samples/s | T1 vs scan epoch | T1 first epoch (s) "
        "| T2 samples/s | T2 vs scan epoch | T2 first epoch (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for impl in args.impls:
        cells = [impl]
        for task in ("T1", "T2"):
            r, base, c = rate(impl, task), rate("jax_scan_epoch", task), compile_s(impl, task)
            cells += (
                ["n/a"] * 3
                if r is None
                else [f"{r:,.0f}", f"{r / base:.2f}x" if base else "n/a", f"{c:.2f}"]
            )
        lines.append("| " + " | ".join(cells) + " |")
    memory = ""
    runs = {impl: results.get((impl, "T2")) for impl in ("jaxnn_fit", "jax_scan_epoch")}
    if runs["jaxnn_fit"]:
        run = runs["jaxnn_fit"][0]
        base = run["data_bytes"] + run["state_bytes"]
        added = statistics.median(r["added_bytes"] for r in runs["jaxnn_fit"])
        memory = (
            f"Peak memory on T2, resident set added from just before training to its peak "
            f"(Linux VmHWM, reset first): `fit` {added / 2**20:,.0f} MiB, against data + "
            f"parameters + optimizer state of {base / 2**20:,.0f} MiB ({added / base:.2f}x)"
        )
        if runs["jax_scan_epoch"]:
            ref = statistics.median(r["added_bytes"] for r in runs["jax_scan_epoch"])
            memory += f"; the plain-JAX scan epoch adds {ref / 2**20:,.0f} MiB ({ref / base:.2f}x)"
        memory += ".\n"
    text = "\n".join(lines)
    print(text + "\n" + memory)
    if args.out:
        write_section(
            args.out,
            "fit",
            "## Training throughput: `experiments/bench_fit.py`\n\n"
            + f"Machine: {os.cpu_count()} CPU cores, backend CPU. Versions: "
            + ", ".join(f"{k} {v}" for k, v in versions().items())
            + f".\n\nCommand: `python experiments/bench_fit.py --rounds {args.rounds}"
            + f" --out {args.out}`."
            + " Samples per second from the median epoch over all rounds, each implementation in"
            + " its own process, interleaved; the first epoch (compilation) apart.\n\n"
            + text
            + "\n\n"
            + memory
            + READING,
        )


# ------------------------------------------------------------------------------------------------
# Time to the first result: the demo against the floor of importing JAX and running one operation

FLOOR = "import jax, jax.numpy as jnp; (jnp.ones(3) + 1).block_until_ready()"


def _wall(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - start, proc.stderr


def first_result(rounds: int) -> dict:
    """Medians over interleaved rounds: floor, demo with a cold and a warm cache, imports."""
    import tempfile

    env = dict(os.environ, PYTHONWARNINGS="ignore")
    demo = [sys.executable, "-m", "jaxnn.demo"]
    times: dict[str, list[float]] = {}
    for r in range(rounds):
        cache = tempfile.mkdtemp(prefix="jaxnn-cache-")
        with_cache = dict(env, JAXNN_COMPILATION_CACHE=cache)
        runs = {
            "floor": ([sys.executable, "-c", FLOOR], env),
            "demo_cold": (demo, with_cache),  # an empty cache folder: everything compiles
            "demo_warm": (demo, with_cache),  # the same folder, now filled
            "import_jax": ([sys.executable, "-c", "import jax"], env),
            "import_jaxnn": ([sys.executable, "-c", "import jaxnn"], env),
        }
        for name, (cmd, run_env) in runs.items():
            times.setdefault(name, []).append(_wall(cmd, run_env)[0])
        print(
            f"round {r + 1} first result: "
            + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
            flush=True,
        )
    _, log = _wall(demo, dict(env, JAXNN_COMPILATION_CACHE="off", JAX_LOG_COMPILES="1"))
    compiled = [
        line.split("Finished XLA compilation of ")[1].split(" in ")[0]
        for line in log.splitlines()
        if "Finished XLA compilation of" in line
    ]
    return {"median": {k: statistics.median(v) for k, v in times.items()}, "compiled": compiled}


def write_first_result(result: dict, args: argparse.Namespace) -> None:
    m = result["median"]
    floor = m["floor"]
    rows = [
        ("import jax, one tiny operation (the floor)", m["floor"], ""),
        ("`python -m jaxnn.demo`, cold compilation cache", m["demo_cold"], "3x"),
        ("`python -m jaxnn.demo`, warm compilation cache", m["demo_warm"], "2.2x"),
        ("`import jax`", m["import_jax"], ""),
        ("`import jaxnn`", m["import_jaxnn"], ""),
    ]
    table = "| what | wall seconds | / floor | target |\n| --- | ---: | ---: | ---: |\n"
    table += "\n".join(
        f"| {what} | {sec:.2f} | {sec / floor:.2f}x | {target} |" for what, sec, target in rows
    )
    names = ", ".join(f"`{n}`" for n in result["compiled"])
    text = (
        "## Time to the first result: `experiments/bench_fit.py`\n\n"
        "Command: `python experiments/bench_fit.py --first-result-rounds "
        f"{args.first_result_rounds} --out {args.out}`. Median wall time of whole processes over "
        f"{args.first_result_rounds} interleaved rounds; each round's cold run gets a new, empty "
        "cache folder (`JAXNN_COMPILATION_CACHE`) and the warm run reuses it.\n\n"
        + table
        + f"\n\nThe demo (40 epochs of the digits MLP with validation, then the test set) compiles "
        f"{len(result['compiled'])} programs with the cache off: {names}.\n"
    )
    print(text)
    if args.out:
        write_section(args.out, "first-result", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=IMPLS)
    parser.add_argument("--task", choices=sorted(TASKS))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--impls", nargs="+", default=IMPLS, choices=IMPLS)
    parser.add_argument("--tasks", nargs="+", default=sorted(TASKS), choices=sorted(TASKS))
    parser.add_argument("--out", help="write the report (Markdown) here")
    parser.add_argument(
        "--first-result-rounds", type=int, default=5, help="rounds of the demo timing (0: skip)"
    )
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.task, args.epochs)
        return
    if args.first_result_rounds:
        write_first_result(first_result(args.first_result_rounds), args)
    if args.rounds:
        drive(args)


if __name__ == "__main__":
    main()
