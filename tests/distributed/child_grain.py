"""One of two processes of a ``jax.distributed`` run that trains on a Grain ``MapDataset``.

Usage: ``child_grain.py PORT PROCESS_ID OUT_DIR``, one CPU device per process. Writes
``OUT_DIR/grain_<id>.json`` (the row ids this process read in each step of one pass, and what
``fit`` says of an unsharded DataLoader) and ``OUT_DIR/grain_<id>.npz`` (the parameters and
history of ``fit`` on the records of :func:`records` in batches of :data:`BATCH` per process).
"""

from __future__ import annotations

import json
import os
import sys

ROWS, BATCH = 52, 8  # 7 batches: the processes share them 4 and 3 (the last holds 4 rows)
FIT = dict(loss="softmax_cross_entropy", optimizer="adam", learning_rate=0.05, epochs=3,
           metrics=["accuracy"], verbose=0)  # fmt: skip


def records():
    """The training records ``(x_i, y_i)`` as a Grain MapDataset (the test uses them too)."""
    import grain
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, 3)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int32)
    return grain.MapDataset.source([(x[i], y[i]) for i in range(ROWS)])


def model():
    import jax

    import jaxnn
    from jaxnn.layers import Dense

    return jaxnn.serial(Dense(8), jax.nn.tanh, Dense(2))


def _rows_read(placement) -> dict:
    """The row ids each step of one pass gives this process (its real rows, not padding)."""
    import grain
    import numpy as np

    from jaxnn.train import sources

    ids = np.arange(ROWS, dtype=np.float32)
    ds = grain.MapDataset.source(ids).batch(BATCH).map(lambda b: (b[:, None], b.astype(np.int32)))
    read = sources.read(ds, None, placement=placement, validation_split=None, data_on_device=True)
    steps = [x[mask > 0, 0].astype(int).tolist() for x, _, _, mask in read.train.epoch(0)]
    return {"steps": steps, "length": read.train.steps, "batch": read.train.spec.batch}


def _unsharded_loader(devices) -> str | None:
    """What ``fit`` says of a DataLoader that every process would read whole."""
    import grain
    import numpy as np

    import jaxnn

    loader = grain.DataLoader(
        data_source=[(np.ones((4, 3), np.float32), np.zeros(4, np.int32))] * 3,
        sampler=grain.samplers.IndexSampler(3, num_epochs=1),
        worker_count=0,
    )
    try:
        jaxnn.fit(model(), loader, devices=devices, **FIT)
    except ValueError as error:
        return str(error)
    return None


def main(port: int, process_id: int, out_dir: str) -> None:
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
    import jax
    import numpy as np

    import jaxnn
    from jaxnn import distributed

    distributed.initialize(f"127.0.0.1:{port}", 2, process_id, timeout_s=60)
    ts, history = jaxnn.fit(model(), records().batch(BATCH), devices=jax.devices(), **FIT)
    params = distributed.host_copy(ts.params)
    flat = {
        "/".join(map(str, p)): np.asarray(v) for p, v in jax.tree_util.tree_leaves_with_path(params)
    }
    logs = {k: np.array(v) for k, v in history.history.items()}
    np.savez(os.path.join(out_dir, f"grain_{process_id}.npz"), step=int(ts.step), **logs, **flat)
    report = _rows_read(distributed.data_mesh())
    report["loader"] = _unsharded_loader(jax.devices())
    with open(os.path.join(out_dir, f"grain_{process_id}.json"), "w") as f:
        json.dump(report, f)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
