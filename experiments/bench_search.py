"""16 seeds of the digits MLP: one jaxnn.search call against 16 sequential jaxnn.fit calls.

Both train the same models (jaxnn train's digits MLP, 64-128-64-10 with dropout 0.1, Adam at
0.001, batch 32, a 10% validation split) with the same seeds, in the same process, one after the
other: the search as one compiled group (jax.vmap over the 16 stacked TrainStates), the fits one
compiled program each. The figure is the wall-clock time of the whole job, compilation included,
as a user waits for it; the parameters of the two are compared too.

    python experiments/bench_search.py                    # 16 models, 10 epochs, docs/benchmarks.md
    python experiments/bench_search.py --models 64 --no-write   # e.g. on a GPU
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
    parser.add_argument("--no-write", action="store_true", help="Print only.")
    args = parser.parse_args()
    r = run(args.models, args.epochs)
    print(
        f"{r['models']} models, {r['epochs']} epochs: search {r['search']:.2f} s, "
        f"fits {r['fits']:.2f} s, ratio {r['ratio']:.2f}x, max param diff {r['diff']:.2e}"
    )
    if not args.no_write:
        write_section(args.out, "search", report(r))


if __name__ == "__main__":
    main()
