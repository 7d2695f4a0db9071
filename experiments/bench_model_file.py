"""Time and size of a whole-model file: jaxnn.save_model / load_model against Keras 3's .keras.

The model is T2 of bench_fit.py (784-512-512-10 relu MLP, Adam state included) and a small CNN.
For each, in one process: save_model, load_model (rebuild from the file alone) and
``jaxnn.checkpoint.save``/``load`` (arrays only, into a known structure), against Keras 3 on
JAX (``model.save`` / ``keras.models.load_model``) with the same layers and an Adam state.
Medians of ``--repeats`` runs after one warm-up each; the file system is the OS's (page cache
warm). Writes a Markdown table to ``--out``.

    python experiments/bench_model_file.py --repeats 7 --out docs/model-file.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import numpy as np
import optax

import jaxnn
from jaxnn import checkpoint
from jaxnn.layers import Conv2D, Dense, Flatten, MaxPool


def models():
    mlp = jaxnn.serial(Dense(512), jax.nn.relu, Dense(512), jax.nn.relu, Dense(10))
    cnn = jaxnn.serial(
        Conv2D(32, 3),
        jax.nn.relu,
        MaxPool(2),
        Conv2D(64, 3),
        jax.nn.relu,
        MaxPool(2),
        Flatten(),
        Dense(10),
    )
    return {"T2 MLP 784-512-512-10": (mlp, (-1, 784)), "CNN 28x28 (2 conv)": (cnn, (-1, 28, 28, 1))}


def keras_model(name, shape):
    import keras

    if name.startswith("T2"):
        layers = [
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(10),
        ]
    else:
        layers = [
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    model = keras.Sequential([keras.Input(shape[1:]), *layers])
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)  # an Adam state in the file, as jaxnn's
    return model


def median_time(fn, repeats):
    fn()  # warm-up: imports, first compilation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name, model, shape, folder, repeats):
    ts = jaxnn.TrainState.create(model, jax.random.key(0), shape, optax.adam(1e-3))
    path, ckpt = folder / "m.jaxnn", folder / "m.msgpack"
    row = {"model": name, "params": sum(np.size(a) for a in jax.tree.leaves(ts.params))}

    def load():
        jax.block_until_ready(jaxnn.load_model(path, optimizer="adam").train_state)

    row["jaxnn save"] = median_time(
        lambda: jaxnn.save_model(path, model, ts, input_shape=shape), repeats
    )
    row["jaxnn load"] = median_time(load, repeats)
    row["jaxnn MB"] = path.stat().st_size / 1e6
    row["ckpt save"] = median_time(lambda: checkpoint.save(ckpt, ts), repeats)
    row["ckpt load"] = median_time(
        lambda: jax.block_until_ready(checkpoint.load(ckpt, ts).train_state), repeats
    )
    try:
        import keras
    except ImportError:
        return row
    kmodel, kpath = keras_model(name, shape), folder / "m.keras"
    row["keras save"] = median_time(lambda: kmodel.save(kpath), repeats)
    row["keras load"] = median_time(lambda: keras.models.load_model(kpath), repeats)
    row["keras MB"] = kpath.stat().st_size / 1e6
    return row


def table(rows):
    cols = [
        "model",
        "params",
        "jaxnn save",
        "jaxnn load",
        "jaxnn MB",
        "ckpt save",
        "ckpt load",
        "keras save",
        "keras load",
        "keras MB",
    ]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            if isinstance(v, float):
                cells.append(f"{v:.2f}" if c.endswith("MB") else f"{v * 1e3:.0f} ms")
            else:
                cells.append(f"{v:,}" if isinstance(v, int) else str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, shape) in models().items():
            rows.append(measure(name, model, shape, Path(tmp), args.repeats))
    versions = f"jax {jax.__version__}, jaxnn {jaxnn.__version__}, Python {sys.version.split()[0]}"
    try:
        import keras

        versions += f", Keras {keras.__version__} on {keras.backend.backend()}"
    except ImportError:
        pass
    text = "\n".join(
        [
            "# Model files: time and size",
            "",
            "Written by `python experiments/bench_model_file.py "
            f"--repeats {args.repeats} --out docs/model-file.md` ({versions}; "
            f"{os.cpu_count()} CPU cores). Medians after one warm-up; Adam state included in "
            "every file.",
            "`jaxnn load` rebuilds the model from the file alone and restores the TrainState; "
            "`ckpt` is `jaxnn.checkpoint` (arrays only, into a structure the caller builds); "
            "Keras is `model.save` / `keras.models.load_model` of the same layers.",
            "",
            table(rows),
            "",
        ]
    )
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
