"""T3 on CPU: which pure-JAX routes move a small CNN's training step toward PyTorch's.

T3 is bench_cnn.py's model: Conv(32, 3x3, valid, relu) - Conv(64, 3x3, valid, relu) - MaxPool 2x2
- Flatten - Dense 128 relu - Dense 10 on 28x28x1 inputs, softmax cross-entropy, Adam 1e-3, batch
128. Each route is one jitted training step (value and gradient + Adam) on a fixed batch, timed
step by step after compilation in its own process (XLA_FLAGS differ between routes); PyTorch's eager
step is timed the same way in every round, and the rounds interleave all routes. A route's figure is
128 / (median step); its ratio is to PyTorch's median over the same rounds, and the spread is the
lowest and highest per-round ratio. Every route's gradients are compared with the plain
``lax.conv_general_dilated`` route's (``max |g - g_ref| / max |g_ref|`` over all parameters).

``--breakdown`` also times the step's parts (each layer's forward and gradients, jitted apart) for
jaxnn's layers and prints PyTorch's profiler (torch.profiler, ops grouped by layer through their
input shapes) on the same shapes and threads.

Run (about 25 minutes on 2 cores; ``--quick``: one round, five routes, 8 steps, ~2 minutes)::

    python experiments/cnn_cpu_routes.py --rounds 3 --steps 15 --breakdown \
        --out docs/cnn-cpu-routes.md
    python experiments/cnn_cpu_routes.py --quick
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _report
import numpy as np

BATCH = 128
YNN_CONV_OFF = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"
# name: (conv algorithm, pool, XLA_FLAGS, note)
ROUTES: dict[str, tuple[str, str, str, str]] = {
    "jaxnn_matmul": ("matmul", "reshape", "", "patches + one matmul, custom JVP (jaxnn before)"),
    "jaxnn_layers": ("layers", "layers", "", "jaxnn's Conv2D / MaxPool as installed (auto)"),
    "lax_conv": ("xla", "reshape", "", "lax.conv_general_dilated (XLA hands it to YNNPACK)"),
    "lax_conv_ynn_off": ("xla", "reshape", YNN_CONV_OFF, "same, YNNPACK convolutions off (flag)"),
    "matmul_ynn_off": ("matmul", "reshape", YNN_CONV_OFF, "patches + matmul, YNN conv off"),
    "padded_conv": ("padded", "reshape", "", "conv padded by one row + slice (still YNNPACK)"),
    "padded_mask_pool": ("padded", "mask", "", "padded conv + max-pool gradient by a mask"),
    "padded_fused_pool": ("padded", "fused", "", "padded conv + pool before relu, mask grad"),
    "tiled_patches": ("tiled", "mask", "", "lax.map over 8 batch tiles: patches @ W in cache"),
    "nchw_padded": ("nchw", "mask", "", "the whole net in NCHW / OIHW, padded conv"),
    "mixed_vjp": ("mixed", "mask", "", "custom VJP: padded conv fwd, conv dX, patches^T dW"),
    "precision_highest": ("padded", "mask", "", "padded + mask, matmul precision 'highest'"),
    "flag_onednn": ("padded", "mask", "--xla_cpu_use_onednn=true", "padded + mask, oneDNN on"),
    "flag_onednn_fusion": ("padded", "mask", "--xla_cpu_experimental_onednn_fusion_type=dot,eltwise", "padded + mask"),  # noqa: E501
    "flag_xnn_fusion": ("padded", "mask", "--xla_cpu_experimental_xnn_fusion_type=dot,eltwise,reduce", "padded + mask"),  # noqa: E501
    "flag_xnn_graph": ("padded", "mask", "--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY", "padded + mask"),  # noqa: E501
    "flag_ynn_dot_off": ("padded", "mask", "--xla_cpu_experimental_ynn_fusion_type=-individual_dot,-individual_convolution", "padded + mask, Eigen dots"),  # noqa: E501
    "flag_no_thunks": ("padded", "mask", "--xla_cpu_use_thunk_runtime=false", "padded + mask"),
    "flag_fast_math": ("padded", "mask", "--xla_cpu_enable_fast_math=true", "padded + mask"),
    "flag_vector_512": ("padded", "mask", "--xla_cpu_prefer_vector_width=512", "padded + mask"),
}  # fmt: skip
QUICK = ["jaxnn_matmul", "jaxnn_layers", "lax_conv", "lax_conv_ynn_off", "padded_mask_pool"]
REFERENCE = "lax_conv"


# ----------------------------------------------------------------------------- the JAX routes
def _conv_fns(kind: str):
    """``conv(x, w)`` for a (3, 3, C_in, C_out) kernel, valid padding, channels-last."""
    import jax
    import jax.numpy as jnp

    from jaxnn.layers.conv import _matmul_conv, _patches

    dims = ("NHWC", "HWIO", "NHWC")

    def plain(x, w, pads=((0, 0), (0, 0))):
        return jax.lax.conv_general_dilated(x, w, (1, 1), pads, dimension_numbers=dims)

    def padded(x, w):  # a padded convolution stays on XLA's own kernel; drop the extra row
        return plain(x, w, ((0, 1), (0, 0)))[:, : x.shape[1] - 2]

    def patches(x):
        return _patches(x, (3, 3), (1, 1), (1, 1), [(0, 0), (0, 0)])

    if kind == "xla":
        return plain
    if kind == "padded":
        return padded
    if kind == "matmul":
        return _matmul_conv((3, 3), (1, 1), (1, 1), [(0, 0), (0, 0)], plain)
    if kind == "nchw":

        def nchw(x, w):  # x (N, C, H, W), w (O, I, 3, 3)
            y = jax.lax.conv_general_dilated(
                x, w, (1, 1), ((0, 1), (0, 0)), dimension_numbers=("NCHW", "OIHW", "NCHW")
            )
            return y[:, :, : x.shape[2] - 2]

        return nchw
    if kind == "mixed":

        @jax.custom_vjp
        def mixed(x, w):
            return padded(x, w)

        def fwd(x, w):
            return padded(x, w), (x, w)

        def bwd(res, g):
            x, w = res
            dx = jax.vjp(lambda x: plain(x, w), x)[1](g)[0]
            dw = (patches(x).T @ g.reshape(-1, g.shape[-1])).reshape(w.shape)
            return dx, dw

        mixed.defvjp(fwd, bwd)
        return mixed
    if kind == "tiled":
        tiles = 8

        def tile_map(f, x):
            return jax.lax.map(f, x.reshape(tiles, x.shape[0] // tiles, *x.shape[1:]))

        @jax.custom_vjp
        def tiled(x, w):
            def one(xt):
                y = patches(xt) @ w.reshape(-1, w.shape[-1])
                return y.reshape(xt.shape[0], xt.shape[1] - 2, xt.shape[2] - 2, -1)

            return tile_map(one, x).reshape(x.shape[0], x.shape[1] - 2, x.shape[2] - 2, -1)

        def fwd(x, w):
            return tiled(x, w), (x, w)

        def bwd(res, g):
            x, w = res
            dx = jax.vjp(lambda x: plain(x, w), x)[1](g)[0]
            xs = x.reshape(tiles, -1, *x.shape[1:])
            gs = g.reshape(tiles, -1, *g.shape[1:])

            def acc(total, xg):
                xt, gt = xg
                return total + patches(xt).T @ gt.reshape(-1, gt.shape[-1]), None

            zero = jnp.zeros((w.shape[0] * w.shape[1] * w.shape[2], w.shape[3]), w.dtype)
            dw = jax.lax.scan(acc, zero, (xs, gs))[0].reshape(w.shape)
            return dx, dw

        tiled.defvjp(fwd, bwd)
        return tiled
    raise ValueError(kind)


def _pool_relu(kind: str, nchw: bool = False):
    """relu then 2x2 max pooling of the second convolution's output."""
    import jax

    def blocks(y):
        if nchw:
            n, c, h, w = y.shape
            return y.reshape(n, c, h // 2, 2, w // 2, 2), (3, 5)
        n, h, w, c = y.shape
        return y.reshape(n, h // 2, 2, w // 2, 2, c), (2, 4)

    def pool(y):
        b, axes = blocks(y)
        return b.max(axes)

    @jax.custom_vjp
    def mask_pool(y):
        return pool(y)

    def fwd(y):
        m = pool(y)
        return m, (y, m)

    def bwd(res, g):  # ties share the gradient equally, as the reshape-max gradient does
        y, m = res
        b, axes = blocks(y)
        hit = b == jax.numpy.expand_dims(m, axes)
        count = hit.sum(axes, keepdims=True).astype(y.dtype)
        return (((hit / count) * jax.numpy.expand_dims(g, axes)).reshape(y.shape),)

    mask_pool.defvjp(fwd, bwd)
    if kind == "reshape":
        return lambda y: pool(jax.nn.relu(y))
    if kind == "mask":
        return lambda y: mask_pool(jax.nn.relu(y))
    if kind == "fused":  # max and relu commute: pool first, relu on a quarter of the values
        return lambda y: jax.nn.relu(mask_pool(y))
    raise ValueError(kind)


def _init_params():
    import jax
    import jax.numpy as jnp

    def glorot(key, shape, fan_in, fan_out):
        limit = np.sqrt(6 / (fan_in + fan_out))
        return jax.random.uniform(key, shape, jnp.float32, -limit, limit)

    k = jax.random.split(jax.random.key(0), 4)
    return {
        "c1": glorot(k[0], (3, 3, 1, 32), 9, 288), "b1": jnp.zeros(32),
        "c2": glorot(k[1], (3, 3, 32, 64), 288, 576), "b2": jnp.zeros(64),
        "d1": glorot(k[2], (9216, 128), 9216, 128), "e1": jnp.zeros(128),
        "d2": glorot(k[3], (128, 10), 128, 10), "e2": jnp.zeros(10),
    }  # fmt: skip


def _jax_model(conv_kind: str, pool_kind: str):
    """``forward(params, x)`` for one route; params as ``_init_params`` (HWIO, (in, out))."""
    import jax
    import jax.numpy as jnp

    if conv_kind == "layers":
        import jaxnn
        from jaxnn.layers import Conv2D, Dense, Flatten, MaxPool

        model = jaxnn.serial(
            Conv2D(32, 3, activation="relu"), Conv2D(64, 3, activation="relu"), MaxPool(2),
            Flatten(), Dense(128), jax.nn.relu, Dense(10),
        )  # fmt: skip
        names = [("conv2d", "c1", "b1"), ("conv2d_1", "c2", "b2"), ("dense", "d1", "e1"),
                 ("dense_1", "d2", "e2")]  # fmt: skip

        def forward(p, x):
            tree = {"flatten": {}, "max_pool": {}, "relu": {}}
            tree.update({layer: {"w": p[w], "b": p[b]} for layer, w, b in names})
            return model.apply(tree, {name: {} for name in tree}, x)[0]

        return forward
    conv1 = _conv_fns("padded" if conv_kind in ("tiled", "mixed") else conv_kind)
    conv2 = _conv_fns(conv_kind)
    nchw = conv_kind == "nchw"
    pool = _pool_relu(pool_kind, nchw)

    def forward(p, x):
        c1, c2, b1, b2 = p["c1"], p["c2"], p["b1"], p["b2"]
        if nchw:
            x = jnp.moveaxis(x, -1, 1)
            c1, c2 = c1.transpose(3, 2, 0, 1), c2.transpose(3, 2, 0, 1)
            b1, b2 = b1[:, None, None], b2[:, None, None]
        h = jax.nn.relu(conv1(x, c1) + b1)
        h = pool(conv2(h, c2) + b2)
        if nchw:  # flatten in NHWC order so that d1 means the same in every route
            h = jnp.moveaxis(h, 1, -1)
        h = jax.nn.relu(h.reshape(h.shape[0], -1) @ p["d1"] + p["e1"])
        return h @ p["d2"] + p["e2"]

    return forward


def _batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, 28, 28, 1)).astype(np.float32)
    return x, rng.integers(0, 10, BATCH).astype(np.int32)


