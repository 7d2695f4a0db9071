import os
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn import checkpoint
from jaxnn.layers import BatchNorm, Dense
from jaxnn.train import TrainState

MODEL = jaxnn.serial(Dense(4), BatchNorm(), Dense(2))


def trained_state(seed=0):
    ts = TrainState.create(MODEL, jax.random.key(seed), (-1, 3), optax.adam(0.01))
    step = jax.jit(jaxnn.make_train_step(MODEL, "mse", optax.adam(0.01)))
    for _ in range(3):
        ts, _ = step(ts, (jnp.ones((5, 3)), jnp.zeros((5, 2))))
    return ts


def as_bytes(ts):
    ts = (
        ts._replace(key=jax.random.key_data(ts.key))
        if jax.dtypes.issubdtype(ts.key.dtype, jax.dtypes.prng_key)
        else ts
    )
    return [np.asarray(a).tobytes() for a in jax.tree.leaves(ts)]


def test_round_trip_of_everything(tmp_path):
    ts = trained_state()
    history = {"loss": [1.0, 0.5], "val_loss": [1.2, 0.7]}
    config = {"model": MODEL.config, "note": "run 1"}
    path = checkpoint.save(tmp_path / "a" / "model.msgpack", ts, history=history, config=config)
    target = TrainState.create(MODEL, jax.random.key(42), (-1, 3), optax.adam(0.01))
    restored = checkpoint.load(path, target)
    assert as_bytes(restored.train_state) == as_bytes(ts)
    assert jax.random.key_impl(restored.train_state.key) == jax.random.key_impl(ts.key)
    assert restored.history == history
    assert restored.config == {"model": MODEL.config, "note": "run 1"}
    assert int(restored.train_state.step) == 3


def test_legacy_uint32_keys_round_trip(tmp_path):
    ts = trained_state()._replace(key=jax.random.PRNGKey(7))
    path = checkpoint.save(tmp_path / "m.msgpack", ts)
    restored = checkpoint.load(path, ts).train_state
    np.testing.assert_array_equal(restored.key, jax.random.PRNGKey(7))


def test_a_crash_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.msgpack"
    first = trained_state()
    checkpoint.save(path, first)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, trained_state(1))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.msgpack"]  # no temp file left


def test_truncated_corrupt_and_foreign_files(tmp_path):
    ts = trained_state()
    path = checkpoint.save(tmp_path / "m.msgpack", ts)
    data = path.read_bytes()
    (tmp_path / "cut.msgpack").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError, match=r"load: checkpoint '.*cut.msgpack' is truncated or corrupt"
    ):
        checkpoint.load(tmp_path / "cut.msgpack", ts)
    (tmp_path / "junk.msgpack").write_bytes(b"\xc1\xff\x00 not msgpack")
    with pytest.raises(ValueError, match="is truncated or corrupt"):
        checkpoint.load(tmp_path / "junk.msgpack", ts)
    from flax import serialization

    (tmp_path / "other.msgpack").write_bytes(serialization.msgpack_serialize({"a": 1}))
    with pytest.raises(ValueError, match="is not a jaxnn checkpoint"):
        checkpoint.load(tmp_path / "other.msgpack", ts)
    with pytest.raises(FileNotFoundError, match="load: no checkpoint at"):
        checkpoint.load(tmp_path / "missing.msgpack", ts)


def test_mismatched_target_names_the_first_difference(tmp_path):
    path = checkpoint.save(tmp_path / "m.msgpack", trained_state())
    wider = jaxnn.serial(Dense(5), BatchNorm(), Dense(2))
    target = TrainState.create(wider, jax.random.key(0), (-1, 3), optax.adam(0.01))
    with pytest.raises(
        ValueError,
        match=r"load: 'opt_state/0/mu/batch_norm/beta' in '.*' has shape \(4,\) and dtype float32; the target expects shape \(5,\)",
    ):
        checkpoint.load(path, target)
    sgd_target = TrainState.create(MODEL, jax.random.key(0), (-1, 3), optax.sgd(0.1))
    with pytest.raises(
        ValueError,
        match="that the target does not; is it a checkpoint of another model or optimizer",
    ):
        checkpoint.load(path, sgd_target)


