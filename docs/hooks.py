"""MkDocs hooks: the plots on the guide pages, drawn with ``jaxnn.viz`` while the site builds.

mkdocs.yml names this file under ``hooks:``. In ``on_files`` each scene below trains a tiny
model (about 15 s in all on two CPU cores) and draws its figures with ``jaxnn.viz``; the PNGs
join the site as generated files under ``assets/plots/``, so a page shows one with
``![...](../assets/plots/circle-boundary.png)``, and nothing is ever written into ``docs/``.

The PNGs are cached in ``build/docs-plots/<key>/``, keyed by a hash of this file, of jaxnn's
source and of the jax and matplotlib versions, so that ``mkdocs serve`` redraws them only when
the code that draws them changes. ``JAXNN_DOCS_PLOT_CACHE=off`` draws them afresh.

This module imports only the standard library at the top: pytest imports every module under
``docs/`` to collect doctests, and jaxnn's plots need matplotlib (the ``plot`` extra).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["PLOT_DIR", "PLOTS", "draw_plots", "on_files"]

ROOT = Path(__file__).resolve().parent.parent
PLOT_DIR = "assets/plots"
_log = logging.getLogger("mkdocs.hooks.plots")


def _save(fig: Any, folder: Path, name: str) -> None:
    from jaxnn.viz import save_figure

    save_figure(fig, folder / name, dpi=100)


def _activations(folder: Path) -> None:
    """The activation-function grid of the activations guide."""
    from jaxnn.viz import plot_activations

    _save(plot_activations(), folder, "activations.png")


def _circle(folder: Path) -> None:
    """A 2-16-16-2 tanh MLP fitted to the Playground's circle: boundary and training curves."""
    import jax.numpy as jnp

    import jaxnn
    from jaxnn.layers import Dense
    from jaxnn.viz import plot_decision_boundary, plot_history

    (x, y), (x_test, y_test) = jaxnn.data.circle(n=600, noise=0.05, seed=0, test_fraction=0.25)
    model = jaxnn.serial(Dense(16), jnp.tanh, Dense(16), jnp.tanh, Dense(2))
    ts, history = jaxnn.fit(
        model,
        (x, y),
        loss="softmax_cross_entropy",
        optimizer="adam",
        learning_rate=0.02,
        epochs=60,
        batch_size=32,
        validation_split=0.2,
        metrics=["accuracy"],
        verbose=0,
    )
    _save(plot_decision_boundary(model, ts, x_test, y_test), folder, "circle-boundary.png")
    _save(plot_history(history), folder, "circle-history.png")


def _digits(folder: Path) -> None:
    """A 64-64-10 MLP on the real 8x8 digits: confusion matrix, samples and weights."""
    import jax

    import jaxnn
    from jaxnn.layers import Dense
    from jaxnn.viz import plot_confusion_matrix, plot_samples, plot_weight_histograms

    (x, y), (x_test, y_test) = jaxnn.data.digits(test_fraction=0.2)
    model = jaxnn.serial(Dense(64), jax.nn.relu, Dense(10))
    ts, _ = jaxnn.fit(
        model,
        (x, y),
        loss="softmax_cross_entropy",
        learning_rate=3e-3,
        epochs=20,
        batch_size=64,
        verbose=0,
    )
    scores = jaxnn.predict(model, ts, x_test)
    _save(plot_confusion_matrix(y_test, scores), folder, "digits-confusion.png")
    _save(plot_samples(x_test, y_test, scores, max_samples=16), folder, "digits-samples.png")
    _save(plot_weight_histograms(ts.params), folder, "digits-weights.png")


def _regularisation(folder: Path) -> None:
    """The same wide MLP on few circle points with and without an L2 penalty."""
    import jax.numpy as jnp

    import jaxnn
    from jaxnn.layers import Dense
    from jaxnn.viz import plot_decision_boundary

    x, y = jaxnn.data.circle(n=60, noise=0.3, seed=1)
    model = jaxnn.serial(Dense(64), jnp.tanh, Dense(64), jnp.tanh, Dense(2))
    for name, regularizer in (("plain", None), ("l2", jaxnn.regularizers.l2(1e-2))):
        ts, _ = jaxnn.fit(
            model,
            (x, y),
            loss="softmax_cross_entropy",
            learning_rate=0.01,
            epochs=1000,
            batch_size=60,
            regularizer=regularizer,
            verbose=0,
        )
        fig = plot_decision_boundary(model, ts, x, y)
        fig.axes[0].set_title("no penalty" if regularizer is None else "L2 penalty, l2(1e-2)")
        _save(fig, folder, f"regularisation-{name}.png")


