"""Data parallelism on simulated CPU devices and a two-process jax.distributed run.

The multi-device checks run in child processes (the device count is fixed when jax starts);
each child runs several checks and reports them, and the tests assert on the report.
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
import optax
import pytest

import jaxnn
from jaxnn import checkpoint, distributed
from jaxnn.layers import Dense
from jaxnn.train import TrainState

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def _env(devices: int) -> dict[str, str]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["PYTHONPATH"] = str(ROOT)
    env.pop("JAX_PLATFORMS", None)
    return env


@pytest.fixture(scope="module")
def four() -> dict:
    done = subprocess.run(
        [sys.executable, str(HERE / "child_four_devices.py")],
        env=_env(4),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", ["mlp_replicated", "mlp_sharded"])
def test_an_mlp_with_dropout_trains_on_4_devices_as_on_1(four: dict, name: str) -> None:
    got = four[name]
    np.testing.assert_allclose(got["loss_4"], got["loss_1"], rtol=1e-5)
    assert got["params_diff"] < 1e-5
    assert got["devices_of_params"] == [4]
    # dropout is really on: without it the losses differ
    assert abs(got["loss_1"][0] - four["mlp_without_dropout_loss"][0]) > 1e-2


@pytest.mark.parametrize("name", ["cnn_replicated", "cnn_sharded"])
def test_a_cnn_with_batchnorm_trains_on_4_devices_as_on_1(four: dict, name: str) -> None:
    got = four[name]
    np.testing.assert_allclose(got["loss_4"], got["loss_1"], rtol=1e-5)
    assert got["params_diff"] < 1e-5
    assert got["state_diff"] < 1e-5  # BatchNorm's running statistics: global batch statistics
    assert got["devices_of_params"] == [4]


@pytest.mark.parametrize("name", ["mlp_streamed", "cnn_streamed"])
def test_data_streamed_from_the_host_in_chunks_on_4_devices_as_on_1(four: dict, name: str) -> None:
    got = four[name]
    np.testing.assert_allclose(got["loss_4"], got["loss_1"], rtol=1e-5)
    assert got["params_diff"] < 1e-5


def test_shard_params_splits_the_parameters_and_replicated_does_not(four: dict) -> None:
    assert four["mlp_replicated"]["sharded_leaves"] == 0
    assert four["cnn_replicated"]["sharded_leaves"] == 0
    # first axis divisible by 4: the MLP's b (16,) and w (16, 2), not w (6, 16) nor b (2,)
    assert four["mlp_sharded"]["sharded_leaves"] == 2
    assert four["cnn_sharded"]["sharded_leaves"] == 4  # conv b, BatchNorm scale and bias, w (64, 2)


def test_evaluate_and_predict_on_4_devices_pad_the_batch_and_equal_1_device(four: dict) -> None:
    one, many = four["evaluate"]
    assert many == pytest.approx(one, rel=1e-6)
    assert four["predict_diff"] == [0.0, 0.0]
    assert four["predict_shape"] == [52, 2]


def test_data_split_over_the_devices_trains_each_device_on_its_own_rows(four: dict) -> None:
    got = four["split"]
    # unshuffled, step s takes rows 2s, 2s+1 of each block of 12: the whole set in that order
    expected = [12 * d + 2 * s + j for s in range(6) for d in range(4) for j in range(2)]
    assert got["order"] == expected
    np.testing.assert_allclose(got["loss"], got["reordered_loss"], rtol=1e-6)
    assert got["params_diff"] < 1e-6
    # shuffled within blocks, it learns; validating on split or whole data gives the same
    shuffled, chunked = got["shuffled"], got["chunked"]
    assert shuffled["loss"][-1] < 0.6 * shuffled["loss"][0]
    np.testing.assert_allclose(shuffled["val_loss"], chunked["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(shuffled["loss"], chunked["loss"], rtol=1e-5)
    # the gather is local to each device: the right rows, and no collective in the program
    assert got["gather_equal"]
    assert got["gather_collectives"] == []


def test_evaluate_and_predict_split_data_where_it_lies_as_whole_data(four: dict) -> None:
    got = four["split_inference"]
    whole, split = got["evaluate_whole"], got["evaluate_split"]
    assert split == pytest.approx(whole, rel=1e-6)  # only the summation order differs
    assert got["predict_diff"] == [pytest.approx(0.0, abs=1e-6)] * 2  # replicated, sharded
    assert got["predict_split_by_rows"]  # outputs stay where their rows are
    assert got["local_rows"] == 52  # one process: all of them


def test_split_data_that_fit_cannot_use_is_refused_with_the_reason(four: dict) -> None:
    errors = four["split_errors"]
    assert errors["y_whole"].startswith(
        "fit: x is split by rows over the devices, so y must be too; got a whole ndarray of "
        "shape (48, 1). For each array, build it with jaxnn.distributed.process_local_array("
    )
    assert errors["validation_split"].startswith(
        "fit: validation_split needs the whole data set in every process"
    )
    assert errors["val_only"] == (
        "fit: validation_data is split over the devices but the training data is not; split "
        "both (jaxnn.distributed.process_local_array) or neither."
    )
    assert errors["streamed"].startswith("fit: data_on_device=False streams from the host")
    assert errors["rows_per_device"] == (
        "process_local_array: process 0 has 10 rows for its 4 devices of the mesh; each device "
        "needs the same number: give a multiple of 4."
    )


def test_fit_rejects_batch_sizes_that_do_not_fit_the_devices(four: dict) -> None:
    assert four["errors"] == {
        "not_multiple": "fit: batch_size (6) must be a multiple of the 4 devices so every device "
        "gets the same rows; choose 4 or 8.",
        "too_small": "fit: the global batch_size (2) is smaller than the 4 devices of the mesh; "
        "each device needs at least one row: choose batch_size >= 4.",
        "both": "fit: give devices= or mesh=, not both.",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_processes_train_as_one_and_process_0_writes_a_loadable_checkpoint(
    tmp_path: Path,
) -> None:
    script = str(HERE / "child_two_process.py")
    port = _free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, script, str(p), str(i), str(tmp_path)],
            env=_env(2),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for p, i in ((port, 0), (port, 1), (0, 0))
    ]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out[-3000:]
    first, second, ref = (np.load(tmp_path / f"params_{n}.npz") for n in ("0", "1", "ref"))
    assert sorted(first.files) == sorted(ref.files)
    for k in ref.files:
        np.testing.assert_array_equal(first[k], second[k])  # identical in both processes
        np.testing.assert_allclose(first[k], ref[k], rtol=1e-5, atol=1e-6)  # = one process
    for i in (0, 1):
        report = json.loads((tmp_path / f"report_{i}.json").read_text())
        assert report["global_shape"] == [8, 2]
        assert report["process_count"] == 2
        assert report["unequal"] == (
            "process_local_array: every process must feed the same number of rows; got [3, 4] "
            f"(process {i} has {3 + i}). Drop or pad rows so the shards are equal."
        )
        assert report["all_rows_equal"]  # the halves joined in process order = the whole set
        # bad rows in process 1 only: it names them, process 0 names process 1; neither hangs
        assert report["bad_rows"] == (
            "fit: the rows of process [1] failed the data checks; its error says why."
            if i == 0
            else "fit (process 1's rows): y has NaN or Inf in 1 of 20 rows; the first is row 3. "
            "Clean or drop those rows."
        )
        assert report["all_rows_unequal"] == (
            "all_rows: every process must feed the same number of rows; got [3, 4] "
            f"(process {i} has {3 + i}). Drop or pad rows so the shards are equal."
        )
    # each process fed only its half (a global array split over the devices): the processes
    # agree exactly, and equal one process holding all four devices and the same global array
    split = [np.load(tmp_path / f"split_{n}.npz") for n in ("0", "1", "ref")]
    assert {"loss", "val_loss"} <= set(split[2].files)
    for k in split[2].files:
        np.testing.assert_array_equal(split[0][k], split[1][k])
        np.testing.assert_allclose(split[0][k], split[2][k], rtol=1e-5, atol=1e-6)
    assert split[0]["loss"][-1] < split[0]["loss"][0]  # and it learns
    # predictions of split rows: each process holds its half, equal to one process's outputs
    inference = [np.load(tmp_path / f"inference_{n}.npz") for n in ("0", "1", "ref")]
    halves = np.concatenate([inference[0]["predictions"], inference[1]["predictions"]])
    assert inference[0]["predictions"].shape == (20, 1)
    np.testing.assert_allclose(halves, inference[2]["predictions"], rtol=1e-5, atol=1e-6)
    assert float(inference[0]["loss"]) == float(inference[1]["loss"])
    assert float(inference[0]["loss"]) == pytest.approx(float(inference[2]["loss"]), rel=1e-5)
    # fit's writing callbacks wrote from process 0 only; its checkpoint holds the final state
    assert (tmp_path / "log_0.csv").is_file() and not (tmp_path / "log_1.csv").exists()
    assert not list(tmp_path.glob("mc_1_*"))
    assert sorted(f.name for f in tmp_path.glob("mc_0_*")) == [
        f"mc_0_{e}.msgpack" for e in (1, 2, 3)
    ]
    # the Orbax checkpoint both processes wrote restores in one process, on one device
    model = jaxnn.serial(Dense(8), jax.nn.tanh, Dense(1))
    target = TrainState.create(model, jax.random.key(0), (-1, 3), optax.adam(1e-3))
    restored = distributed.orbax_checkpointer().restore(tmp_path / "orbax", target=target.params)
    for path, leaf in jax.tree_util.tree_leaves_with_path(restored):
        np.testing.assert_array_equal(np.asarray(leaf), split[0]["/".join(map(str, path))])
    # the checkpoint process 0 wrote loads here, in one process with one device
    last = checkpoint.load(tmp_path / "mc_0_3.msgpack", target).train_state
    for path, leaf in jax.tree_util.tree_leaves_with_path(last.params):
        np.testing.assert_array_equal(np.asarray(leaf), split[0]["/".join(map(str, path))])
    restored = checkpoint.load(tmp_path / "ckpt.msgpack", target).train_state
    np.testing.assert_array_equal(
        np.asarray(restored.params["dense"]["w"]), first["['dense']/['w']"]
    )


class _FakeGpu:
    platform = "gpu"


def test_a_mesh_without_a_data_axis_is_rejected() -> None:
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("batch",))
    with pytest.raises(ValueError, match=r"fit: mesh must have a 'data' axis .* \('batch',\)"):
        jaxnn.fit(Dense(1), (np.ones((4, 2)), np.ones((4, 1))), loss="mse", mesh=mesh, verbose=0)


def test_devices_of_mixed_platforms_are_rejected() -> None:
    with pytest.raises(ValueError, match="devices must all be of one platform; got cpu, gpu"):
        distributed.resolve_mesh([jax.devices()[0], _FakeGpu()], where="fit")
    with pytest.raises(TypeError, match="devices must be jax.Device objects; got 'cpu'"):
        distributed.data_mesh(["cpu"])


def test_one_device_is_the_ordinary_path() -> None:
    assert distributed.resolve_mesh(None, None, where="fit") is None
    assert distributed.resolve_mesh(jax.devices()[:1], where="fit") is None
    x = np.random.default_rng(0).normal(size=(20, 2)).astype("float32")
    kw = dict(loss="mse", epochs=2, batch_size=8, verbose=0)
    a, _ = jaxnn.fit(Dense(1), (x, x[:, :1]), **kw)
    b, _ = jaxnn.fit(Dense(1), (x, x[:, :1]), devices=jax.devices()[:1], **kw)
    np.testing.assert_array_equal(np.asarray(a.params["w"]), np.asarray(b.params["w"]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"coordinator_address": "127.0.0.1:1", "num_processes": 2, "process_id": 2},
            r"process_id must be in \[0, 2\) for num_processes=2; got 2",
        ),
        (
            {"coordinator_address": "127.0.0.1:1", "num_processes": 0, "process_id": 0},
            "num_processes must be >= 1; got 0",
        ),
        (
            {"coordinator_address": "127.0.0.1", "num_processes": 2, "process_id": 0},
            "coordinator_address must be 'host:port'",
        ),
        ({"coordinator_address": "127.0.0.1:1"}, "missing num_processes, process_id"),
        (
            {"coordinator_address": "h:1", "num_processes": "two", "process_id": 0},
            "num_processes must be an int; got 'two'",
        ),
    ],
)
def test_initialize_rejects_options_that_do_not_match(
    kwargs: dict, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match=message):
        distributed.initialize(**kwargs)


def test_initialize_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "127.0.0.1:1")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "3")
    monkeypatch.setenv("JAX_PROCESS_ID", "5")
    with pytest.raises(ValueError, match=r"process_id must be in \[0, 3\) .* got 5"):
        distributed.initialize()


def test_the_orbax_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "orbax.checkpoint", None)
    with pytest.raises(ImportError, match=r"pip install 'jaxnn\[distributed\]'"):
        distributed.orbax_checkpointer()


def test_save_checkpoint_in_one_process_writes_a_file_that_loads(tmp_path: Path) -> None:
    ts = TrainState.create(Dense(2), jax.random.key(0), (-1, 3), optax.sgd(0.1))
    path = distributed.save_checkpoint(tmp_path / "c.msgpack", ts)
    restored = checkpoint.load(path, ts).train_state
    np.testing.assert_array_equal(np.asarray(restored.params["w"]), np.asarray(ts.params["w"]))


def test_orbax_checkpoints_round_trip_a_train_state(tmp_path: Path) -> None:
    ts = TrainState.create(Dense(2), jax.random.key(0), (-1, 3), optax.sgd(0.1))
    ckpt = distributed.orbax_checkpointer()
    ckpt.save(tmp_path / "step_1", ts.params)
    ckpt.wait_until_finished()
    restored = ckpt.restore(tmp_path / "step_1", target=ts.params)
    np.testing.assert_array_equal(np.asarray(restored["w"]), np.asarray(ts.params["w"]))


def test_all_rows_in_one_process_returns_the_rows_and_checks_them() -> None:
    x, y = np.arange(6.0).reshape(3, 2), np.arange(3)
    got_x, got_y = distributed.all_rows(x, y)
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)
    np.testing.assert_array_equal(distributed.all_rows(y), y)
    with pytest.raises(ValueError, match=r"all_rows: .* got shapes \[\(3, 2\), \(2,\)\]"):
        distributed.all_rows(x, y[:2])
