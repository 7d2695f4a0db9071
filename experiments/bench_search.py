"""16 seeds of the digits MLP: one jaxnn.search call against 16 sequential jaxnn.fit calls.

Both train the same models (jaxnn train's digits MLP, 64-128-64-10 with dropout 0.1, Adam at
0.001, batch 32, a 10% validation split) with the same seeds, in the same process, one after the
other: the search as one compiled group (jax.vmap over the 16 stacked TrainStates), the fits one
compiled program each. The figure is the wall-clock time of the whole job, compilation included,
as a user waits for it; the parameters of the two are compared too.

With ``--dropout-rates 0.0,0.2,0.4`` it also trains the MLP with each of those dropout rates
(``--models`` seeds each) by one search, where the rates are vectorised (one compiled group),
and by one search per rate (a group per rate, as before dropout rates were vectorised), and
compares the two.

    python experiments/bench_search.py                    # 16 models, 10 epochs, docs/benchmarks.md
    python experiments/bench_search.py --models 64 --no-write   # e.g. on a GPU
    python experiments/bench_search.py --models 4 --epochs 3 --dropout-rates 0.0,0.2,0.4 --no-write
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jaxnn  # noqa: E402
from experiments._report import versions, write_section  # noqa: E402
from jaxnn.cli.spec import build  # noqa: E402

SPEC = "dense(128) relu dropout(0.1) dense(64) relu dense(10)"
SETTINGS = {
    "loss": "softmax_cross_entropy",
    "optimizer": "adam",
    "learning_rate": 0.001,
    "batch_size": 32,
    "validation_split": 0.1,
    "metrics": ["accuracy"],
    "verbose": 0,
}


def run(models: int, epochs: int) -> dict:
    x, y = jaxnn.data.digits()
    x = x.astype("float32")
    seeds = list(range(models))
    start = time.perf_counter()
    result = jaxnn.search(build(SPEC), (x, y), seeds=seeds, epochs=epochs, **SETTINGS)
    jax.block_until_ready([r.train_state.params for r in result.runs])
    searched = time.perf_counter() - start
    start = time.perf_counter()
    fits = []
    for seed in seeds:
        ts, history = jaxnn.fit(build(SPEC), (x, y), seed=seed, epochs=epochs, **SETTINGS)
        jax.block_until_ready(ts.params)
        fits.append((ts, history))
    fitted = time.perf_counter() - start
    diff = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for run_, (ts, _) in zip(result.runs, fits, strict=True)
        for a, b in zip(
            jax.tree.leaves(run_.train_state.params), jax.tree.leaves(ts.params), strict=True
        )
    )
    accuracy = [h.history["val_accuracy"][-1] for _, h in fits]
    return {
        "models": models,
        "epochs": epochs,
        "search": searched,
        "fits": fitted,
        "ratio": fitted / searched,
        "diff": diff,
        "row": result.rows[0],
        "fit_val_accuracy": (float(np.mean(accuracy)), float(np.std(accuracy))),
        "rows": len(x),
    }


def run_dropout(rates: list[float], models: int, epochs: int) -> dict:
    """One search over the dropout rates (one group) against one search per rate."""
    x, y = jaxnn.data.digits()
    x = x.astype("float32")
    spec = SPEC.replace("dropout(0.1)", "dropout({drop_rate})")
    kwargs = {"seeds": models, "epochs": epochs, **SETTINGS}
    start = time.perf_counter()
    together = jaxnn.search(spec, (x, y), grid={"drop_rate": rates}, **kwargs)
    jax.block_until_ready([r.train_state.params for r in together.runs])
    vectorised = time.perf_counter() - start
    start = time.perf_counter()
    apart = [jaxnn.search(SPEC.replace("0.1", repr(rate)), (x, y), **kwargs) for rate in rates]
    jax.block_until_ready([r.train_state.params for a in apart for r in a.runs])
    per_rate = time.perf_counter() - start
    diff = max(
        float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
        for a, b in zip(together.runs, [r for a in apart for r in a.runs], strict=True)
        for u, v in zip(
            jax.tree.leaves(a.train_state.params),
            jax.tree.leaves(b.train_state.params),
            strict=True,
        )
    )
    return {
        "rates": rates,
        "models": models,
        "epochs": epochs,
        "groups": (together.groups, sum(a.groups for a in apart)),
        "vectorised": vectorised,
        "per_rate": per_rate,
        "ratio": per_rate / vectorised,
        "diff": diff,
    }


def dropout_report(d: dict) -> str:
    rates = ", ".join(repr(r) for r in d["rates"])
    count = len(d["rates"]) * d["models"]
    return f"""
