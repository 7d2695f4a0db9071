"""A run trained on a CSV file: its preprocessing is saved and reused by predict and evaluate."""

import csv
import json

import numpy as np
import pytest

import jaxnn
from jaxnn.cli.common import UserError
from jaxnn.cli.datasets import load_dataset
from tests.cli.conftest import invoke, run_command

FAST = ("--no-plots", "--no-tensorboard", "--quiet")
HEADER = ["PassengerId", "Name", "Pclass", "Sex", "Age", "Fare", "Survived"]


def _table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        sex = ["male", "female"][int(rng.integers(2))]
        pclass = int(rng.integers(1, 4))
        age = "" if rng.random() < 0.2 else str(int(rng.integers(1, 70)))
        fare = f"{rng.uniform(5, 100) * (4 - pclass):.2f}"
        survived = "yes" if (sex == "female") != (rng.random() < 0.2) else "no"
        rows.append([str(i + 1), f"Person {i}", str(pclass), sex, age, fare, survived])
    return rows


def _write(path, header, rows):
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    path = _write(folder / "titanic.csv", HEADER, _table())
    out = folder / "run"
    result = invoke("train", "--data", path, "--target", "Survived", "--drop", "Name",
                    "--categorical", "Pclass", "--epochs", "5", "--out", out, *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    return path, out


def test_the_run_records_drop_categorical_and_the_preprocessing(csv_run):
    path, out = csv_run
    config = (out / "config.toml").read_text()
    assert 'drop = "Name"' in config and 'categorical = "Pclass"' in config
    saved = json.loads((out / "preprocessing.json").read_text())
    columns = [c["name"] for c in saved["encoder"]["columns"]]
    assert columns == ["PassengerId", "Pclass", "Sex", "Age", "Fare"]
    assert saved["encoder"]["classes"] == ["no", "yes"]
    assert saved["scaled"] == ["PassengerId", "Age", "Fare"]
    # The means are those of the training rows, recomputed here from the file.
    ds = load_dataset(str(path), target="Survived", drop="Name", categorical="Pclass")
    assert len(saved["scaler"]["mean"]) == 3 and len(ds.x_train) == 48
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    fares = sorted(float(r["Fare"]) for r in rows)
    assert min(fares) <= saved["scaler"]["mean"][2] <= max(fares)


def test_predict_encodes_raw_rows_as_training_did(csv_run, tmp_path):
    path, out = csv_run
    ds = load_dataset(str(path), target="Survived", drop="Name", categorical="Pclass")
    saved = jaxnn.load_model(out / "model.jaxnn")
    logits = np.asarray(jaxnn.predict(saved.model, saved.train_state, ds.x_train[:5]))
    # The same five passengers as raw rows, without the target and with the columns reordered.
    split_rows = _training_rows(path, ds)
    header = ["Sex", "Fare", "Age", "Pclass", "PassengerId", "Name"]
    new = _write(tmp_path / "new.csv", header, [[r[h] for h in header] for r in split_rows[:5]])
    result = invoke("predict", out, new)
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(result.stdout.splitlines()))
    assert lines[0] == ["label", "class", "p_0", "p_1"]
    classes = logits.argmax(axis=1)
    assert [int(r[1]) for r in lines[1:]] == classes.tolist()
    assert [r[0] for r in lines[1:]] == [["no", "yes"][c] for c in classes]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    got = np.array([[float(v) for v in r[2:]] for r in lines[1:]])
    np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True), rtol=1e-4)


def _training_rows(path, ds):
    """The file's rows in the order of ds.x_train, found by their PassengerId feature."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    ids = np.array([float(r["PassengerId"]) for r in rows])
    scaled = (ids - ds.preprocessing.scaler.mean[0]) / ds.preprocessing.scaler.std[0]
    return [rows[int(np.argmin(np.abs(scaled - v)))] for v in ds.x_train[:, 0]]


def test_evaluate_on_the_run_reproduces_test_json(csv_run):
    _, out = csv_run
    result = invoke("evaluate", out, "--json")
    assert result.exit_code == 0, result.output
    again, test = json.loads(result.stdout), json.loads((out / "test.json").read_text())
    assert again["samples"] == test["samples"] == 12
    assert again["accuracy"] == pytest.approx(test["accuracy"])
    assert again["loss"] == pytest.approx(test["loss"], rel=1e-5)


def test_identifier_like_text_columns_warn_and_bad_names_are_refused(tmp_path):
    path = _write(tmp_path / "t.csv", HEADER, _table())
    with pytest.warns(UserWarning, match=r"column 'Name' has 48 different values in 48 training "
                      r"rows.*--drop Name"):  # fmt: skip
        load_dataset(str(path), target="Survived")
    with pytest.raises(UserError, match=r"--drop: no column 'name'\. Did you mean 'Name'\?"):
        load_dataset(str(path), target="Survived", drop="name")
    with pytest.raises(UserError, match=r"--drop: 'Survived' is the --target column"):
        load_dataset(str(path), target="Survived", drop="Name,Survived")


def test_predict_names_the_missing_columns_through_the_command(csv_run, tmp_path):
    _, out = csv_run
    new = _write(tmp_path / "few.csv", ["Sex", "Pclass"], [["male", "1"]])
    result = run_command("predict", out, new)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        "few.csv': no columns 'PassengerId', 'Age', 'Fare'; the model was trained on the "
        "columns ['PassengerId', 'Pclass', 'Sex', 'Age', 'Fare']." in result.stderr
    )
