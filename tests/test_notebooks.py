"""The lectures' notebooks (notebooks/NN_*.py) run in a real Jupyter kernel, offline.

Each notebook runs once in a fresh kernel through nbclient (docs/notebooks.py's ``execute``), in
quick mode (``JAXNN_NOTEBOOK_QUICK=1``: few epochs, no download) with ``JAXNN_DATA`` at an empty
folder, within its time budget (90 s for all its cells; they take 3-17 s each, and this module
about 2 minutes 15 s on two cores without xdist). A cell that raises fails the test with its traceback. The
outputs must show what the notebook teaches (the numbers below), the rich displays must be
there, and a notebook whose data is missing must say so and say where to put the files. Two more
runs put (small, generated) MNIST files and a Titanic CSV where the notebooks look, and check
that they are read instead of the stand-ins. The executed notebooks are kept for the site
(``build/docs-notebooks/``), so ``mkdocs build`` does not run them again.
"""

from __future__ import annotations

import gzip
import importlib.util
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

for _module in ("nbclient", "jupytext", "ipykernel", "nbformat"):
    pytest.importorskip(_module)

ROOT = Path(__file__).resolve().parent.parent


def _module():
    spec = importlib.util.spec_from_file_location("docs_notebooks", ROOT / "docs" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_notebooks"] = module
    spec.loader.exec_module(module)
    return module


NB = _module()
NOTEBOOKS = NB.notebooks()
_KERAS_MNIST = Path.home() / ".keras" / "datasets" / "mnist.npz"  # mnist() reads it first

# What each notebook's outputs must contain (stream text, text/plain and text/html together).
EXPECTED = {
    "01_hello_deep_learning": ["learned: y = 2.0", "Total params: 2 (8 B)", "<td", "History: 150"],
    "02_the_neuron": ["jaxnn: 0.4013   by hand: 0.4013", "NOT 0, NOT 1: [1, 0]"],
    "03_perceptron": ["predictions [0, 0, 0, 1] (target [0, 0, 0, 1])", "converged: False"],
    "04_xor_hidden_layer": ["no hidden layer: probabilities [0.5, 0.5, 0.5, 0.5]", "test accuracy"],
    "05_moons_mlp": ["Total params: 354", "LivePlot: epoch 20 of 20", "test accuracy"],
    "06_mnist_mlp": ["stand-in", "Copy the four IDX files", "test accuracy"],
    "07_fashion_mnist_fit": ["stand-in", "fashion_mnist/", "SavedModel &#x27;serial&#x27;"],
    "08_titanic_csv": ["stand-in", "put it there", "features: ['Pclass=1'", "test accuracy"],
    "09_backprop_by_hand": ["dW1: largest |hand - jax.grad|", "layer 1 b  (3,)"],
    "10_playground": ["the page's title: jaxnn Playground", "stopped)", "spiral: test accuracy"],
    "11_cnn_basics": ["feature maps: (1, 28, 28, 4)", "conv2d     valid  -> (-1, 26, 26, 8)"],
    "12_cnn_mnist": ["stand-in", "CNN: test accuracy", "MLP: test accuracy"],
    "13_recurrent": ["SimpleRNN: test MSE", "LSTM: test MSE", "'w_h': (32, 32)"],
    "14_tensorboard": ["train scalars: ['epoch_accuracy', 'epoch_loss']"],
    "15_search_quest": ["2 configurations in 2 compiled groups", "20-50-70-100-70-50-20"],
}


# The displays a notebook must show: jaxnn's HTML tables, figures as PNGs (jaxnn.viz without
# pyplot too), fit's progress bar as a widget.
WIDGET = "application/vnd.jupyter.widget-view+json"
MIMETYPES = {
    "01_hello_deep_learning": {"text/html", "image/png"},  # Layer, Summary, History, LivePlot
    "02_the_neuron": {"image/png"},  # a jaxnn.viz figure as the cell's value
    "07_fashion_mnist_fit": {WIDGET, "image/png", "text/html"},  # progress bars, SavedModel
}


def _outputs(nb) -> list[dict]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def _text(nb) -> str:
    parts = []
    for o in _outputs(nb):
        parts.append(o.get("text", ""))
        data = o.get("data", {})
        parts += [data.get("text/plain", ""), data.get("text/html", "")]
    return "\n".join(parts)


def _mimetypes(nb) -> set[str]:
    return {m for o in _outputs(nb) for m in o.get("data", {})}


def test_there_is_a_notebook_per_exercise_and_each_is_expected():
    assert len(NOTEBOOKS) >= 12
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(EXPECTED)


def test_the_notebooks_are_percent_scripts_without_outputs():
    assert NB.check() == []


def test_the_check_names_what_is_wrong(tmp_path):
    plain = tmp_path / "01_plain.py"
    plain.write_text("print(1)\n")
    header = "# ---\n# jupyter:\n#   jupytext:\n#     formats: py:percent\n# ---\n\n"
    untitled = tmp_path / "02_untitled.py"
    untitled.write_text(header + "# %%\nprint(1)\n")
    problems = NB.check([plain, untitled])
    assert any("01_plain.py: no Jupytext header" in p for p in problems)
    assert any("02_untitled.py: no python kernelspec" in p for p in problems)
    assert any("02_untitled.py: the first cell must be markdown" in p for p in problems)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_offline_in_a_kernel_and_shows_its_results(path, tmp_path):
    nb = NB.execute(path, env=NB.quick_env(tmp_path))
    errors = [o for o in _outputs(nb) if o.get("output_type") == "error"]
    assert errors == []
    text = _text(nb)
    expected = EXPECTED[path.stem]
    if path.stem in ("06_mnist_mlp", "12_cnn_mnist") and _KERAS_MNIST.is_file():
        expected = [e for e in expected if e not in ("stand-in", "Copy the four IDX files")]
    missing = [e for e in expected if e not in text]
    assert missing == []
    assert MIMETYPES.get(path.stem, set()) <= _mimetypes(nb)
    if path.stem == "07_fashion_mnist_fit":  # one bar per epoch
        bars = [o["data"]["text/plain"] for o in _outputs(nb) if WIDGET in o.get("data", {})]
        assert [b.split(":")[0] for b in bars] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    NB.store(path, nb)  # the site shows this run


def _by_name(stem: str) -> Path:
    return next(p for p in NOTEBOOKS if p.stem == stem)


def _write_idx(path: Path, array: np.ndarray) -> None:
    code = {1: 0x0801, 3: 0x0803}[array.ndim]
    header = struct.pack(">I", code) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.mark.slow
@pytest.mark.skipif(
    _KERAS_MNIST.is_file(), reason="mnist() reads ~/.keras/datasets/mnist.npz first"
)
def test_the_mnist_notebook_reads_the_real_files_when_they_are_present(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for images, labels, n in (
        ("train-images", "train-labels", 300),
        ("t10k-images", "t10k-labels", 100),
    ):
        _write_idx(folder / f"{images}-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(folder / f"{labels}-idx1-ubyte.gz", rng.integers(0, 10, n))
    nb = NB.execute(_by_name("06_mnist_mlp"), env=NB.quick_env(tmp_path))
    text = _text(nb)
    assert "mnist: 300 training and 100 test images, (28, 28, 1)" in text
    assert "stand-in" not in text
    assert "Total params: 101,770" in text  # 784*128 + 128 + 128*10 + 10


@pytest.mark.slow
def test_the_titanic_notebook_reads_the_csv_when_it_is_present(tmp_path):
    folder = tmp_path / "titanic"
    folder.mkdir()
    rows = ["PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked"]
    for i in range(50):
        sex, age = ("female", "") if i % 2 else ("male", str(20 + i))
        rows.append(
            f'{i + 1},{i % 2},{1 + i % 3},"Doe, Passenger {i}",{sex},{age},0,0,T{i},{10 + i},,S'
        )
    (folder / "train.csv").write_text("\n".join(rows) + "\n")
    nb = NB.execute(_by_name("08_titanic_csv"), env=NB.quick_env(tmp_path))
    text = _text(nb)
    assert f"Reading the Titanic passengers from {folder / 'train.csv'}" in text
    assert "stand-in" not in text
    # Pclass=1,2,3, Sex=female,male, Age, SibSp, Parch, Fare, Embarked=S: 10 features
    assert "training rows: (40, 10) test rows: (10, 10)" in text
