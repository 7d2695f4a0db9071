import csv
import io
import json
import struct
import sys
import types

import jax
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn import callbacks, checkpoint
from jaxnn.layers import Dense
from jaxnn.train import TrainState

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 3)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5], np.float32) > 0).astype(np.int32)
VAL = (X[:16], Y[:16])


def run(callbacks_, **kwargs):
    kwargs.setdefault("epochs", 5)
    kwargs.setdefault("validation_data", VAL)
    return jaxnn.fit(
        Dense(2),
        (X, Y),
        loss="softmax_cross_entropy",
        optimizer="sgd",
        batch_size=16,
        metrics=["accuracy"],
        callbacks=callbacks_,
        verbose=0,
        **kwargs,
    )


def test_hooks_run_in_order_with_logs():
    events = []

    class Recorder(callbacks.Callback):
        def on_train_begin(self, run):
            events.append("begin")

        def on_epoch_begin(self, epoch, run):
            events.append(f"epoch {epoch}")

        def on_chunk_end(self, epoch, steps_done, logs, run):
            events.append(f"chunk {steps_done}")

        def on_epoch_end(self, epoch, logs, run):
            events.append(f"end {epoch} {sorted(logs)}")

        def on_train_end(self, run):
            events.append("done")

    run([Recorder()], epochs=2, steps_per_chunk=3)
    keys = "['accuracy', 'loss', 'val_accuracy', 'val_loss']"
    assert events == [
        "begin",
        "epoch 0",
        "chunk 3",
        "chunk 4",
        f"end 0 {keys}",
        "epoch 1",
        "chunk 3",
        "chunk 4",
        f"end 1 {keys}",
        "done",
    ]


def test_early_stopping_waits_patience_epochs():
    # Learning rate 0: the loss never improves after epoch 0.
    stop = callbacks.EarlyStopping("loss", patience=2)
    ts, history = run([stop], learning_rate=1e-12, epochs=10)
    assert history.epoch == [0, 1, 2]
    assert history.stop_reason.startswith("EarlyStopping: loss did not improve for 2 epochs")
    assert stop.best_epoch == 0


def test_early_stopping_restores_the_best_epoch_weights():
    stop = callbacks.EarlyStopping("val_loss", mode="max", patience=1, restore_best_weights=True)
    states = []
    ts, history = run(
        [
            stop,
            callbacks.LambdaCallback(on_epoch_end=lambda e, logs, r: states.append(r.train_state)),
        ],
        learning_rate=0.5,
        epochs=6,
    )
    # mode="max" on a falling val_loss: epoch 0 is the best, and training stops at epoch 1.
    assert history.epoch == [0, 1] and stop.best_epoch == 0
    np.testing.assert_array_equal(ts.params["w"], states[0].params["w"])
    assert int(ts.step) == int(states[0].step)


def test_model_checkpoint_every_n_best_only_and_keep(tmp_path):
    every = callbacks.ModelCheckpoint(tmp_path / "e{epoch:02d}.msgpack", every_n_epochs=2, keep=2)
    best = callbacks.ModelCheckpoint(
        tmp_path / "best.msgpack", monitor="val_loss", save_best_only=True
    )
    ts, history = run([every, best], learning_rate=0.3, epochs=6)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.msgpack",
        "e04.msgpack",
        "e06.msgpack",
    ]
    target = TrainState.create(Dense(2), jax.random.key(5), (-1, 3), optax.sgd(0.1))
    last = checkpoint.load(tmp_path / "e06.msgpack", target)
    np.testing.assert_array_equal(last.train_state.params["w"], ts.params["w"])
    assert last.history["loss"] == history.history["loss"]
    best_epoch = int(np.argmin(history.history["val_loss"]))
    assert (
        checkpoint.load(tmp_path / "best.msgpack", target).history["loss"]
        == history.history["loss"][: best_epoch + 1]
    )


