import json

import pytest

from tests.cli.conftest import invoke


def test_evaluate_defaults_to_the_runs_test_split(xor_run):
    folder, _ = xor_run
    result = invoke("evaluate", folder, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == pytest.approx(
        json.loads((folder / "test.json").read_text()), rel=1e-5
    )


def test_evaluate_other_splits_and_data(xor_run):
    folder, _ = xor_run
    everything = invoke("evaluate", folder, "--split", "all")
    assert everything.exit_code == 0, everything.output
    assert everything.stdout.startswith("xor, all split (500 samples):\n  accuracy ")
    other = invoke("evaluate", folder, "--data", "circle", "--test-split", "0.5", "--json")
    assert json.loads(other.stdout)["samples"] == 250


def test_evaluate_rejects_data_of_another_shape(xor_run):
    folder, _ = xor_run
    result = invoke("evaluate", folder, "--data", "digits")
    assert result.exit_code == 1
    assert "'digits' has 64 features per sample, but the model takes 2." in result.stderr


def test_evaluate_needs_a_run(tmp_path):
    result = invoke("evaluate", tmp_path)
    assert result.exit_code == 1 and "holds no model.jaxnn" in result.stderr
