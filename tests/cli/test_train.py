import csv
import json
import re
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxnn
from jaxnn import data
from jaxnn.cli.rundir import read_config
from tests.cli.conftest import MODEL_FILE, TITANIC, invoke

FAST = ("--no-plots", "--no-tensorboard", "--quiet")


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_writes_the_run_directory(xor_run):
    folder, result = xor_run
    listed = [Path(p) for p in result.stdout.split("files written:\n")[1].split()]
    names = [str(p.relative_to(folder)) for p in listed]
    assert names[:4] == ["config.toml", "history.csv", "model.jaxnn", "test.json"]
    assert {"history.png", "decision_boundary.png", "confusion_matrix.png"} <= set(names)
    assert any(n.startswith("tb/train/events.out.tfevents") for n in names)
    assert all((folder / n).is_file() for n in names)
    history = _rows(folder / "history.csv")
    assert [r["epoch"] for r in history] == ["0", "1", "2"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history[0])


def test_train_config_records_the_resolved_options(xor_run):
    folder, _ = xor_run
    assert read_config(folder / "config.toml") == {
        "data": "xor",
        "test_split": 0.2,
        "model": "dense(16) tanh dense(16) tanh dense(2)",
        "loss": "softmax_cross_entropy",
        "optimizer": "adam",
        "learning_rate": 0.01,
        "epochs": 3,
        "batch_size": 32,
        "validation_split": 0.1,
        "seed": 1,
    }


def test_test_json_is_the_saved_model_on_the_held_out_rows(xor_run):
    folder, result = xor_run
    saved = jaxnn.load_model(folder / "model.jaxnn")
    x, y = data.xor(seed=1)
    _, (x_test, y_test) = data.train_test_split(x, y, test_fraction=0.2, stratify=True, seed=1)
    expected = jaxnn.evaluate(saved.model, saved.train_state, (x_test, y_test),
                              loss="softmax_cross_entropy", metrics=["accuracy"])  # fmt: skip
    test = json.loads((folder / "test.json").read_text())
    assert test["samples"] == 100
    assert test["accuracy"] == pytest.approx(expected["accuracy"])
    assert test["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert f"test accuracy {test['accuracy']:.4f}" in result.stdout


def test_train_prints_device_and_progress_on_stderr_and_speed_on_stdout(xor_run):
    _, result = xor_run
    assert result.stderr.startswith("device: cpu\ndata: xor: 400 training and 100 test samples")
    assert "Epoch 3/3" in result.stderr and "Epoch" not in result.stdout
    assert re.search(r"trained 3 epochs in [\d.]+ s, [\d,]+ training samples/s", result.stdout)


def test_rerun_from_config_with_an_override_and_overwrite_keeps_other_files(xor_run, tmp_path):
    folder, _ = xor_run
    out = tmp_path / "again"
    result = invoke("train", "--config", folder, "--epochs", "1", "--out", out, *FAST)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # --quiet
    expected = {**read_config(folder / "config.toml"), "epochs": 1}
    assert read_config(out / "config.toml") == expected
    assert len(_rows(out / "history.csv")) == 1
    (out / "notes.txt").write_text("mine")
    refused = invoke("train", "--config", out / "config.toml", "--out", out, *FAST)
    assert refused.exit_code == 1
    assert "already holds a run (config.toml, history.csv, model.jaxnn" in refused.stderr
    assert "--overwrite" in refused.stderr
    again = invoke("train", "--config", out, "--epochs", "2", "--out", out, "--overwrite", *FAST)
    assert again.exit_code == 0, again.output
    assert len(_rows(out / "history.csv")) == 2 and (out / "notes.txt").read_text() == "mine"


def test_digits_default_reaches_95_percent(tmp_path):
    result = invoke("train", "--data", "digits", "--out", tmp_path / "demo", *FAST)
    assert result.exit_code == 0, result.output
    accuracy = float(result.stdout.split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.95
    assert read_config(tmp_path / "demo" / "config.toml")["epochs"] == 40


def test_titanic_csv_with_one_output_gets_the_sigmoid_loss(tmp_path):
    path = tmp_path / "titanic.csv"
    path.write_text(TITANIC)
    out = tmp_path / "run"
    result = invoke("train", "--data", path, "--target", "Survived", "--model",
                    "dense(4, relu) dense(1)", "--epochs", "2", "--test-split", "0.3",
                    "--validation-split", "0", "--batch-size", "4", "--out", out, *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    config = read_config(out / "config.toml")
    assert config["loss"] == "sigmoid_binary_cross_entropy" and config["target"] == "Survived"
    assert config["data"] == str(path.resolve())
    assert json.loads((out / "test.json").read_text())["samples"] == 3


def test_regression_with_early_stopping(tmp_path):
    out = tmp_path / "run"
    result = invoke("train", "--data", "regression_plane", "--early-stopping", "0",
                    "--epochs", "60", "--out", out, "--no-plots", "--no-tensorboard")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "EarlyStopping: val_loss did not improve for 1 epochs" in result.stderr
    assert len(_rows(out / "history.csv")) < 60
    assert set(json.loads((out / "test.json").read_text())) == {"loss", "mae", "samples"}


def test_model_file_with_its_own_optimizer(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL_FILE)
    out = tmp_path / "run"
    result = invoke("train", "--data", "circle", "--model", path, "--epochs", "1", "--out", out,
                    *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    config = read_config(out / "config.toml")
    assert config["optimizer"] == "sgd" and "learning_rate" not in config  # sgd's own rate
    assert config["model"] == str(path.resolve())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "digts"], r"unknown data set 'digts'\. Did you mean 'digits'\? Known data "),
        (["--data", "xor", "--optimizer", "adm"], r"unknown optimizer 'adm'\. Did you mean 'adam'"),
        (["--data", "xor", "--loss", "mse2"], r"unknown loss 'mse2'\. Did you mean 'mse'\? Known losses"),
        (["--data", "xor", "--model", "dense(4) rleu dense(2)"],
         r"unknown layer 'rleu'.*\n  dense\(4\) rleu dense\(2\)\n           \^\^\^\^"),
        (["--data", "xor", "--model", "dense(4) dense(3)"],
         r"last layer gives 3 outputs per sample, but 'xor' has 2 classes"),
        (["--epochs", "3"], r"give --data NAME"),
    ],
)  # fmt: skip
def test_train_errors_are_one_message_without_traceback(tmp_path, args, message):
    result = invoke("train", *args, "--out", tmp_path / "run", *FAST)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert re.search(message, result.stderr)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()  # nothing written before the checks pass


