import json

from jaxnn.cli.runs import best
from tests.cli.conftest import invoke


def test_runs_lists_best_validation_and_test_metrics(xor_run):
    folder, _ = xor_run
    (folder.parent / "not-a-run").mkdir(exist_ok=True)
    result = invoke("runs", folder.parent, "--json")
    assert result.exit_code == 0, result.output
    (row,) = [r for r in json.loads(result.stdout) if r["run"] == "xor"]
    history = (folder / "history.csv").read_text().splitlines()
    columns = history[0].split(",")
    val_loss = [float(line.split(",")[columns.index("val_loss")]) for line in history[1:]]
    test = json.loads((folder / "test.json").read_text())
    assert row["data"] == "xor" and row["epochs"] == 3
    assert row["best val_loss"] == min(val_loss)
    assert row["test accuracy"] == test["accuracy"]
    assert "best loss" not in row  # validation metrics are shown when there are any
    table = invoke("runs", folder.parent)
    assert table.stdout.splitlines()[0].split()[:4] == ["run", "data", "epochs", "best"]


def test_runs_in_an_empty_folder_says_so(tmp_path):
    result = invoke("runs", tmp_path)
    assert result.exit_code == 0 and result.stdout == ""
    assert "no runs in" in result.stderr


def test_best_is_the_least_loss_and_the_greatest_accuracy():
    assert best("val_mae", [0.3, 0.1, float("nan")]) == 0.1
    assert best("val_accuracy", [0.3, 0.9]) == 0.9
    assert best("loss", [float("nan")]) is None
