"""One of two processes of a ``jax.distributed`` run on 127.0.0.1, 2 simulated devices each.

Usage: ``child_two_process.py PORT PROCESS_ID OUT_DIR``; writes ``OUT_DIR/params_<id>.npz``, and
process 0 writes ``OUT_DIR/ckpt.msgpack``. With ``PORT`` 0 it is the one-process reference (4
devices, no jax.distributed), writing ``params_ref.npz``.
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
    whole = distributed.host_copy(ts.params)
    name = "ref" if reference else str(process_id)
    flat = {
        "/".join(map(str, p)): np.asarray(v) for p, v in jax.tree_util.tree_leaves_with_path(whole)
    }
    np.savez(
        os.path.join(out_dir, f"params_{name}.npz"), loss=np.array(history.history["loss"]), **flat
    )
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
        with open(os.path.join(out_dir, f"report_{process_id}.json"), "w") as f:
            json.dump(report, f)
        jax.distributed.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
