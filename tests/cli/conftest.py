"""Fixtures of the command-line tests: an in-process runner and one trained run to share."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from jaxnn.cli import cli

# A small Titanic-like table: ids, a class number, a text column, a gap, a 0/1 target.
TITANIC = """PassengerId,Pclass,Sex,Age,Fare,Survived
1,3,male,22,7.25,0
2,1,female,38,71.28,1
3,3,female,26,7.92,1
4,1,female,35,53.1,1
5,3,male,35,8.05,0
6,3,male,,8.46,0
7,1,male,54,51.86,0
8,3,male,2,21.07,0
9,3,female,27,11.13,1
10,2,female,14,30.07,1
"""

# A model file as a user writes one: a model, its loss and its optimizer.
MODEL_FILE = """
import jax.numpy as jnp
import jaxnn
from jaxnn.layers import Dense

model = jaxnn.serial(Dense(8), jnp.tanh, Dense(2))
loss = "softmax_cross_entropy"
optimizer = "sgd"
"""

# The compilation cache is a global JAX setting: the tests leave it off.
ENV = {"JAXNN_COMPILATION_CACHE": "off"}


def invoke(*args, input=None):
    """Runs `jaxnn ARGS` in this process; returns Click's Result (stdout, stderr, exit_code)."""
    return CliRunner().invoke(cli, [str(a) for a in args], env=ENV, input=input)


class KilledError(Exception):
    """Stands for a SIGKILL right after an epoch's checkpoint was written."""


def train_killed_after_epoch(monkeypatch, *args, epoch=1):
    """Runs `jaxnn train ARGS` in this process, killed right after epoch ``epoch``'s checkpoint.

    Returns Click's Result; its ``exception`` is a :class:`KilledError`.
    """
    from jaxnn.cli import resume as resume_lib

    save = resume_lib.RunCheckpoint.on_epoch_end

    def save_then_die(self, done, logs, run):
        save(self, done, logs, run)
        if done == epoch:
            raise KilledError

    with monkeypatch.context() as patch:
        patch.setattr(resume_lib.RunCheckpoint, "on_epoch_end", save_then_die)
        return invoke("train", *args)


def run_command(*args, cwd=None):
    """Runs `python -m jaxnn ARGS` in a new process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "jaxnn", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **ENV},
        timeout=300,
    )


@pytest.fixture(scope="session")
def xor_run(tmp_path_factory):
    """A run of `jaxnn train` on XOR (3 epochs) with every file it writes, plots and events."""
    folder = tmp_path_factory.mktemp("runs") / "xor"
    result = invoke("train", "--data", "xor", "--epochs", "3", "--out", folder, "--seed", "1")
    assert result.exit_code == 0, result.output
    return folder, result
