import csv
import json

import numpy as np
import pytest

import jaxnn
from jaxnn import data
from jaxnn.cli.rundir import read_config
from tests.cli.conftest import invoke


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def xor_search(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search") / "xor"
    result = invoke(
        "search",
        "--data",
        "xor",
        "--model",
        "[dense({width},tanh)]*{depth} dense(2)",
        "--width",
        "4,8",
        "--depth",
        "1,2",
        "--learning-rate",
        "0.01,0.05",
        "--seeds",
        "2",
        "--epochs",
        "3",
        "--out",
        folder,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    return folder, result


def test_results_csv_has_one_row_per_configuration_with_mean_and_std(xor_search):
    folder, _ = xor_search
    rows = _rows(folder / "results.csv")
    assert [(r["width"], r["depth"], r["learning_rate"]) for r in rows] == [
        (w, d, lr) for w in ("4", "8") for d in ("1", "2") for lr in ("0.01", "0.05")
    ]
    assert list(rows[0]) == [
        "width",
        "depth",
        "learning_rate",
        "seeds",
        "accuracy_mean",
        "accuracy_std",
        "loss_mean",
        "loss_std",
        "val_accuracy_mean",
        "val_accuracy_std",
        "val_loss_mean",
        "val_loss_std",
        "epochs",
        "seconds",
    ]
    assert all(r["seeds"] == "2" and float(r["val_loss_std"]) >= 0 for r in rows)
    assert (folder / "results.md").read_text().startswith("| width | depth | learning_rate |")


def test_best_is_a_run_directory_of_the_lowest_mean_val_loss(xor_search):
    folder, result = xor_search
    rows = _rows(folder / "results.csv")
    best = min(rows, key=lambda r: float(r["val_loss_mean"]))
    config = read_config(folder / "best" / "config.toml")
    hidden = " ".join([f"dense({best['width']},tanh)"] * int(best["depth"]))
    assert config["model"] == f"{hidden} dense(2)"
    assert config["learning_rate"] == float(best["learning_rate"])
    assert config["seed"] in (0, 1) and config["epochs"] == 3
    history = _rows(folder / "best" / "history.csv")
    assert len(history) == 3
    # the saved model scores on the held-out rows what test.json says
    saved = jaxnn.load_model(folder / "best" / "model.jaxnn")
    x, y = data.xor(seed=0)
    _, (x_test, y_test) = data.train_test_split(x, y, test_fraction=0.2, stratify=True, seed=0)
    expected = jaxnn.evaluate(saved.model, saved.train_state, (x_test, y_test),
                              loss="softmax_cross_entropy", metrics=["accuracy"])  # fmt: skip
    test = json.loads((folder / "best" / "test.json").read_text())
    assert test["accuracy"] == pytest.approx(float(expected["accuracy"]))
    assert "files written:" in result.stdout and "best: {'width'" in result.stdout


def test_plots_include_the_width_depth_heat_map(xor_search):
    folder, _ = xor_search
    for name in ("results.png", "width_depth.png", "best/history.png"):
        assert (folder / name).stat().st_size > 1000, name


def test_existing_results_are_not_overwritten(xor_search):
    folder, _ = xor_search
    before = (folder / "results.csv").read_text()
    result = invoke("search", "--data", "xor", "--epochs", "1", "--out", folder, "--quiet")
    assert result.exit_code == 1
    assert "already holds search results" in result.output and "--overwrite" in result.output
    assert (folder / "results.csv").read_text() == before


@pytest.mark.parametrize(
    "args, match",
    [
        (("--model", "dense({},tanh) dense(2)"), "empty value set"),
        (
            ("--model", "dense(4,tanh) dense(2)", "--width", "4,8"),
            "grid key 'width' is neither a placeholder",
        ),
        (("--learning-rate", "0.1,,0.2"), "holds an empty value"),
        (("--optimizer", "adma"), "unknown optimizer 'adma'"),
    ],
)
def test_bad_input_is_one_message_and_writes_nothing(tmp_path, args, match):
    out = tmp_path / "out"
    result = invoke("search", "--data", "xor", "--epochs", "1", "--out", out, "--quiet", *args)
    assert result.exit_code in (1, 2)
    assert match in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_single_values_are_fixed_and_l2_is_a_grid_key(tmp_path):
    out = tmp_path / "out"
    result = invoke(
        "search",
        "--data",
        "xor",
        "--model",
        "dense(4,tanh) dense(2)",
        "--l2",
        "0,0.01",
        "--learning-rate",
        "0.05",
        "--epochs",
        "2",
        "--out",
        out,
        "--quiet",
        "--no-plots",
    )
    assert result.exit_code == 0, result.output
    rows = _rows(out / "results.csv")
    assert [r["l2"] for r in rows] == ["0.0", "0.01"]
    assert "learning_rate" not in rows[0]
    assert np.isfinite(float(rows[1]["loss_mean"]))
