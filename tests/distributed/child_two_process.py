"""One of two processes of a ``jax.distributed`` run on 127.0.0.1, 2 simulated devices each.

Usage: ``child_two_process.py PORT PROCESS_ID OUT_DIR``; writes ``OUT_DIR/params_<id>.npz``
(trained on the whole data set in each process) and ``split_<id>.npz`` (each process feeding only
its half, as a global array split over the devices), process 0 writes ``OUT_DIR/ckpt.msgpack``,
and both write an Orbax checkpoint of the split run's parameters to ``OUT_DIR/orbax``. With
``PORT`` 0 it is the one-process reference (4 devices, no jax.distributed), writing
``params_ref.npz`` and ``split_ref.npz``.
"""

from __future__ import annotations

import json
import os
import sys


def main(port: int, process_id: int, out_dir: str) -> None:
    reference = port == 0
    count = 4 if reference else 2
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={count}"
    import jax
    import numpy as np

    import jaxnn
    from jaxnn import distributed
    from jaxnn.layers import Dense

    if not reference:
        distributed.initialize(f"127.0.0.1:{port}", 2, process_id, timeout_s=60)
    assert jax.device_count() == 4, jax.devices()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5], "float32"))[:, None]
    model = jaxnn.serial(Dense(8), jax.nn.tanh, Dense(1))
    ts, history = jaxnn.fit(
        model, (x, y), loss="mse", epochs=3, batch_size=8, verbose=0, devices=jax.devices()
    )
    name = "ref" if reference else str(process_id)

    def save(prefix, ts, history):
        whole = distributed.host_copy(ts.params)
        flat = {
            "/".join(map(str, p)): np.asarray(v)
            for p, v in jax.tree_util.tree_leaves_with_path(whole)
        }
        logs = {k: np.array(v) for k, v in history.history.items()}
        np.savez(os.path.join(out_dir, f"{prefix}_{name}.npz"), **logs, **flat)

    save("params", ts, history)

    # Each process feeds only its own rows (the reference: all of them), never the whole set.
    mesh = distributed.data_mesh()
    mine = slice(0, 40) if reference else slice(20 * process_id, 20 * process_id + 20)
    xs = distributed.process_local_array(x[mine], mesh)
    ys = distributed.process_local_array(y[mine], mesh)
    # callbacks that write: process 0 alone writes (each process names its own files here)
    writers = [
        jaxnn.callbacks.ModelCheckpoint(os.path.join(out_dir, f"mc_{name}_{{epoch}}.msgpack")),
        jaxnn.callbacks.CSVLogger(os.path.join(out_dir, f"log_{name}.csv")),
    ]
    split_ts, split_history = jaxnn.fit(
        model, (xs, ys), loss="mse", epochs=3, batch_size=8, verbose=0, seed=3, mesh=mesh,
        validation_data=(xs, ys), callbacks=writers,
    )  # fmt: skip
    save("split", split_ts, split_history)
    # predict and evaluate where the rows lie; each process keeps its own rows of the outputs
    mine_pred = distributed.local_rows(jaxnn.predict(model, split_ts, xs, batch_size=8, mesh=mesh))
    scores = jaxnn.evaluate(model, split_ts, (xs, ys), loss="mse", batch_size=8, mesh=mesh)
    np.savez(os.path.join(out_dir, f"inference_{name}.npz"), predictions=mine_pred,
             loss=scores["loss"])  # fmt: skip
    if not reference:
        written = distributed.save_checkpoint(os.path.join(out_dir, "ckpt.msgpack"), ts)
        assert (written is None) == (process_id != 0)
        # each process feeds its own rows: equal shards make one global array, unequal fail
        mesh = distributed.data_mesh()
        local = np.full((4, 2), process_id, np.float32)
        whole = distributed.process_local_array(local, mesh)
        report = {"global_shape": list(whole.shape), "process_count": jax.process_count()}
        # or each reads its half and all_rows joins them for fit, in process order
        half = slice(20 * process_id, 20 * process_id + 20)
        x_all, y_all = distributed.all_rows(x[half], y[half])
        report["all_rows_equal"] = bool(np.array_equal(x_all, x) and np.array_equal(y_all, y))
        try:
            distributed.all_rows(x[: 3 + process_id])
            report["all_rows_unequal"] = None
        except ValueError as error:
            report["all_rows_unequal"] = str(error)
        try:
            distributed.process_local_array(np.zeros((3 + process_id, 2), np.float32), mesh)
            report["unequal"] = None
        except ValueError as error:
            report["unequal"] = str(error)
        # bad rows in one process only: both stop with an error (neither waits for the other)
        bad_y = y[mine].copy()
        if process_id == 1:
            bad_y[3] = np.nan
        try:
            jaxnn.fit(model, (xs, distributed.process_local_array(bad_y, mesh)), loss="mse",
                      batch_size=8, verbose=0, mesh=mesh)  # fmt: skip
            report["bad_rows"] = None
        except ValueError as error:
            report["bad_rows"] = str(error)
        # a sharded checkpoint at scale: Orbax, every process writing its part
        ckpt = distributed.orbax_checkpointer()
        ckpt.save(os.path.join(out_dir, "orbax"), split_ts.params)
        ckpt.wait_until_finished()
        with open(os.path.join(out_dir, f"report_{process_id}.json"), "w") as f:
            json.dump(report, f)
        jax.distributed.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