def test_manager_keeps_the_last_n(tmp_path):
    ts = trained_state()
    manager = checkpoint.CheckpointManager(tmp_path / "ckpts", keep=2)
    assert manager.latest() is None
    with pytest.raises(FileNotFoundError, match="CheckpointManager: no checkpoint in"):
        manager.restore(ts)
    for step in (10, 20, 30):
        manager.save(step, ts._replace(step=jnp.int32(step)))
    assert [p.name for p in manager.paths()] == ["ckpt-000000020.msgpack", "ckpt-000000030.msgpack"]
    assert int(manager.restore(ts).train_state.step) == 30
    with pytest.raises(ValueError, match="keep must be an int >= 1; got 0"):
        checkpoint.CheckpointManager(tmp_path, keep=0)


def test_config_must_be_json(tmp_path):
    with pytest.raises(TypeError, match="save: config must be JSON-serialisable"):
        checkpoint.save(tmp_path / "m.msgpack", trained_state(), config={"fn": print})


def test_save_into_a_folder_that_cannot_be_created_names_it(tmp_path):
    ts = TrainState.create(Dense(2), jax.random.key(0), (-1, 3), optax.sgd(0.1))
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(
        OSError,
        match=r"cannot write '.*taken/run/ckpt.msgpack': the folder '.*taken/run' cannot be created",
    ):
        checkpoint.save(blocker / "run" / "ckpt.msgpack", ts)


def test_write_atomic_gives_the_file_the_umask_mode_not_mkstemp_0600(tmp_path):
    import os
    import stat

    checkpoint.write_atomic(tmp_path / "shared.bin", b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "shared.bin").stat().st_mode) == 0o666 & ~mask


def _temporary(folder, name, middle, age=0.0):
    path = folder / f".{name}.{middle}.tmp"
    path.write_bytes(b"half a file")
    if age:
        os.utime(path, (path.stat().st_mtime - age,) * 2)
    return path


def test_write_atomic_removes_what_dead_writers_left_and_nothing_of_live_ones(tmp_path):
    host = checkpoint._host()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead_pid = int(gone.stdout)  # reaped: no process has it now
    hour = checkpoint.STALE_SECONDS
    stale = [
        _temporary(tmp_path, "model.jaxnn", f"{host}.{dead_pid}.abc_12"),
        _temporary(tmp_path, "model.jaxnn", "k2j4_x9q", age=hour + 60),  # the old names
        _temporary(tmp_path, "model.jaxnn", f"other-host.{os.getpid()}.abc", age=hour + 60),
    ]
    kept = [
        _temporary(tmp_path, "model.jaxnn", f"{host}.{os.getpid()}.abc_12", age=10 * hour),
        _temporary(tmp_path, "model.jaxnn", f"{host}.{os.getppid()}.zz"),
        _temporary(tmp_path, "model.jaxnn", "p0u8_e1w"),  # young: maybe a writer of old
        _temporary(tmp_path, "model.jaxnn", f"other-host.{dead_pid}.abc"),
        _temporary(tmp_path, "model.jaxnn.bak", f"{host}.{dead_pid}.abc"),  # another file's
    ]
    checkpoint.write_atomic(tmp_path / "model.jaxnn", b"whole")
    assert [p.exists() for p in stale] == [False] * 3
    assert [p.exists() for p in kept] == [True] * 5
    assert (tmp_path / "model.jaxnn").read_bytes() == b"whole"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["model.jaxnn", *(p.name for p in kept)])


KILLED_MID_SAVE = """
import os, signal, sys
import jax, jaxnn
from jaxnn.layers import Dense
def die(*args):
    os.kill(os.getpid(), signal.SIGKILL)
os.replace = die  # killed after the temporary file is written, before it is renamed
model = Dense(3)
jaxnn.save_model(sys.argv[1], model, model.init(jax.random.key(0), (-1, 2))[1:], input_shape=(-1, 2))
"""


def test_save_model_removes_the_temporary_file_a_sigkill_left(tmp_path):
    path = tmp_path / "model.jaxnn"
    model = Dense(3)
    variables = model.init(jax.random.key(0), (-1, 2))[1:]
    jaxnn.save_model(path, model, variables, input_shape=(-1, 2))
    before = path.read_bytes()
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_SAVE, str(path)], capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (left,) = tmp_path.glob(".model.jaxnn.*.tmp")
    assert left.name.startswith(f".model.jaxnn.{checkpoint._host()}.")
    assert path.read_bytes() == before
    jaxnn.save_model(path, model, variables, input_shape=(-1, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.jaxnn"]
    assert jaxnn.load_model(path).input_shape == (-1, 2)
