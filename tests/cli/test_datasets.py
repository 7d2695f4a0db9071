import gzip

import numpy as np
import pytest

from jaxnn import data
from jaxnn.cli.common import UserError
from jaxnn.cli.datasets import defaults, load_dataset, load_run_data, short_name
from tests.cli.conftest import TITANIC


def test_a_synthetic_set_is_split_stratified_with_the_seed():
    ds = load_dataset("xor", test_split=0.2, seed=3)
    x, y = data.xor(seed=3)
    (xtr, ytr), (xte, yte) = data.train_test_split(x, y, test_fraction=0.2, stratify=True, seed=3)
    np.testing.assert_array_equal(ds.x_train, xtr)
    np.testing.assert_array_equal(ds.y_test, yte)
    assert ds.num_classes == 2 and ds.input_shape == (-1, 2) and not ds.images
    assert ds.describe() == "xor: 400 training and 100 test samples of shape (2,), 2 classes"


def test_names_take_hyphens_and_any_case():
    assert load_dataset("Regression-Plane", test_split=0).num_classes is None
    assert short_name("Fashion-MNIST") == "fashion_mnist"


def test_regression_targets_are_float_columns_and_no_test_split_means_none():
    ds = load_dataset("regression_plane", test_split=0)
    assert ds.y_train.dtype == np.float32 and ds.y_train.ndim == 2
    assert ds.x_test is None and ds.y_test is None


def test_digits_are_images_with_the_demo_split():
    ds = load_dataset("digits")
    (_, _), (x_test, _) = data.digits(test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(ds.x_test, x_test)
    assert ds.images and ds.num_classes == 10


def test_unknown_name_suggests_and_lists():
    with pytest.raises(UserError, match=r"unknown data set 'spirl'\. Did you mean 'spiral'\?"):
        load_dataset("spirl")


def test_csv_one_hot_categoricals_and_standardised_numbers(tmp_path):
    path = tmp_path / "titanic.csv"
    path.write_text(TITANIC)
    ds = load_dataset(str(path), target="Survived", test_split=0.3, seed=0)
    assert ds.feature_names == ["PassengerId", "Pclass", "Sex=female", "Sex=male", "Age", "Fare"]
    assert ds.num_classes == 2 and len(ds.x_train) == 7 and len(ds.x_test) == 3
    numeric = ds.x_train[:, [0, 1, 4, 5]]
    np.testing.assert_allclose(numeric.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(numeric.std(axis=0), 1, atol=1e-5)
    assert set(np.unique(ds.x_train[:, 2:4])) == {0.0, 1.0}  # one-hot left unscaled
    assert (ds.x_train[:, 2] + ds.x_train[:, 3] == 1).all()


def test_csv_needs_a_target_and_lists_the_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(TITANIC)
    with pytest.raises(UserError, match=r"needs --target COLUMN.*columns are: PassengerId, Pclass"):
        load_dataset(str(path))
    with pytest.raises(UserError, match=r"no column 'survived'\. Did you mean 'Survived'\?"):
        load_dataset(str(path), target="survived")


def test_malformed_csv_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n1,2,0\n3,4\n5,6,1\n")
    with pytest.raises(ValueError, match=r"rows \[3\] of '.*bad\.csv' do not have 3 fields"):
        load_dataset(str(path), target="y")


def test_binary_or_missing_files_are_named(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(UserError, match=r"bin\.csv' is not a text CSV file"):
        load_dataset(str(path), target="y")
    with pytest.raises(UserError, match=r"no file '.*missing\.csv'"):
        load_dataset(str(tmp_path / "missing.csv"), target="y")
    (tmp_path / "x.txt").write_text("1")
    with pytest.raises(UserError, match=r"reads \.csv and \.npz files; got a '\.txt' file"):
        load_dataset(str(tmp_path / "x.txt"))


def test_npz_with_its_own_test_arrays_keeps_int_tokens(tmp_path):
    path = tmp_path / "seq.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.integers(0, 50, (20, 6)), y=rng.integers(0, 3, 20),
             x_test=rng.integers(0, 50, (5, 6)), y_test=np.array([0, 1, 2, 2, 1]))  # fmt: skip
    ds = load_dataset(str(path))
    assert ds.x_train.dtype == np.int32 and ds.x_test.shape == (5, 6)
    assert ds.num_classes == 3
    np.savez(tmp_path / "bad.npz", features=np.zeros(3))
    with pytest.raises(UserError, match=r"must hold arrays 'x' and 'y'; it holds \['features'\]"):
        load_dataset(str(tmp_path / "bad.npz"))


def _write_idx(path, array, code):
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    path.write_bytes(gzip.compress(header + array.astype(">u1").tobytes()))


def test_mnist_from_a_folder_of_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 28, 28))
    for stem, array in [
        ("train-images-idx3-ubyte", images),
        ("train-labels-idx1-ubyte", np.arange(6) % 10),
        ("t10k-images-idx3-ubyte", images[:2]),
        ("t10k-labels-idx1-ubyte", np.array([3, 4])),
    ]:
        _write_idx(tmp_path / f"{stem}.gz", array, 0x08)
    ds = load_dataset("mnist", data_dir=str(tmp_path))
    assert ds.x_train.shape == (6, 28, 28, 1) and ds.num_classes == 10 and ds.images
    np.testing.assert_allclose(ds.x_test[1, ..., 0], images[1] / 255.0, rtol=1e-6)
    assert ds.y_test.tolist() == [3, 4]
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(UserError, match="has no t10k-labels-idx1-ubyte file"):
        load_dataset("fashion-mnist", data_dir=str(tmp_path))


def test_defaults_end_with_one_unit_per_class():
    assert defaults(load_dataset("digits"))["model"] == (
        "dense(128) relu dropout(0.1) dense(64) relu dense(10)"
    )
    assert defaults(load_dataset("blobs", test_split=0))["model"].endswith("dense(3)")
    assert defaults(load_dataset("regression_plane"))["model"].endswith("dense(1)")


def test_run_data_takes_the_config_and_overrides():
    config = {"data": "xor", "test_split": 0.5, "seed": 2}
    ds = load_run_data(config)
    assert len(ds.x_test) == 250
    assert load_run_data(config, data="circle").name == "circle"
    with pytest.raises(UserError, match="give --data"):
        load_run_data({})
