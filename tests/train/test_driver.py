"""fit's host side: runs of several epochs, chunks, the NaN guard, donation, compilations."""

import logging
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn import callbacks
from jaxnn.callbacks import NAN_ADVICE
from jaxnn.core import Layer
from jaxnn.layers import BatchNorm, Dense, Dropout
from jaxnn.train import TrainState, driver, loop, make_train_step


def circle(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    return x, (np.hypot(x[:, 0], x[:, 1]) < 0.6).astype(np.int32)


def mlp():
    return jaxnn.serial(Dense(8), jnp.tanh, Dropout(0.2), Dense(2))


def fit(model, data, **kwargs):
    kwargs.setdefault("loss", "softmax_cross_entropy")
    kwargs.setdefault("verbose", 0)
    return jaxnn.fit(model, data, **kwargs)


def key_data(ts):
    return ts._replace(key=jax.random.key_data(ts.key))


def assert_trees_equal(a, b):
    jax.tree.map(np.testing.assert_array_equal, key_data(a), key_data(b))


class Recorder(callbacks.Callback):
    """Records every hook call with its epoch and logs."""

    def __init__(self, logs_only):
        self.logs_only, self.calls = logs_only, []

    def on_epoch_begin(self, epoch, run):
        self.calls.append(("begin", epoch))

    def on_chunk_end(self, epoch, steps_done, logs, run):
        self.calls.append(("chunk", epoch, steps_done, sorted(logs.items())))

    def on_epoch_end(self, epoch, logs, run):
        self.calls.append(("end", epoch, sorted(logs.items())))


@pytest.fixture
def many_epochs_per_run(monkeypatch):
    # Runs grow to 3 epochs at most (the table size), whatever this machine's speed.
    monkeypatch.setattr(driver, "RUN_SECONDS", 1e9)
    monkeypatch.setattr(loop, "_MAX_EPOCHS_PER_RUN", 3)


def test_runs_of_epochs_equal_one_epoch_at_a_time(many_epochs_per_run):
    x, y = circle(101)  # batches of 16: the last one is partial
    kwargs = dict(epochs=8, batch_size=16, validation_split=0.2, metrics=["accuracy"], seed=3)
    fused_cb, single_cb = Recorder(logs_only=True), Recorder(logs_only=False)
    fused, fused_history = fit(mlp(), (x, y), callbacks=[fused_cb], **kwargs)
    single, single_history = fit(mlp(), (x, y), callbacks=[single_cb], **kwargs)
    assert_trees_equal(fused, single)
    assert fused_history.history == single_history.history
    assert fused_history.epoch == list(range(8))
    assert fused_cb.calls == single_cb.calls  # the same hooks, in order, with the same logs
    chunked, chunked_history = fit(mlp(), (x, y), steps_per_chunk=2, **kwargs)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
        chunked.params,
        fused.params,
    )
    np.testing.assert_allclose(
        chunked_history.history["loss"], fused_history.history["loss"], rtol=1e-6
    )


def diverging(lr):
    """One full-batch SGD step per epoch on y = 3x with a rate that makes the loss blow up."""
    x = np.linspace(1, 2, 8, dtype=np.float32)[:, None]
    return (x, 3 * x), dict(
        loss="mse", optimizer="sgd", learning_rate=lr, batch_size=8, shuffle=False, epochs=60
    )


def last_finite_by_hand(lr):
    model = Dense(1)
    (x, y), _ = diverging(lr)
    ts = TrainState.create(model, jax.random.fold_in(jax.random.key(0), 0), (-1, 1), optax.sgd(lr))
    step = jax.jit(make_train_step(model, "mse", optax.sgd(lr)))
    for epoch in range(60):
        new, logs = step(ts, (x, y))
        if not np.isfinite(float(logs["loss"])):
            return ts, epoch
        ts = new
    raise AssertionError("the loss never diverged")


@pytest.mark.parametrize("options", [{}, {"steps_per_chunk": 1, "data_on_device": False}])
def test_nan_stops_with_the_last_finite_state_inside_a_run(many_epochs_per_run, options):
    expected, bad_epoch = last_finite_by_hand(3.0)
    assert bad_epoch > 4  # the NaN comes in the middle of a run of several epochs
    data, kwargs = diverging(3.0)
    with pytest.warns(
        RuntimeWarning,
        match=rf"fit: the loss became NaN or Inf at epoch {bad_epoch + 1}, step 1 of 1; .*"
        rf"\(step {bad_epoch}\)",
    ):
        ts, history = fit(Dense(1), data, **kwargs, **options)
    assert history.epoch == list(range(bad_epoch + 1))
    assert not np.isfinite(history.history["loss"][-1])
    assert history.stop_reason.startswith("fit: the loss became NaN or Inf")
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), ts.params, expected.params
    )
    assert int(ts.step) == bad_epoch


def test_nan_in_validation_stops_after_that_epoch(many_epochs_per_run):
    # Finite in training, NaN in evaluation: TerminateOnNaN's rule, applied on the device too.
    def init(key, shape):
        return shape, {}, {}

    def apply(params, state, x, *, key=None, train=False):
        return (x if train else x * jnp.nan), state

    model = jaxnn.serial(Dense(2), Layer(init, apply, "nan_in_eval"))
    x, y = circle(64)
    ts, history = fit(model, (x, y), epochs=9, batch_size=16, validation_split=0.25)
    assert history.epoch == [0]
    assert history.stop_reason == (
        f"TerminateOnNaN: ['val_loss'] not finite at the end of epoch 1. {NAN_ADVICE}"
    )
    assert int(ts.step) == 3  # one epoch of 48 rows in batches of 16