def worker_jax(route: str, steps: int, grads_out: str | None) -> dict:
    import jax
    import optax

    conv_kind, pool_kind, _, _ = ROUTES[route]
    if route == "precision_highest":
        jax.config.update("jax_default_matmul_precision", "highest")
    forward = _jax_model(conv_kind, pool_kind)
    opt = optax.adam(1e-3)

    def loss(p, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(forward(p, x), y).mean()

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(p, s, x, y):
        value, grads = jax.value_and_grad(loss)(p, x, y)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    x, y = map(jax.device_put, _batch())
    params = _init_params()
    if grads_out:
        grads = jax.jit(jax.grad(loss))(params, x, y)
        np.savez(grads_out, **{k: np.asarray(v) for k, v in grads.items()})
    state = opt.init(params)
    start = time.perf_counter()
    params, state, value = step(params, state, x, y)
    value.block_until_ready()
    compile_s = time.perf_counter() - start
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        params, state, value = step(params, state, x, y)
        value.block_until_ready()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return {"compile_s": compile_s, "step_s": times}


def _torch_model():
    import torch

    torch.manual_seed(0)
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip


def _torch_step():
    import torch

    model = _torch_model()
    opt, loss_fn = torch.optim.Adam(model.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss()
    x, y = _batch()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y.astype(np.int64))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return float(loss)

    return step


def worker_torch(steps: int) -> dict:
    step = _torch_step()
    start = time.perf_counter()
    step()
    compile_s = time.perf_counter() - start
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return {"compile_s": compile_s, "step_s": times}


# ----------------------------------------------------------------------------- breakdowns
def breakdown_jax(reps: int) -> dict[str, float]:
    """Milliseconds of each part of the step, jitted apart; medians interleaved over ``reps``."""
    import jax
    import jax.numpy as jnp

    from jaxnn.layers import Conv2D, MaxPool

    k = jax.random.split(jax.random.key(1), 8)
    x0 = jax.random.normal(k[0], (BATCH, 28, 28, 1))
    x1 = jax.random.normal(k[1], (BATCH, 26, 26, 32))
    g1 = jax.random.normal(k[2], (BATCH, 26, 26, 32))
    g2 = jax.random.normal(k[3], (BATCH, 24, 24, 64))
    gp = jax.random.normal(k[4], (BATCH, 12, 12, 64))
    h = jax.random.normal(k[5], (BATCH, 9216))
    params = _init_params()
    conv1, conv2, pool = Conv2D(32, 3), Conv2D(64, 3), MaxPool(2)

    def layer(lay, w):
        return lambda x, w_: lay.apply({"w": w_, "b": jnp.zeros(w.shape[-1])}, {}, x)[0]

    c1, c2 = layer(conv1, params["c1"]), layer(conv2, params["c2"])

    def relu_pool(y):
        return pool.apply({}, {}, jax.nn.relu(y))[0]

    def dense(h, p):
        z = jax.nn.relu(h @ p["d1"] + p["e1"])
        return z @ p["d2"] + p["e2"]

    dense_p = {n: params[n] for n in ("d1", "e1", "d2", "e2")}
    parts = {
        "conv1 forward": (c1, (x0, params["c1"])),
        "conv1 weight gradient": (lambda x, w, g: jax.vjp(lambda w: c1(x, w), w)[1](g)[0],
                                  (x0, params["c1"], g1)),
        "conv2 forward": (c2, (x1, params["c2"])),
        "conv2 input gradient": (lambda x, w, g: jax.vjp(lambda x: c2(x, w), x)[1](g)[0],
                                 (x1, params["c2"], g2)),
        "conv2 weight gradient": (lambda x, w, g: jax.vjp(lambda w: c2(x, w), w)[1](g)[0],
                                  (x1, params["c2"], g2)),
        "relu + max pool forward": (relu_pool, (g2,)),
        "relu + max pool gradient": (lambda y, g: jax.vjp(relu_pool, y)[1](g)[0], (g2, gp)),
        "dense layers forward + gradients": (
            lambda h, p: jax.grad(lambda h, p: dense(h, p).sum(), (0, 1))(h, p), (h, dense_p)),
    }  # fmt: skip
    jitted = {name: jax.jit(f) for name, (f, _) in parts.items()}
    for name, (_, args) in parts.items():
        jax.block_until_ready(jitted[name](*args))
    times: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(reps):
        for name, (_, args) in parts.items():
            start = time.perf_counter()
            jax.block_until_ready(jitted[name](*args))
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def breakdown_torch(steps: int) -> dict[str, float]:
    """PyTorch's profiler over ``steps`` steps: self CPU ms per step, grouped by layer."""
    from torch.profiler import ProfilerActivity, profile

    step = _torch_step()
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            step()
    out: dict[str, float] = {}
    for event in prof.key_averages(group_by_input_shape=True):
        name, shapes = event.key, str(event.input_shapes)
        if name == "aten::mkldnn_convolution":
            part = "conv1 forward" if "[128, 1, 28, 28]" in shapes else "conv2 forward"
        elif name == "aten::convolution_backward":
            part = "conv1 weight gradient" if "[128, 1, 28, 28]" in shapes else "conv2 gradients"
        elif name.startswith("aten::max_pool2d_with_indices_backward"):
            part = "max pool gradient"
        elif name.startswith("aten::max_pool2d"):
            part = "max pool forward"
        elif name in ("aten::clamp_min", "aten::threshold_backward", "aten::relu"):
            part = "relu forward + gradients (all layers)"
        elif name in ("aten::mm", "aten::addmm", "aten::sum"):
            part = "dense layers forward + gradients"
        else:
            part = "other (loss, Adam, bookkeeping)"
        out[part] = out.get(part, 0.0) + event.self_cpu_time_total / steps / 1e3
    return out


# ----------------------------------------------------------------------------- driver
def _run(args: list[str], flags: str) -> dict | None:
    env = dict(os.environ, PYTHONWARNINGS="ignore", XLA_FLAGS=flags)
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          env=env)  # fmt: skip
    if proc.returncode:
        print(f"{args} failed:\n{proc.stderr[-1500:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def drive(args: argparse.Namespace) -> None:
    steps = args.steps or (8 if args.quick else 25)
    routes = args.routes or (QUICK if args.quick else list(ROUTES))
    rounds = 1 if args.quick else args.rounds
    results: dict[str, list[dict]] = {}
    errors: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp())
    for r in range(rounds):
        for name in ["torch_cpu", *routes]:
            if name == "torch_cpu":
                result = _run(["--worker", "torch_cpu", "--steps", str(steps)], "")
            else:
                extra = ["--grads", str(tmp / f"{name}.npz")] if r == 0 else []
                result = _run(["--worker", name, "--steps", str(steps), *extra], ROUTES[name][2])
            if result is None:
                continue
            results.setdefault(name, []).append(result)
            rate = BATCH / statistics.median(result["step_s"])
            print(f"round {r + 1} {name:20s} {rate:8,.0f} samples/s", flush=True)
    ref_path = tmp / f"{REFERENCE}.npz"
    if not ref_path.exists():
        _run(["--worker", REFERENCE, "--steps", "1", "--grads", str(ref_path)], "")
    ref = np.load(ref_path)
    for name in routes:
        path = tmp / f"{name}.npz"
        if path.exists():
            g = np.load(path)
            errors[name] = max(
                float(np.abs(g[k] - ref[k]).max() / np.abs(ref[k]).max()) for k in ref.files
            )
    parts = None
    if args.breakdown:
        parts = (_run(["--worker", "breakdown_jax"], ""),
                 _run(["--worker", "breakdown_jax"], YNN_CONV_OFF),
                 _run(["--worker", "breakdown_torch"], ""))  # fmt: skip
    report(results, errors, parts, routes, rounds, steps, args)


