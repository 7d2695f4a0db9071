import csv
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from jaxnn import data


def test_digits_are_the_real_ones():
    from sklearn.datasets import load_digits

    x, y = data.digits()
    reference = load_digits()
    np.testing.assert_allclose(x * 16, reference.data, atol=1e-5)
    np.testing.assert_array_equal(y, reference.target)
    images, _ = data.digits(images=True)
    assert images.shape == (1797, 8, 8, 1)
    (xtr, ytr), (xte, yte) = data.digits(test_fraction=0.2)
    # 20% of each class (174 to 183 samples) is 35 to 37; cumulative rounding may move one.
    assert len(xte) == 359 and set(np.bincount(yte).tolist()) <= {34, 35, 36, 37}


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ImportError, match=r"pip install 'jaxnn\[datasets\]'"):
        data.digits()


def test_digits_are_read_without_importing_sklearn():
    # The file ships inside scikit-learn; reading it must not import the package (1.4 s).
    code = "import sys, jaxnn.data as d; d.digits(); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


TITANIC = [
    [
        "PassengerId",
        "Survived",
        "Pclass",
        "Name",
        "Sex",
        "Age",
        "SibSp",
        "Parch",
        "Ticket",
        "Fare",
        "Cabin",
        "Embarked",
    ],
    ["1", "0", "3", "Braund, Mr. Owen", "male", "22", "1", "0", "A/5 21171", "7.25", "", "S"],
    [
        "2",
        "1",
        "1",
        "Cumings, Mrs. John",
        "female",
        "38",
        "1",
        "0",
        "PC 17599",
        "71.28",
        "C85",
        "C",
    ],
    ["3", "1", "3", "Heikkinen, Miss. Laina", "female", "", "0", "0", "STON/O2.", "7.92", "", "S"],
    [
        "4",
        "1",
        "1",
        "Futrelle, Mrs. Jacques",
        "female",
        "35",
        "1",
        "0",
        "113803",
        "53.1",
        "C123",
        "S",
    ],
    ["5", "0", "3", "Allen, Mr. William", "male", "35", "0", "0", "373450", "8.05", "", ""],
    ["6", "0", "3", "Moran, Mr. James", "male", "", "0", "0", "330877", "8.46", "", "Q"],
    ["7", "0", "1", "McCarthy, Mr. Timothy", "male", "54", "0", "0", "17463", "51.86", "E46", "S"],
    ["8", "0", "3", "Palsson, Master. Gosta", "male", "2", "3", "1", "349909", "21.08", "", "S"],
    ["9", "1", "3", "Johnson, Mrs. Oscar", "female", "27", "0", "2", "347742", "11.13", "", "S"],
    ["10", "1", "2", "Nasser, Mrs. Nicholas", "female", "14", "1", "0", "237736", "30.07", "", "C"],
]


def write(tmp_path, rows):
    path = tmp_path / "titanic.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_titanic_preprocessing_is_fitted_on_train_only(tmp_path):
    path = write(tmp_path, TITANIC)
    t = data.load_csv(
        path,
        target="Survived",
        categorical=["Pclass"],
        drop=["PassengerId", "Name", "Ticket", "Cabin"],
        test_fraction=0.3,
        seed=0,
    )
    assert t.x_train.shape[0] == 7 and t.x_test.shape[0] == 3 and t.classes is None
    assert (
        t.feature_names[:3] == ["Pclass=1", "Pclass=2", "Pclass=3"] or "Pclass=1" in t.feature_names
    )
    assert (
        "Age" in t.feature_names
        and "Sex=female" in t.feature_names
        and "Embarked=S" in t.feature_names
    )
    # Recompute the training rows the split chose, then the median age from them alone.
    rows = np.arange(10)
    (train_rows, _), (test_rows, _) = data.train_test_split(
        rows, np.array([int(r[1]) for r in TITANIC[1:]]), test_fraction=0.3, seed=0
    )
    ages = [TITANIC[1 + i][5] for i in train_rows]
    median = float(np.median([float(a) for a in ages if a]))
    age = t.feature_names.index("Age")
    for i, row in enumerate(train_rows):
        expected = float(TITANIC[1 + row][5]) if TITANIC[1 + row][5] else median
        assert t.x_train[i, age] == pytest.approx(expected)
    for i, row in enumerate(test_rows):
        expected = float(TITANIC[1 + row][5]) if TITANIC[1 + row][5] else median
        assert t.x_test[i, age] == pytest.approx(expected)
    one_hot = [j for j, n in enumerate(t.feature_names) if n.startswith("Sex=")]
    np.testing.assert_array_equal(t.x_train[:, one_hot].sum(axis=1), np.ones(7))
    assert t.y_train.dtype == np.int32