def test_the_callers_initial_state_survives_donation():
    x, y = circle(64)
    model = mlp()
    start = TrainState.create(model, jax.random.key(1), (-1, 2), optax.adam(1e-3))
    copy = jax.device_get(key_data(start))
    ts, _ = fit(model, (x, y), initial_state=start, optimizer=optax.adam(1e-3), epochs=2)
    assert_trees_equal(jax.device_get(key_data(start)), copy)  # still readable, unchanged
    assert int(ts.step) == 2 * 2 and not any(a.is_deleted() for a in jax.tree.leaves(ts))


def test_a_callback_that_keeps_states_sees_each_epochs_own():
    x, y = circle(64)
    seen = []

    class Keep(callbacks.Callback):  # logs_only is False: fit stops on the host each epoch
        def on_epoch_end(self, epoch, logs, run):
            seen.append(jax.device_get(run.train_state.params))

    ts, _ = fit(mlp(), (x, y), epochs=3, callbacks=[Keep()])
    assert len(seen) == 3 and not np.array_equal(seen[0]["dense"]["w"], seen[2]["dense"]["w"])
    np.testing.assert_array_equal(seen[2]["dense"]["w"], ts.params["dense"]["w"])


def test_partial_batch_batchnorm_statistics_equal_the_unpadded_batch():
    # 10 rows, batches of 4, no shuffle: the last step has 2 real rows and 2 padding rows.
    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = jaxnn.serial(Dense(4), BatchNorm(momentum=0.5), jnp.tanh, Dense(2))
    ts, _ = fit(
        model, (x, y), epochs=1, batch_size=4, shuffle=False, optimizer="sgd", learning_rate=0.1
    )
    opt = optax.sgd(0.1)
    ref = TrainState.create(model, jax.random.fold_in(jax.random.key(0), 0), (-1, 3), opt)
    step = make_train_step(model, "softmax_cross_entropy", opt)
    for a in (0, 4, 8):
        ref, _ = step(ref, (x[a : a + 4], y[a : a + 4]))
    for got, want in zip(
        jax.tree.leaves((ts.params, ts.state)),
        jax.tree.leaves((ref.params, ref.state)),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_each_computation_compiles_once(caplog):
    x, y = circle(101)
    caplog.set_level(logging.DEBUG, logger="jax")
    with jax.log_compiles(True):
        fit(mlp(), (x, y), epochs=5, batch_size=16, validation_split=0.2, metrics=["accuracy"])
    names = [
        r.getMessage().split("Finished XLA compilation of ")[1].split(" in ")[0]
        for r in caplog.records
        if "Finished XLA compilation of" in r.getMessage()
    ]
    assert names and len(names) == len(set(names)), names
    eager = {"broadcast_in_dim", "convert_element_type", "concatenate", "iota", "reshape"}
    assert not [n for n in names if any(f"jit({e})" == n for e in eager)], names


def test_epochs_that_share_a_call_are_reported_as_shared(many_epochs_per_run, tmp_path, capsys):
    import csv
    import io
    import struct

    from tensorboardX.proto import event_pb2

    x, y = circle(101)
    cbs = [
        callbacks.CSVLogger(tmp_path / "log.csv", timing=True),
        callbacks.TensorBoard(tmp_path / "tb", timing=True),
    ]
    _, h = fit(mlp(), (x, y), epochs=8, batch_size=16, callbacks=cbs, verbose=2)
    # Runs double up to the cap of 3, each decided one call late (the next is dispatched
    # before the last one's logs are read): 1, 1, 1, 2, 3 epochs.
    assert h.epochs_in_call == [1, 1, 1, 2, 2, 3, 3, 3]
    assert [h.shared(i) for i in (0, 2, 3, 4, 5, 7)] == [None, None, (3, 4), (3, 4), (5, 7),
                                                         (5, 7)]  # fmt: skip
    for first, last in [(3, 4), (5, 7)]:
        calls = h.call_seconds[first : last + 1]
        assert len(set(calls)) == 1  # one measurement per call ...
        np.testing.assert_allclose(sum(h.epoch_times[first : last + 1]), calls[0], rtol=1e-9)
        assert len(set(h.samples_per_second[first : last + 1])) == 1  # ... and one rate
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 8
    assert re.match(r"Epoch 1/8 - \d+\.\d\ds - [\d,]+ samples/s - loss: ", lines[0])
    assert re.match(r"Epoch 4/8 - epochs 4-5 in one call: \d+\.\d\ds - [\d,]+ samples/s", lines[3])
    assert lines[4].startswith("Epoch 5/8 - (epochs 4-5: one call) - loss: ")
    assert lines[7].startswith("Epoch 8/8 - (epochs 6-8: one call) - loss: ")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "log.csv").read_text())))
    assert [int(r["epochs_in_call"]) for r in rows] == h.epochs_in_call
    np.testing.assert_allclose([float(r["seconds"]) for r in rows], h.epoch_times, rtol=1e-6)
    data, points, i = next((tmp_path / "tb" / "train").iterdir()).read_bytes(), [], 0
    while i < len(data):  # TFRecord framing: length, its CRC, the event, its CRC
        (length,) = struct.unpack("<Q", data[i : i + 8])
        event = event_pb2.Event()
        event.ParseFromString(data[i + 12 : i + 12 + length])
        points += [e for e in event.summary.value if e.tag == "epoch_samples_per_second"]
        i += 12 + length + 4
    assert len(points) == 5  # one point per measured call
