"""A Grain MapDataset over two ``jax.distributed`` processes: each reads its share, step for step.

The two processes run ``child_grain.py`` (one CPU device each); the one-process reference runs
here, on the same records in batches twice as large (the global batches of the two processes).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxnn
from tests.distributed.child_grain import BATCH, FIT, ROWS, model, records

pytest.importorskip("grain")

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> Path:
    """The output folder of the two processes, both finished without an error."""
    out = tmp_path_factory.mktemp("grain")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("JAX_PLATFORMS", None)
    port = _free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "child_grain.py"), str(port), str(i), str(out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in (0, 1)
    ]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    for proc, text in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, text[-3000:]
    return out


@pytest.mark.slow
def test_each_process_reads_a_disjoint_share_and_together_every_row(two: Path) -> None:
    first, second = (json.loads((two / f"grain_{i}.json").read_text()) for i in (0, 1))
    # 7 batches of 8 row ids (the last of 4): process 0 reads batches 0, 2, 4, 6 and process 1
    # batches 1, 3, 5 and then a masked one, so both take ceil(7 / 2) = 4 steps
    batches = [list(range(i, min(i + BATCH, ROWS))) for i in range(0, ROWS, BATCH)]
    assert first["steps"] == [batches[0], batches[2], batches[4], batches[6]]
    assert second["steps"] == [batches[1], batches[3], batches[5], []]
    assert first["length"] == second["length"] == 4
    assert first["batch"] == second["batch"] == BATCH
    rows = [r for report in (first, second) for step in report["steps"] for r in step]
    assert sorted(rows) == list(range(ROWS)) and len(set(rows)) == ROWS


@pytest.mark.slow
def test_fit_on_two_processes_equals_one_process_on_the_global_batches(two: Path) -> None:
    first, second = (np.load(two / f"grain_{i}.npz") for i in (0, 1))
    ts, history = jaxnn.fit(model(), records().batch(2 * BATCH), **FIT)
    assert int(first["step"]) == int(second["step"]) == int(ts.step) == 3 * 4
    params = {
        "/".join(map(str, p)): np.asarray(v)
        for p, v in jax.tree_util.tree_leaves_with_path(ts.params)
    }
    for name, value in params.items():
        np.testing.assert_array_equal(first[name], second[name])  # one model in both processes
        np.testing.assert_allclose(first[name], value, rtol=1e-5, atol=1e-6)
    for name in ("loss", "accuracy"):
        np.testing.assert_array_equal(first[name], second[name])
        np.testing.assert_allclose(first[name], history.history[name], rtol=1e-5)
    assert history.history["accuracy"][-1] > 0.9  # it learns (chance is about 0.5)


@pytest.mark.slow
def test_a_dataloader_not_sharded_over_the_processes_is_refused(two: Path) -> None:
    for i in (0, 1):
        message = json.loads((two / f"grain_{i}.json").read_text())["loader"]
        assert message == (
            "fit: on 2 processes a Grain DataLoader must read each process's share with the "
            "same number of records; its shard options are NoSharding(shard_index=0, "
            f"shard_count=1, drop_remainder=False) (process {i} would read a different number "
            "of batches, or every record). Give its IndexSampler shard_options="
            "grain.sharding.ShardByJaxProcess(drop_remainder=True)."
        )