def _bench(folder: Path) -> None:
    """The roofline and throughput plots of the recorded CPU sweep (docs/data/bench-cpu.json)."""
    from jaxnn.bench import load_records
    from jaxnn.bench.plots import plot_roofline, plot_throughput

    records = load_records(ROOT / "docs" / "data" / "bench-cpu.json")
    _save(plot_roofline(records), folder, "bench-roofline.png")
    _save(plot_throughput(records), folder, "bench-throughput.png")


def _bench_cores(folder: Path) -> None:
    """The heat map of ``jaxnn bench compare``: the fc sweep on 2 CPU cores over 1 core."""
    from jaxnn.bench import compare, load_records
    from jaxnn.bench.plots import plot_speedup

    data = ROOT / "docs" / "data"
    rows = compare(load_records(data / "bench-fc-1core.json"),
                   load_records(data / "bench-fc-2cores.json"))  # fmt: skip
    fig = plot_speedup(rows, "fc", field="examples_per_s_ratio", baseline=None,
                       label="examples/s, 2 cores / 1 core")  # fmt: skip
    _save(fig, folder, "bench-cores.png")


#: Every plot on the site: file name (under ``assets/plots/``) -> the scene that draws it.
PLOTS: dict[str, Callable[[Path], None]] = {
    "activations.png": _activations,
    "bench-cores.png": _bench_cores,
    "bench-roofline.png": _bench,
    "bench-throughput.png": _bench,
    "circle-boundary.png": _circle,
    "circle-history.png": _circle,
    "digits-confusion.png": _digits,
    "digits-samples.png": _digits,
    "digits-weights.png": _digits,
    "regularisation-plain.png": _regularisation,
    "regularisation-l2.png": _regularisation,
}


def _cache_key() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted((ROOT / "jaxnn").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    for package in ("jax", "jaxlib", "matplotlib", "numpy"):
        try:
            digest.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            pass
    return digest.hexdigest()[:16]


def draw_plots(folder: Path) -> dict[str, bytes]:
    """Runs every scene once, writing its PNGs into ``folder``; returns name -> PNG bytes.

    Raises:
        RuntimeError: If a scene did not write the files :data:`PLOTS` says it draws.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for scene in dict.fromkeys(PLOTS.values()):
        start = time.perf_counter()
        scene(folder)
        _log.info("drew %s in %.1f s", scene.__name__.lstrip("_"), time.perf_counter() - start)
    missing = [name for name in PLOTS if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"docs/hooks.py: the scenes did not draw {missing} into {folder}.")
    return {name: (folder / name).read_bytes() for name in PLOTS}


def _plots() -> dict[str, bytes]:
    if os.environ.get("JAXNN_DOCS_PLOT_CACHE", "").lower() in ("off", "0", "false"):
        with tempfile.TemporaryDirectory() as tmp:
            return draw_plots(Path(tmp))
    cache = ROOT / "build" / "docs-plots"
    folder = cache / _cache_key()
    if all((folder / name).is_file() for name in PLOTS):
        return {name: (folder / name).read_bytes() for name in PLOTS}
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".drawing-"))
    try:
        plots = draw_plots(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)  # complete or absent: a crash never leaves half a cache
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in cache.iterdir():  # keep only the current key's folder
        if old != folder and not old.name.startswith(".drawing-"):
            shutil.rmtree(old, ignore_errors=True)
    return plots


def on_files(files: Any, config: Any) -> Any:
    """MkDocs event: adds the plots to the site as generated files under ``assets/plots/``."""
    from mkdocs.structure.files import File

    start = time.perf_counter()
    for name, content in _plots().items():
        files.append(File.generated(config, f"{PLOT_DIR}/{name}", content=content))
    _log.info("plots ready in %.1f s", time.perf_counter() - start)
    return files