def test_string_targets_become_classes(tmp_path):
    rows = [["a", "label"], ["1", "cat"], ["2", "dog"], ["3", "cat"], ["4", "dog"], ["5", "cat"]]
    t = data.load_csv(write(tmp_path, rows), target="label", test_fraction=0.4)
    assert t.classes == ["cat", "dog"] and set(np.concatenate([t.y_train, t.y_test]).tolist()) == {
        0,
        1,
    }


def test_csv_errors(tmp_path):
    path = write(tmp_path, TITANIC)
    with pytest.raises(
        ValueError,
        match=r"load_csv: no column 'survived' in .*; the columns are \['PassengerId', 'Survived'",
    ):
        data.load_csv(path, target="survived")
    bad = [r[:] for r in TITANIC]
    bad[3] = bad[3][:5]
    with pytest.raises(ValueError, match=r"rows \[4\] of .* do not have 12 fields like the header"):
        data.load_csv(write(tmp_path, bad), target="Survived")
    missing = [r[:] for r in TITANIC]
    missing[2][1] = ""
    with pytest.raises(
        ValueError, match="the target 'Survived' is missing in some rows; the first is line 3"
    ):
        data.load_csv(write(tmp_path, missing), target="Survived")


def test_the_encoder_encodes_new_rows_as_the_training_rows(tmp_path):
    path = write(tmp_path, TITANIC)
    t = data.load_csv(path, target="Survived", categorical=["Pclass"], drop=["Name"], seed=1)
    enc = t.encoder
    assert enc.feature_names == t.feature_names and enc.target == "Survived"
    # The same file through the fitted encoder: the same rows, the same features.
    again = data.load_csv(path, target="Survived", encoder=enc, seed=1)
    np.testing.assert_array_equal(again.x_train, t.x_train)
    np.testing.assert_array_equal(again.x_test, t.x_test)
    # New rows, by column, without the target: a gap gets the training median, an unseen
    # category encodes as zeros.
    age = next(c for c in enc.columns if c.name == "Age")
    table = {name: [TITANIC[1][i]] * 2 for i, name in enumerate(TITANIC[0])}
    table["Age"] = ["", "40"]
    table["Embarked"] = ["S", "Z"]
    del table["Survived"]
    x = enc.encode(table)
    assert x.shape == (2, len(t.feature_names)) and x.dtype == np.float32
    assert x[0, t.feature_names.index("Age")] == pytest.approx(age.fill)
    assert x[1, t.feature_names.index("Age")] == 40.0
    embarked = [j for j, n in enumerate(t.feature_names) if n.startswith("Embarked=")]
    assert x[0, embarked].tolist().count(1.0) == 1 and x[1, embarked].sum() == 0
    # JSON round trip.
    import json

    back = data.TabularEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    np.testing.assert_array_equal(back.encode(table), x)


def test_the_encoder_names_missing_columns_text_in_numbers_and_unknown_classes(tmp_path):
    rows = [["a", "b", "label"], ["1", "x", "cat"], ["2", "y", "dog"], ["3", "x", "cat"]]
    t = data.load_csv(write(tmp_path, rows), target="label", test_fraction=0.34)
    with pytest.raises(
        ValueError,
        match=r"encode: no column 'a'; the model was trained on the columns \['a', 'b'\]",
    ):
        t.encoder.encode({"b": ["x"]})
    with pytest.raises(ValueError, match=r"column 'a' is numeric, but row 2 holds 'seven'"):
        t.encoder.encode({"a": ["1", "seven"], "b": ["x", "y"]})
    other = tmp_path / "other.csv"
    with other.open("w", newline="") as f:
        csv.writer(f).writerows([["a", "b", "label"], ["1", "x", "cow"], ["2", "x", "cat"]])
    with pytest.raises(
        ValueError,
        match=r"holds \['cow'\], classes the encoder does not know; it knows \['cat', 'dog'\]",
    ):
        data.load_csv(other, target="label", test_fraction=0.5, encoder=t.encoder)


def test_read_columns_skips_blank_lines_and_names_bad_ones(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n\n3,4\n5\n")
    with pytest.raises(ValueError, match=r"rows \[5\] of .* do not have 2 fields"):
        data.read_columns(path)
    path.write_text("a,b\n1,2\n\n3,4\n")
    assert data.read_columns(path) == {"a": ["1", "3"], "b": ["2", "4"]}
    path.write_text("a,a\n1,2\n")
    with pytest.raises(ValueError, match=r"repeats the columns \['a'\]"):
        data.read_columns(path)