def test_config_values_are_checked_by_the_options_types(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('data = "xor"\nepochs = "many"\n')
    result = invoke("train", "--config", path, *FAST)
    assert result.exit_code == 1
    assert "epochs = 'many': 'many' is not a valid integer" in result.stderr


def test_a_non_finite_learning_rate_is_refused_before_anything_is_written(tmp_path):
    result = invoke("train", "--data", "xor", "--learning-rate", "inf", "--out", tmp_path / "r")
    assert result.exit_code == 2
    assert "Invalid value for '--learning-rate': inf is not a finite number" in result.output
    assert not (tmp_path / "r").exists()


def test_training_that_goes_non_finite_exits_non_zero_and_writes_valid_json(tmp_path):
    folder = tmp_path / "nan"
    result = invoke(
        "train", "--data", "xor", "--optimizer", "sgd", "--learning-rate", "1e38",
        "--epochs", "4", "--out", folder, "--no-plots",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "training did not finish: fit: the loss became NaN or Inf at epoch" in result.output
    assert "last finite weights" in result.output

    def refuse(constant):
        raise AssertionError(f"test.json holds {constant}, which is not JSON")

    json.loads((folder / "test.json").read_text(), parse_constant=refuse)
    loaded = jaxnn.load_model(folder / "model.jaxnn")
    assert all(np.isfinite(np.asarray(a)).all() for a in jax.tree.leaves(loaded.train_state.params))


def test_precision_is_trained_with_saved_and_used_by_evaluate(tmp_path):
    folder = tmp_path / "mixed"
    result = invoke("train", "--data", "xor", "--epochs", "2", "--precision", "mixed_float16",
                    "--out", folder, *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_config(folder / "config.toml")["precision"] == "mixed_float16"
    history = _rows(folder / "history.csv")
    assert float(history[-1]["loss_scale"]) == 2.0**15 and history[-1]["skipped_steps"] == "0.0"
    saved = jaxnn.load_model(folder / "model.jaxnn")
    assert saved.fit_kwargs["precision"] == "mixed_float16"
    x, y = data.xor(seed=0)
    _, (x_test, y_test) = data.train_test_split(x, y, test_fraction=0.2, stratify=True, seed=0)
    expected = jaxnn.evaluate(saved.model, saved.train_state, (x_test, y_test),
                              loss="softmax_cross_entropy", metrics=["accuracy"],
                              precision="mixed_float16")  # fmt: skip
    test = json.loads((folder / "test.json").read_text())
    assert test["loss"] == pytest.approx(expected["loss"], rel=1e-6)
    result = invoke("evaluate", folder, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["loss"] == pytest.approx(expected["loss"], rel=1e-6)


def test_an_unknown_precision_lists_the_choices(tmp_path):
    result = invoke("train", "--data", "xor", "--precision", "fp8", "--out", tmp_path / "r", *FAST)
    assert result.exit_code == 2
    assert "'fp8' is not one of 'float32', 'bfloat16', 'mixed_bfloat16', 'mixed_float16'" in (
        result.output
    )


def test_train_reads_a_folder_of_npy_files_memory_mapped(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3)).astype("float32")
    (tmp_path / "d").mkdir()
    np.save(tmp_path / "d" / "x.npy", x)
    np.save(tmp_path / "d" / "y.npy", (x[:, 0] > 0).astype("int64"))
    from jaxnn.cli.datasets import load_dataset

    dataset = load_dataset(str(tmp_path / "d"), test_split=0.25)
    assert isinstance(dataset.x_train, np.memmap) and len(dataset.x_train) == 90  # the first rows
    np.testing.assert_array_equal(dataset.x_test, x[90:])
    result = invoke("train", "--data", tmp_path / "d", "--model", "dense(2)", "--epochs", "1",
                    "--out", tmp_path / "run")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "test.json").read_text())["samples"] == 24
    (tmp_path / "d" / "y.npy").unlink()
    result = invoke("train", "--data", tmp_path / "d", "--model", "dense(2)", "--out",
                    tmp_path / "run2")  # fmt: skip
    assert result.exit_code != 0 and "holds x.npy and y.npy; it has ['x.npy']" in result.output