def _rate(result: dict) -> float:
    return BATCH / statistics.median(result["step_s"])


def report(results, errors, parts, routes, rounds, steps, args) -> None:
    torch_runs = results.get("torch_cpu", [])
    torch_rate = BATCH / statistics.median(t for run in torch_runs for t in run["step_s"])
    lines = [
        "| route | what it does | XLA_FLAGS | samples/s | vs PyTorch | spread (per-round ratio) "
        "| grad rel. error |",
        "| --- | --- | --- | ---: | ---: | --- | ---: |",
        f"| torch_cpu | PyTorch {_report.versions(['torch'])['torch']} eager, "
        f"{_torch_threads()} threads | | {torch_rate:,.0f} | 1.00x | "
        f"{_spread([_rate(r) for r in torch_runs], torch_rate)} | |",
    ]
    for name in routes:
        runs = results.get(name)
        if not runs:
            lines.append(f"| {name} | failed | | | | | |")
            continue
        rate = BATCH / statistics.median(t for run in runs for t in run["step_s"])
        ratios = [_rate(a) / _rate(b) for a, b in zip(runs, torch_runs, strict=False)]
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}x" if ratios else ""
        flags = f"`{ROUTES[name][2]}`" if ROUTES[name][2] else ""
        err = f"{errors[name]:.0e}" if name in errors else ""
        lines.append(
            f"| {name} | {ROUTES[name][3]} | {flags} | {rate:,.0f} | {rate / torch_rate:.2f}x "
            f"| {spread} | {err} |"
        )
    table = "\n".join(lines)
    print(table)
    text = (
        "# T3 on CPU: pure-JAX routes against PyTorch\n\n"
        "Written by `experiments/cnn_cpu_routes.py` (see its docstring). "
        f"Machine: {os.cpu_count()} CPU cores, shared with other processes while this ran. "
        f"Versions: {', '.join(f'{k} {v}' for k, v in _report.versions(['jax', 'jaxlib', 'optax', 'torch']).items())}.\n\n"  # noqa: E501
        f"Command: `python experiments/cnn_cpu_routes.py {' '.join(sys.argv[1:])}`. "
        f"{rounds} round(s), {steps} timed steps per process; samples/s = 128 / median step "
        "over all rounds.\n\n" + table + "\n"
    )
    if parts and all(parts):
        jax_now, jax_off, torch_parts = parts
        rows = ["| part | jaxnn layers (ms) | same, YNN conv off (ms) |", "| --- | ---: | ---: |"]
        rows += [f"| {k} | {v:.1f} | {jax_off[k]:.1f} |" for k, v in jax_now.items()]
        rows += ["", "| PyTorch part (profiler, self CPU per step) | ms |", "| --- | ---: |"]
        rows += [f"| {k} | {v:.1f} |" for k, v in sorted(torch_parts.items())]
        rows.append(f"| total | {sum(torch_parts.values()):.1f} |")
        block = "\n".join(rows)
        print(block)
        text += "\n## Where the step's time goes\n\n" + block + "\n"
    text += READING
    if args.out:
        from jaxnn.checkpoint import write_atomic

        write_atomic(Path(args.out), text.encode())