def test_csv_logger_writes_every_epoch(tmp_path):
    path = tmp_path / "log.csv"
    _, history = run([callbacks.CSVLogger(path)], epochs=3)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    np.testing.assert_allclose(
        [float(r["val_loss"]) for r in rows], history.history["val_loss"], rtol=1e-6
    )
    run([callbacks.CSVLogger(path, append=True)], epochs=2)
    assert len(list(csv.DictReader(io.StringIO(path.read_text())))) == 5


def read_events(path):
    """Parses a TFRecord event file with tensorboardX's own protobuf, no TensorFlow needed."""
    from tensorboardX.proto import event_pb2

    data, events, i = path.read_bytes(), [], 0
    while i < len(data):
        (length,) = struct.unpack("<Q", data[i : i + 8])
        event = event_pb2.Event()
        event.ParseFromString(data[i + 12 : i + 12 + length])
        events.append(event)
        i += 12 + length + 4
    return [(e.step, v.tag, v.simple_value) for e in events for v in e.summary.value]


def test_tensorboard_event_files(tmp_path):
    _, history = run([callbacks.TensorBoard(tmp_path)], epochs=3)
    train = read_events(next((tmp_path / "train").iterdir()))
    val = read_events(next((tmp_path / "validation").iterdir()))
    losses = [v for _, tag, v in train if tag == "epoch_loss"]
    np.testing.assert_allclose(losses, history.history["loss"], rtol=1e-6)
    assert [s for s, tag, _ in val if tag == "epoch_accuracy"] == [0, 1, 2]


