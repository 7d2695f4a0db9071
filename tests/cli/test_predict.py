import numpy as np

import jaxnn
from tests.cli.conftest import invoke


def _points(tmp_path):
    x = np.array([[2.0, 3.0], [-2.0, 3.0], [-4.0, -1.5]], np.float32)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "x.csv").write_text("a,b\n" + "\n".join(f"{p},{q}" for p, q in x) + "\n")
    return x


def _expected(folder, x):
    saved = jaxnn.load_model(folder / "model.jaxnn")
    return np.asarray(jaxnn.predict(saved.model, saved.train_state, x))


def test_predict_csv_to_stdout_gives_classes_and_softmax(xor_run, tmp_path):
    folder, _ = xor_run
    x = _points(tmp_path)
    result = invoke("predict", folder, tmp_path / "x.csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "class,p_0,p_1"
    values = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    logits = _expected(folder, x)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(values[:, 1:], e / e.sum(axis=1, keepdims=True), rtol=1e-4)
    assert values[:, 0].tolist() == logits.argmax(axis=1).tolist()


def test_predict_npy_files_and_raw_outputs(xor_run, tmp_path):
    folder, _ = xor_run
    x = _points(tmp_path)
    result = invoke("predict", folder, tmp_path / "x.npy", "--out", tmp_path / "y.npy")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"files written:\n  {tmp_path / 'y.npy'}\n"
    assert np.load(tmp_path / "y.npy").tolist() == _expected(folder, x).argmax(axis=1).tolist()
    raw = invoke("predict", folder, tmp_path / "x.npy", "--outputs", "--out", tmp_path / "o.csv")
    assert raw.exit_code == 0, raw.output
    rows = (tmp_path / "o.csv").read_text().splitlines()
    assert rows[0] == "output_0,output_1"
    got = np.array([[float(v) for v in r.split(",")] for r in rows[1:]])
    np.testing.assert_allclose(got, _expected(folder, x), rtol=1e-5, atol=1e-6)


def test_predict_refuses_to_overwrite(xor_run, tmp_path):
    folder, _ = xor_run
    _points(tmp_path)
    (tmp_path / "y.csv").write_text("keep")
    result = invoke("predict", folder, tmp_path / "x.csv", "--out", tmp_path / "y.csv")
    assert result.exit_code == 1 and "exists: pass --overwrite" in result.stderr
    assert (tmp_path / "y.csv").read_text() == "keep"


def test_predict_checks_the_feature_count(xor_run, tmp_path):
    folder, _ = xor_run
    np.save(tmp_path / "wide.npy", np.zeros((4, 3), np.float32))
    result = invoke("predict", folder, tmp_path / "wide.npy")
    assert result.exit_code == 1
    assert "wide.npy' has 3 features per sample, but the model takes 2." in result.stderr


def test_predict_names_the_bad_line_of_a_csv(xor_run, tmp_path):
    folder, _ = xor_run
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,x\n")
    result = invoke("predict", folder, tmp_path / "bad.csv")
    assert result.exit_code == 1
    assert "bad.csv', line 3, column 2: 'x' is not a number" in result.stderr
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    result = invoke("predict", folder, tmp_path / "ragged.csv")
    assert "ragged.csv', line 2: 1 fields, but the first row has 2." in result.stderr
