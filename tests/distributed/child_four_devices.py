"""Run as a script with 4 simulated CPU devices; prints one JSON object of checks.

Each training check compares a 4-device run with the ordinary 1-device run of the same program
(same seed, so the same shuffles, dropout masks and initial parameters).
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax
    import numpy as np

    import jaxnn
    from jaxnn import distributed
    from jaxnn.layers import BatchNorm, Conv2D, Dense, Dropout, Flatten

    assert jax.device_count() == 4, jax.devices()
    out: dict = {"devices": jax.device_count()}
    rng = np.random.default_rng(0)

    def max_diff(a, b):
        diffs = [
            float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
            for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
        ]
        return max(diffs, default=0.0)

    def compare(name, model, x, y, loss, **kwargs):
        kw = dict(loss=loss, epochs=2, batch_size=8, verbose=0, seed=1, **kwargs)
        one, h1 = jaxnn.fit(model, (x, y), **kw)
        for label, extra in (("replicated", {}), ("sharded", {"shard_params": True})):
            many, h4 = jaxnn.fit(model, (x, y), devices=jax.devices(), **kw, **extra)
            out[f"{name}_{label}"] = {
                "loss_1": h1.history["loss"],
                "loss_4": h4.history["loss"],
                "params_diff": max_diff(one.params, many.params),
                "state_diff": max_diff(one.state, many.state),
                "devices_of_params": sorted(
                    {len(a.sharding.device_set) for a in jax.tree.leaves(many.params)}
                ),
                "sharded_leaves": sum(
                    a.sharding.spec != jax.sharding.PartitionSpec()
                    for a in jax.tree.leaves(many.params)
                ),
            }
        # data streamed from the host, in chunks of 2 steps, on 4 devices: the same numbers
        streamed, hs = jaxnn.fit(
            model, (x, y), devices=jax.devices(), data_on_device=False, steps_per_chunk=2, **kw
        )
        out[f"{name}_streamed"] = {
            "loss_1": h1.history["loss"],
            "loss_4": hs.history["loss"],
            "params_diff": max_diff(one.params, streamed.params),
        }
        return one, many

    # An MLP with dropout (the masks are per example: the same on 1 and 4 devices).
    x = rng.normal(size=(52, 6)).astype("float32")  # 52 rows: a partial last batch of 4
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    mlp = jaxnn.serial(Dense(16), jax.nn.relu, Dropout(0.5), Dense(2))
    one, many = compare("mlp", mlp, x, y, "softmax_cross_entropy", validation_split=0.25)
    no_drop = jaxnn.serial(Dense(16), jax.nn.relu, Dense(2))
    _, h = jaxnn.fit(
        no_drop, (x, y), loss="softmax_cross_entropy", epochs=3, batch_size=8, verbose=0, seed=1
    )
    out["mlp_without_dropout_loss"] = h.history["loss"]

    # evaluate and predict: a batch size that does not divide by 4 is padded and masked.
    ev1 = jaxnn.evaluate(mlp, one, (x, y), loss="softmax_cross_entropy", batch_size=10)
    ev4 = jaxnn.evaluate(
        mlp, one, (x, y), loss="softmax_cross_entropy", batch_size=10, devices=jax.devices()
    )
    p1 = jaxnn.predict(mlp, one, x, batch_size=10)
    p4 = jaxnn.predict(mlp, one, x, batch_size=10, mesh=distributed.data_mesh())
    p4s = jaxnn.predict(
        mlp, one, x, batch_size=10, devices=jax.devices(), shard_params=True, data_on_device=False
    )
    out["evaluate"] = [ev1["loss"], ev4["loss"]]
    out["predict_diff"] = [float(np.max(np.abs(p1 - p4))), float(np.max(np.abs(p1 - p4s)))]
    out["predict_shape"] = list(p4.shape)

    # A CNN with BatchNorm: batch statistics over the global batch, as on one device.
    xi = rng.normal(size=(24, 6, 6, 2)).astype("float32")
    yi = (xi.mean(axis=(1, 2, 3)) > 0).astype("int32")
    cnn = jaxnn.serial(Conv2D(4, 3), BatchNorm(), jax.nn.relu, Flatten(), Dense(2))
    compare("cnn", cnn, xi, yi, "softmax_cross_entropy", optimizer="sgd", learning_rate=0.1)

    # Data split over the devices (as each host feeds its own rows): without shuffling, the
    # batches are the blocks' rows side by side, so training equals the whole data reordered so.
    from jaxnn.train.split import block_indices, local_gather

    mesh = distributed.data_mesh()
    xr = rng.normal(size=(48, 3)).astype("float32")
    yr = (xr @ np.array([1.0, -2.0, 0.5], "float32"))[:, None]
    xs, ys = distributed.process_local_array(xr, mesh), distributed.process_local_array(yr, mesh)
    reg = jaxnn.serial(Dense(8), jax.nn.tanh, Dense(1))
    kw = dict(loss="mse", epochs=3, batch_size=8, verbose=0, shuffle=False, mesh=mesh)
    split_ts, split_h = jaxnn.fit(reg, (xs, ys), **kw)
    order = np.asarray(block_indices(48, 8, 4, None)[0]).reshape(-1)
    whole_ts, whole_h = jaxnn.fit(reg, (xr[order], yr[order]), **kw)
    kw.update(shuffle=True, epochs=20)
    _, shuffled_h = jaxnn.fit(reg, (xs, ys), validation_data=(xs, ys), **kw)
    _, chunked_h = jaxnn.fit(reg, (xs, ys), validation_data=(xr, yr), steps_per_chunk=2, **kw)
    idx = jax.device_put(block_indices(48, 8, 4, jax.random.key(0))[0][0])
    gathered = jax.jit(lambda d, r: local_gather(d, r, mesh, 48))
    hlo = gathered.lower(xs, idx).compile().as_text()
    out["split"] = {
        "loss": split_h.history["loss"],
        "reordered_loss": whole_h.history["loss"],
        "params_diff": max_diff(split_ts.params, whole_ts.params),
        "order": order.tolist(),
        "shuffled": shuffled_h.history,
        "chunked": chunked_h.history,
        "gather_equal": bool(np.array_equal(np.asarray(gathered(xs, idx)), xr[np.asarray(idx)])),
        "gather_collectives": [
            op for op in ("all-gather", "all-to-all", "collective-permute", "all-reduce")
            if op in hlo
        ],
    }  # fmt: skip
    # evaluate and predict where the rows lie: 52 rows, 13 per device, batch 10 padded to 12
    xe = rng.normal(size=(52, 3)).astype("float32")
    ye = (xe @ np.array([1.0, -2.0, 0.5], "float32"))[:, None]
    xes, yes = distributed.process_local_array(xe, mesh), distributed.process_local_array(ye, mesh)
    ev = dict(loss="mse", metrics=["mae"], batch_size=10)
    whole_pred = jaxnn.predict(reg, split_ts, xe, batch_size=10)
    split_pred = jaxnn.predict(reg, split_ts, xes, batch_size=10, mesh=mesh)
    sharded_pred = jaxnn.predict(reg, split_ts, xes, batch_size=10, mesh=mesh, shard_params=True)
    out["split_inference"] = {
        "evaluate_whole": jaxnn.evaluate(reg, split_ts, (xe, ye), **ev),
        "evaluate_split": jaxnn.evaluate(reg, split_ts, (xes, yes), mesh=mesh, **ev),
        "predict_diff": [
            float(np.max(np.abs(np.asarray(whole_pred) - np.asarray(p))))
            for p in (split_pred, sharded_pred)
        ],
        "predict_split_by_rows": split_pred.sharding.is_equivalent_to(xes.sharding, 2),
        "local_rows": distributed.local_rows(split_pred).shape[0],
    }
    split_errors = {}
    for label, data, extra in (
        ("y_whole", (xs, yr), {}),
        ("validation_split", (xs, ys), {"validation_split": 0.25}),
        ("val_only", (xr, yr), {"validation_data": (xs, ys)}),
        ("streamed", (xs, ys), {"data_on_device": False}),
    ):
        try:
            jaxnn.fit(reg, data, loss="mse", batch_size=8, verbose=0, mesh=mesh, **extra)
            split_errors[label] = None
        except ValueError as error:
            split_errors[label] = str(error)
    try:
        distributed.process_local_array(np.zeros((10, 2), np.float32), mesh)
        split_errors["rows_per_device"] = None
    except ValueError as error:
        split_errors["rows_per_device"] = str(error)
    out["split_errors"] = split_errors

    # Bad input that needs several devices.
    errors = {}
    for label, kwargs in (
        ("not_multiple", {"batch_size": 6, "devices": jax.devices()}),
        ("too_small", {"batch_size": 2, "devices": jax.devices()}),
        ("both", {"batch_size": 8, "devices": jax.devices(), "mesh": distributed.data_mesh()}),
    ):
        try:
            jaxnn.fit(mlp, (x, y), loss="softmax_cross_entropy", verbose=0, **kwargs)
            errors[label] = None
        except ValueError as error:
            errors[label] = str(error)
    out["errors"] = errors
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