def test_progress_lines_with_verbose_2(capsys):
    jaxnn.fit(Dense(2), (X, Y), loss="softmax_cross_entropy", epochs=2, batch_size=16, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 - ") and " - loss: " in lines[0]


def test_verbose_0_prints_nothing(capsys):
    run([], epochs=2)
    assert capsys.readouterr().out == ""


def test_terminate_on_nan_watches_validation():
    bad_val = (np.full((4, 3), 3e38, np.float32), Y[:4])  # finite inputs, logits overflow
    _, history = run([], validation_data=bad_val, learning_rate=0.1, epochs=4)
    assert history.epoch == [0]
    assert history.stop_reason.startswith(
        "TerminateOnNaN: ['val_loss'] not finite at the end of epoch 1"
    )


def test_errors():
    with pytest.raises(
        ValueError, match="EarlyStopping: mode must be 'auto', 'min' or 'max'; got 'lowest'"
    ):
        callbacks.EarlyStopping(mode="lowest")
    with pytest.raises(TypeError, match="fit: callbacks must be jaxnn.callbacks.Callback objects"):
        run([print])
    with pytest.warns(
        UserWarning,
        match=r"EarlyStopping: monitor 'val_auc' is not in the logs \['accuracy', 'loss', 'val_accuracy', 'val_loss'\]",
    ):
        run([callbacks.EarlyStopping("val_auc")], epochs=1)


def test_early_stopping_state_round_trips_through_json_and_refuses_bad_state():
    stopping = callbacks.EarlyStopping("val_loss", patience=2)
    assert stopping.state() == {"best": None, "best_epoch": None, "wait": 0}
    stopping._monitor.best, stopping.best_epoch, stopping._wait = 0.25, 3, 1
    state = json.loads(json.dumps(stopping.state()))
    fresh = callbacks.EarlyStopping("val_loss", patience=2)
    fresh.resume(state)
    fresh.on_train_begin(None)
    assert fresh.state() == {"best": 0.25, "best_epoch": 3, "wait": 1}
    fresh.on_train_begin(None)  # a second fit starts afresh
    assert fresh.state()["best"] is None
    for bad in ({"best": "x", "best_epoch": 1, "wait": 0}, {"best": 1.0, "wait": -1}, {}):
        with pytest.raises(ValueError, match=r"EarlyStopping.resume: state must hold .*got"):
            fresh.resume(bad)


# ---------------------------------------------------------------------------------------------
# In a notebook: TensorBoard's own reader, the live plot, the progress widget.


def test_tensorboard_s_own_reader_loads_the_event_files(tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    _, history = run([callbacks.TensorBoard(tmp_path)], epochs=3)
    for split, prefix in (("train", ""), ("validation", "val_")):
        events = accumulator.EventAccumulator(str(tmp_path / split))
        events.Reload()
        assert sorted(events.Tags()["scalars"]) == ["epoch_accuracy", "epoch_loss"]
        for name in ("loss", "accuracy"):
            points = events.Scalars(f"epoch_{name}")
            assert [p.step for p in points] == [0, 1, 2]
            np.testing.assert_allclose(
                [p.value for p in points], history.history[prefix + name], rtol=1e-6
            )


class FakeDisplay:
    """IPython's ``display(obj, display_id=True)`` and the handle's ``update``, recorded."""

    def __init__(self):
        self.shown, self.updates = [], []

    def __call__(self, obj):
        self.shown.append(obj)
        return self

    def update(self, obj):
        self.updates.append(obj)


def test_live_plot_redraws_one_display_once_per_epoch():
    fake = FakeDisplay()
    _, history = run([callbacks.LivePlot(display=fake)], epochs=4)
    assert len(fake.shown) == 1 and len(fake.updates) == 4
    last = fake.updates[-1]
    assert last._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert repr(last) == (
        f"LivePlot: epoch 4 of 4, accuracy {history.history['accuracy'][-1]:.4f}, "
        f"loss {history.history['loss'][-1]:.4f}"
    )


def test_live_plot_keeps_fit_on_its_fast_path_and_draws_every_k_and_the_last():
    fake = FakeDisplay()
    _, history = run([callbacks.LivePlot(display=fake, every=3)], epochs=7)
    assert callbacks.LivePlot.logs_only
    assert max(history.epochs_in_call) > 1  # several epochs per compiled call
    assert [repr(u).split(",")[0] for u in fake.updates] == [
        "LivePlot: epoch 3 of 7", "LivePlot: epoch 6 of 7", "LivePlot: epoch 7 of 7"
    ]  # fmt: skip


def test_live_plot_names_a_metric_the_logs_do_not_have():
    with pytest.raises(ValueError, match=r"LivePlot: no log 'acc' to plot; the logs are \["):
        run([callbacks.LivePlot(["acc"], display=FakeDisplay())], epochs=1)
    with pytest.raises(ValueError, match="LivePlot: every must be an int >= 1; got 0"):
        callbacks.LivePlot(every=0, display=FakeDisplay())


def test_live_plot_without_ipython_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    with pytest.raises(ImportError, match=r"pip install 'jaxnn\[notebooks\]'"):
        callbacks.LivePlot()


class ZMQInteractiveShell:  # the class name ipykernel's shell has
    pass


def test_progress_bar_is_a_notebook_widget_in_a_jupyter_kernel(monkeypatch):
    tqdm_notebook = pytest.importorskip("tqdm.notebook")
    pytest.importorskip("ipywidgets")
    bars = []

    class FakeBar:
        def __init__(self, *, total, desc, leave):
            self.total, self.desc, self.n, self.closed = total, desc, 0, False
            bars.append(self)

        def update(self, k):
            self.n += k

        def set_postfix_str(self, text):
            self.postfix = text

        def close(self):
            self.closed = True

    fake_ipython = types.ModuleType("IPython")
    fake_ipython.get_ipython = ZMQInteractiveShell
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setattr(tqdm_notebook, "tqdm", FakeBar)
    jaxnn.fit(Dense(2), (X, Y), loss="softmax_cross_entropy", epochs=2, batch_size=16, verbose=1)
    assert [(b.desc, b.total, b.n, b.closed) for b in bars] == [
        ("Epoch 1/2", len(X) // 16, len(X) // 16, True),
        ("Epoch 2/2", len(X) // 16, len(X) // 16, True),
    ]
    assert "loss: " in bars[-1].postfix


def test_progress_bar_outside_a_notebook_is_not_a_widget(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "IPython", None)
    assert not callbacks._in_notebook()
    jaxnn.fit(Dense(2), (X, Y), loss="softmax_cross_entropy", epochs=1, batch_size=16, verbose=1)
    assert capsys.readouterr().out.startswith("Epoch 1/1 - ")  # not a terminal: a line