READING = """
## How to read this

- `lax_conv` is slow because XLA's CPU backend (jax 0.10) gives convolutions to YNNPACK
  (`__ynn_fusion` in the compiled HLO: the forward and the weight gradient here; the input
  gradient, padded by 2, stays on XLA's own kernel). Turning that fusion off
  (`lax_conv_ynn_off`, `flag_ynn_dot_off`) is the only route that clearly beats patches + matmul
  (jaxnn's CPU default), but it is a process-wide XLA flag that a library cannot set for its
  users. Padding the convolution by one extra row (`padded_*`) does not keep it off YNNPACK
  (checked in the HLO) and is no faster at the step level.
- The flags were found with `strings` on jaxlib's `libjax_common.so` (`xla_cpu_*`): `use_onednn`,
  `experimental_onednn_custom_call`, `experimental_onednn_fusion_type` (dot, eltwise, reduce),
  `use_xnnpack`, `experimental_xnn_fusion_type`, `experimental_xnn_graph_fusion_mode`
  (`XNN_GRAPH_FUSION_MODE_GREEDY`, `_GREEDY_SLINKY`), `experimental_ynn_fusion_type` (its default
  in effect includes `individual_dot` and `individual_convolution`), `use_thunk_runtime`,
  `use_acl`, `enable_fast_math`, `prefer_vector_width`, `max_isa`, `multi_thread_eigen`. Each
  measured one runs in its own process.
- PyTorch is bimodal on this shared machine (a process runs at ~100 ms or ~450 ms a step); the
  spread column shows it. Other processes were running on the 2 cores throughout, and the
  per-part times move by 2x between runs: read them as orders of magnitude.
"""


def _spread(rates: list[float], median: float) -> str:
    return f"{min(rates) / median:.2f}-{max(rates) / median:.2f}x" if rates else ""


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker")
    parser.add_argument("--steps", type=int, default=0, help="timed steps per process")
    parser.add_argument("--grads", help="(worker) save the first gradients here")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--routes", nargs="+", choices=list(ROUTES))
    parser.add_argument("--quick", action="store_true", help="one round, five routes, 8 steps")
    parser.add_argument("--breakdown", action="store_true", help="also time the step's parts")
    parser.add_argument("--out", help="write the Markdown report here")
    args = parser.parse_args()
    if args.worker:
        import contextlib

        with contextlib.redirect_stdout(sys.stderr):
            if args.worker == "torch_cpu":
                out = worker_torch(args.steps)
            elif args.worker == "breakdown_jax":
                out = breakdown_jax(15)
            elif args.worker == "breakdown_torch":
                out = breakdown_torch(10)
            else:
                out = worker_jax(args.worker, args.steps, args.grads)
        print(json.dumps(out))
    else:
        drive(args)


if __name__ == "__main__":
    main()
