"""The MLP lecture's quest: which hidden layer sizes are best? A depth x width grid over seeds.

Trains ReLU MLPs of 1, 2 and 3 hidden layers of 16, 32, 64 and 128 units on the digits (the
8x8 images that ship with scikit-learn), 3 seeds each, and the lecture's 20-50-70-100-70-50-20
network beside them, with one `jaxnn.search` call per family; writes the tables and the heat map
into the `quest` section of docs/guides/search.md (the site draws no plot from it: the docs
folder holds no generated images). With --data-dir (or MNIST's files in the
cache), the same on MNIST.

    python experiments/search_quest.py              # digits, about a minute on 2 cores
    python experiments/search_quest.py --mnist      # also MNIST (needs its four IDX files)
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import jax

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jaxnn  # noqa: E402
from experiments._report import versions, write_section  # noqa: E402

LECTURE = "dense(20,relu) dense(50,relu) dense(70,relu) dense(100,relu) dense(70,relu) " \
    "dense(50,relu) dense(20,relu) dense(10)"  # fmt: skip
GRID = "[dense({width},relu)]*{depth} dense(10)"
SETTINGS = {
    "loss": "softmax_cross_entropy",
    "optimizer": "adam",
    "learning_rate": 0.003,
    "batch_size": 32,
    "validation_split": 0.2,
    "metrics": ["accuracy"],
}


def quest(x, y, *, epochs: int, seeds: int, widths: list[int], depths: list[int]) -> tuple:
    grid = jaxnn.search(GRID, (x, y), grid={"width": widths, "depth": depths}, seeds=seeds,
                        epochs=epochs, **SETTINGS)  # fmt: skip
    lecture = jaxnn.search(LECTURE, (x, y), seeds=seeds, epochs=epochs, verbose=0, **SETTINGS)
    return grid, lecture


def table(grid, lecture) -> str:
    lines = ["| hidden layers | parameters | val_accuracy (mean ± std) | val_loss (mean ± std) |",
             "| --- | --- | --- | --- |"]  # fmt: skip
    entries = []
    for row, run in zip(grid.rows, grid.runs[:: grid.rows[0]["seeds"]], strict=True):
        entries.append((f"{row['depth']} x {row['width']}", row, run))
    entries.append(("20-50-70-100-70-50-20", lecture.rows[0], lecture.runs[0]))
    for name, row, run in sorted(entries, key=lambda e: -e[1]["val_accuracy_mean"]):
        params = sum(a.size for a in jax.tree.leaves(run.train_state.params))
        lines.append(
            f"| {name} | {params:,} | {row['val_accuracy_mean']:.4f} ± "
            f"{row['val_accuracy_std']:.4f} | {row['val_loss_mean']:.4f} ± "
            f"{row['val_loss_std']:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--mnist", action="store_true", help="Also MNIST (its IDX files).")
    parser.add_argument("--out", default=str(ROOT / "docs" / "guides" / "search.md"))
    args = parser.parse_args()
    widths, depths = [16, 32, 64, 128], [1, 2, 3]
    x, y = jaxnn.data.digits()
    grid, lecture = quest(x.astype("float32"), y, epochs=args.epochs, seeds=args.seeds,
                          widths=widths, depths=depths)  # fmt: skip
    today = datetime.date.today().strftime("%-d %B %Y")
    text = (
        f"Digits, {len(x):,} images (20% held out for validation), Adam at 0.003, batch 32, "
        f"{args.epochs} epochs, {args.seeds} seeds per network; sorted by mean validation "
        f"accuracy. `python experiments/search_quest.py`, {jax.devices()[0].platform}, "
        f"jax {versions(['jax'])['jax']}, {today}; the grid trained in {grid.groups} compiled "
        f"groups (one per architecture), every seed of a group in one call.\n\n"
        + table(grid, lecture)
    )
    if args.mnist:
        (xm, ym), _ = jaxnn.data.mnist(download=False)
        xm = xm.reshape(len(xm), -1).astype("float32") / 255.0
        mgrid, mlecture = quest(xm, ym, epochs=5, seeds=args.seeds, widths=widths, depths=depths)
        text += "\n\nMNIST, 60,000 images, 5 epochs, the same settings:\n\n" + table(
            mgrid, mlecture
        )
    write_section(args.out, "quest", text)
    print(text)


if __name__ == "__main__":
    main()