Dropout rates are vectorised too: the same MLP with dropout rates {rates}, {d["models"]} seeds
each ({count} models, {d["epochs"]} epochs), by one search over the rates
({d["groups"][0]} compiled group) against one search per rate ({d["groups"][1]} groups):
{d["vectorised"]:.1f} s against {d["per_rate"]:.1f} s, **{d["ratio"]:.1f}x**; the largest
parameter difference between the two is {d["diff"]:.1e}
(`--dropout-rates {",".join(repr(r) for r in d["rates"])}`). Each search per rate already trains
its seeds together, so the gain is the {d["groups"][1] - d["groups"][0]} compilations saved and
the wider steps, not the seeds' vectorisation.
"""


def report(r: dict) -> str:
    device = jax.devices()[0]
    cores = os.cpu_count()
    v = versions(["jax", "jaxlib"])
    today = datetime.date.today().strftime("%-d %B %Y")
    row, n = r["row"], r["models"]
    per_fit, per_search = r["fits"] / n, r["search"] / n
    return f"""
## Many models at once: `experiments/bench_search.py`

{r["models"]} seeds of `jaxnn train`'s digits MLP (`{SPEC}`, Adam at 0.001, batch 32, a 10%
validation split, {r["epochs"]} epochs, {r["rows"]:,} rows) trained by one `jaxnn.search` call
(the {r["models"]} TrainStates stacked, `jax.vmap` over `fit`'s compiled epochs, one compilation)
against {r["models"]} sequential `jaxnn.fit` calls with the same seeds and settings, in one
process, wall-clock time of the whole job with compilation:
`python experiments/bench_search.py --models {r["models"]} --epochs {r["epochs"]}`,
{device.platform} ({device.device_kind}), {cores} cores, jax {v["jax"]}, {today}:

| job | wall time | per model |
| --- | --- | --- |
| {n} sequential `fit` calls | {r["fits"]:.1f} s | {per_fit:.2f} s |
| one `jaxnn.search(..., seeds={n})` | {r["search"]:.1f} s | {per_search:.2f} s |
| speed-up | **{r["ratio"]:.1f}x** | |

The two give the same models: the largest difference of a parameter between a search member and
its `fit` call is {r["diff"]:.1e}, and the search reports validation accuracy
{row["val_accuracy_mean"]:.4f} ± {row["val_accuracy_std"]:.4f} over the seeds (the `fit` calls:
{r["fit_val_accuracy"][0]:.4f} ± {r["fit_val_accuracy"][1]:.4f}). Both figures include
compilation: the search compiles one program, the `fit` calls one each; how the gain divides
between fewer compilations and wider steps was not measured apart.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument(
        "--dropout-rates", help="Also compare these dropout rates (comma-separated) vectorised "
        "in one group against a search per rate."
    )  # fmt: skip
    parser.add_argument("--no-write", action="store_true", help="Print only.")
    args = parser.parse_args()
    r = run(args.models, args.epochs)
    print(
        f"{r['models']} models, {r['epochs']} epochs: search {r['search']:.2f} s, "
        f"fits {r['fits']:.2f} s, ratio {r['ratio']:.2f}x, max param diff {r['diff']:.2e}"
    )
    text = report(r)
    if args.dropout_rates:
        rates = [float(v) for v in args.dropout_rates.split(",")]
        d = run_dropout(rates, args.models, args.epochs)
        print(
            f"dropout rates {rates} x {d['models']} seeds: one group {d['vectorised']:.2f} s, "
            f"{d['groups'][1]} groups {d['per_rate']:.2f} s, ratio {d['ratio']:.2f}x, "
            f"max param diff {d['diff']:.2e}"
        )
        text += dropout_report(d)
    if not args.no_write:
        write_section(args.out, "search", text)


if __name__ == "__main__":
    main()
