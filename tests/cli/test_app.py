"""The `jaxnn` group and the real entry point, `python -m jaxnn`, in subprocesses."""

import click
import pytest

from jaxnn.cli import cli
from tests.cli.conftest import invoke, run_command


def test_train_through_the_real_command(tmp_path):
    out = tmp_path / "run"
    result = run_command("train", "--data", "xor", "--epochs", "2", "--out", out,
                         "--no-tensorboard")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("device: ")
    assert "Epoch 2/2" in result.stderr
    assert "test accuracy " in result.stdout and "training samples/s" in result.stdout
    listed = result.stdout.split("files written:\n")[1].split()
    assert listed[:4] == [str(out / n) for n in ("config.toml", "history.csv", "model.jaxnn",
                                                  "test.json")]  # fmt: skip
    assert all((tmp_path / p).is_file() for p in listed)


def test_unknown_data_set_exits_1_with_one_message():
    result = run_command("train", "--data", "digts")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: unknown data set 'digts'. Did you mean 'digits'? Known data sets: blobs, circle, "
        "digits, fashion_mnist, gaussian, mnist, moons, python_docs, regression_gaussian, "
        "regression_plane, "
        "spiral, xor. Or give a .csv file (with --target) or an .npz file.\n"
    )


def test_bad_spec_points_at_the_token_without_a_traceback():
    result = run_command("summary", "dense(64) dens(10)", "--input-shape", "8")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-2:] == ["  dense(64) dens(10)", "            ^^^^"]


def test_debug_shows_the_traceback_of_a_library_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,y\n1,0\n2\n")
    plain = invoke("train", "--data", path, "--target", "y")
    assert plain.exit_code == 1
    assert plain.stderr == (
        f"Error: load_csv: rows [3] of {str(path)!r} do not have 2 fields like the header.\n"
    )
    result = run_command("train", "--data", path, "--target", "y", "--debug")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().endswith("do not have 2 fields like the header.")


def test_a_bad_option_value_is_a_usage_error():
    result = invoke("train", "--data", "xor", "--epochs", "0")
    assert result.exit_code == 2
    assert "Invalid value for '--epochs': 0 is not in the range x>=1." in result.stderr


def test_the_group_is_a_click_group_with_every_command():
    assert isinstance(cli, click.Group)
    assert sorted(cli.commands) == [
        "bench", "devices", "evaluate", "playground", "plot", "predict", "runs", "search",
        "summary", "train",
    ]  # fmt: skip


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_help_is_the_docstring_summary_and_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    summary = cli.commands[command].help.splitlines()[0]
    assert result.stdout.splitlines()[2].strip() == summary
    assert f"Example: jaxnn {command}" in result.stdout
    assert "--debug" in result.stdout


def test_group_help_documents_shell_completion():
    result = invoke("--help")
    assert 'eval "$(_JAXNN_COMPLETE=bash_source jaxnn)"' in result.stdout


# Every kind of bad input the issue lists, through the real command: exit code 1, one message on
# stderr that names the problem, and no traceback.
BAD_INPUT = {
    "layer": (["train", "--data", "xor", "--model", "dense(4) fltten dense(2)"],
              ["unknown layer 'fltten'. Did you mean 'flatten'?", "           ^^^^^^"]),
    "activation": (["train", "--data", "xor", "--model", "dense(4,relux) dense(2)"],
                   ["unknown activation 'relux'. Did you mean 'relu'", "Known activations: arctan"]),
    "optimizer": (["train", "--data", "xor", "--optimizer", "adma"],
                  ["unknown optimizer 'adma'. Did you mean 'adamax' or 'adam'", "Known optimizers:"]),
    "loss": (["train", "--data", "xor", "--loss", "mse2"],
             ["unknown loss 'mse2'. Did you mean 'mse'?"]),
    "parse": (["train", "--data", "xor", "--model", "dense(4 dense(2)"],
              ["model spec, column 9: expected ',' or ')', found 'dense'", "          ^^^^^"]),
    "target": (["train", "--data", "{csv}", "--target", "Survivd"],
               ["has no column 'Survivd'. Did you mean 'Survived'? Its columns are: PassengerId"]),
    "file": (["train", "--data", "{ragged}", "--target", "y"],
             ["load_csv: rows [3] of", "ragged.csv' do not have 2 fields like the header."]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_through_the_real_command(case, tmp_path):
    from tests.cli.conftest import TITANIC

    (tmp_path / "t.csv").write_text(TITANIC)
    (tmp_path / "ragged.csv").write_text("a,y\n1,0\n2\n")
    args, expected = BAD_INPUT[case]
    args = [a.format(csv=tmp_path / "t.csv", ragged=tmp_path / "ragged.csv") for a in args]
    result = run_command(*args, "--out", tmp_path / "run")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    for part in expected:
        assert part in result.stderr
    assert not (tmp_path / "run").exists()  # nothing was written


def test_an_existing_run_is_kept_and_a_wide_input_refused_through_the_command(xor_run, tmp_path):
    import numpy as np

    folder, _ = xor_run
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    result = run_command("train", "--data", "xor", "--out", folder)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"Error: {str(folder)!r} already holds a run (config.toml, " in result.stderr
    assert "Pass --overwrite to replace the run's files (other files stay)" in result.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    np.save(tmp_path / "wide.npy", np.zeros((3, 5), np.float32))
    result = run_command("predict", folder, tmp_path / "wide.npy")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr == (
        f"Error: {str(tmp_path / 'wide.npy')!r} has 5 features per sample, but the model takes 2.\n"
    )
