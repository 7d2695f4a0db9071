"""`jaxnn train --resume`: a killed run continues to the result of an uninterrupted one."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import jaxnn
from tests.cli.conftest import ENV, KilledError, invoke, train_killed_after_epoch

QUIET = ("--no-plots", "--no-tensorboard", "-q")
XOR = ("--data", "xor", "--epochs", "150", "--seed", "3", "--batch-size", "16")


def _same_train_state(a, b):
    """Parameters, optimizer state, step and key of two model files, bit for bit."""
    sa, sb = jaxnn.load_model(a).train_state, jaxnn.load_model(b).train_state
    leaves = [jax.random.key_data(s.key) for s in (sa, sb)]
    pairs = zip(
        jax.tree.leaves((sa.params, sa.opt_state, sa.step)),
        jax.tree.leaves((sb.params, sb.opt_state, sb.step)),
        strict=True,
    )
    return all(np.array_equal(x, y) for x, y in pairs) and np.array_equal(*leaves)


def _status(folder):
    result = invoke("runs", folder, "--json")
    assert result.exit_code == 0, result.output
    return {row["run"]: row["status"] for row in json.loads(result.stdout)}


def _rows(path):
    return len(path.read_text().splitlines()) - 1 if path.is_file() else 0


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume") / "whole"
    result = invoke("train", *XOR, "--out", folder, *QUIET)
    assert result.exit_code == 0, result.output
    return folder


def test_a_run_killed_with_sigkill_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted):
    folder = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "jaxnn", "train", *XOR, "--out", str(folder), *QUIET],
        env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while _rows(folder / "history.csv") < 3 and process.poll() is None:
        assert time.monotonic() < deadline, "the run wrote no epochs in 120 s"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, f"the run ended before the kill: {stderr!r}"
    assert not (folder / "model.jaxnn").exists()
    assert (folder / "checkpoint" / "last.msgpack").is_file()
    assert _status(tmp_path) == {"killed": "unfinished"}

    table = invoke("runs", tmp_path)
    assert f"jaxnn train --resume {folder}" in table.stderr

    result = invoke("train", "--resume", folder, *QUIET)
    assert result.exit_code == 0, result.output
    assert "(epochs " in result.stdout and "-150) in" in result.stdout
    assert _same_train_state(folder / "model.jaxnn", uninterrupted / "model.jaxnn")
    assert (folder / "history.csv").read_text() == (uninterrupted / "history.csv").read_text()
    assert (folder / "test.json").read_text() == (uninterrupted / "test.json").read_text()
    assert not (folder / "checkpoint").exists()
    assert _status(tmp_path) == {"killed": "finished"}


def test_a_run_killed_before_its_first_epoch_ended_starts_afresh(tmp_path, uninterrupted):
    folder = tmp_path / "early"
    folder.mkdir()
    shutil.copy(uninterrupted / "config.toml", folder / "config.toml")
    (folder / "history.csv").write_text("epoch,loss\n0,0.5\n")  # written before the checkpoint
    assert _status(tmp_path) == {"early": "unfinished"}
    result = invoke("train", "--resume", folder, *QUIET)
    assert result.exit_code == 0, result.output
    assert _same_train_state(folder / "model.jaxnn", uninterrupted / "model.jaxnn")
    assert (folder / "history.csv").read_text() == (uninterrupted / "history.csv").read_text()


def test_early_stopping_resumes_its_patience_and_best_weights(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)  # random labels: the validation loss rises after epoch 1
    data = tmp_path / "noise.npz"
    np.savez(data, x=rng.normal(size=(240, 6)).astype(np.float32), y=rng.integers(0, 2, 240))
    options = ("--data", data, "--model", "dense(64,relu) dense(2)", "--epochs", "100")
    options += ("--early-stopping", "3", *QUIET)
    whole = tmp_path / "whole"
    assert invoke("train", *options, "--out", whole).exit_code == 0
    stopped_after = _rows(whole / "history.csv")
    val_loss = np.loadtxt(whole / "history.csv", delimiter=",", skiprows=1, usecols=-1)
    assert 2 < stopped_after < 100 and np.argmin(val_loss) < stopped_after - 2

    folder = tmp_path / "cut"
    result = train_killed_after_epoch(monkeypatch, *options, "--out", folder)
    assert isinstance(result.exception, KilledError)
    assert sorted(p.name for p in (folder / "checkpoint").iterdir()) == [
        "best-0001.msgpack",
        "last.msgpack",
    ]

    low = invoke("train", "--resume", folder, "--epochs", "1")
    assert low.exit_code == 1
    assert f"--epochs 1: the run in {str(folder)!r} has finished 2 epochs already" in low.stderr

    result = invoke("train", "--resume", folder, *QUIET)
    assert result.exit_code == 0, result.output
    assert _rows(folder / "history.csv") == stopped_after
    assert _same_train_state(folder / "model.jaxnn", whole / "model.jaxnn")
    assert (folder / "test.json").read_text() == (whole / "test.json").read_text()


def test_resume_refuses_what_it_cannot_continue(tmp_path, xor_run):
    finished, _ = xor_run
    result = invoke("train", "--resume", finished)
    assert result.exit_code == 1
    assert f"--resume: the run in {str(finished)!r} has finished" in result.stderr

    result = invoke("train", "--resume", tmp_path)
    assert result.exit_code == 1
    assert f"--resume {str(tmp_path)!r} is not the folder of a `jaxnn train` run" in result.stderr

    result = invoke("train", "--resume", tmp_path, "--learning-rate", "0.1", "--out", tmp_path)
    assert result.exit_code == 1
    assert "--learning-rate, --out cannot be given with it (only --epochs" in result.stderr

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    shutil.copy(finished / "config.toml", damaged / "config.toml")
    (damaged / "checkpoint").mkdir()
    (damaged / "checkpoint" / "last.msgpack").write_bytes(b"\x93not a checkpoint")
    result = invoke("train", "--resume", damaged)
    assert result.exit_code == 1
    assert f"cannot resume {str(damaged)!r}: load: checkpoint" in result.stderr
    assert "is truncated or corrupt" in result.stderr
