"""fit, evaluate and resume on Grain datasets (the optional grain extra)."""

import sys

import jax
import numpy as np
import pytest

import jaxnn
from jaxnn import callbacks, checkpoint
from jaxnn.layers import Dense

grain = pytest.importorskip("grain")

KW = dict(loss="softmax_cross_entropy", batch_size=16, verbose=0, metrics=["accuracy"])


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def _records(x, y):
    return grain.MapDataset.source([(x[i], y[i]) for i in range(len(x))])


def _leaves(ts):
    return [np.asarray(a) for a in jax.tree.leaves((ts.params, ts.opt_state))]


def test_a_batched_map_dataset_trains_as_the_same_batches_of_arrays(xy):
    ds = _records(*xy).batch(16)  # 7 batches per pass, the last of 4 rows
    kw = dict(KW, epochs=2, shuffle=False)
    ts_g, h_g = jaxnn.fit(Dense(2), ds, **kw)
    ts_a, h_a = jaxnn.fit(Dense(2), xy, **kw)
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(ts_a), _leaves(ts_g), strict=True))
    assert h_g.history == h_a.history
    assert jaxnn.evaluate(Dense(2), ts_g, ds) == jaxnn.evaluate(Dense(2), ts_a, xy)


def test_an_iter_dataset_and_validation_split_of_a_map_dataset(xy):
    ids = _records(*xy).batch(16).to_iter_dataset()
    ts, h = jaxnn.fit(Dense(2), ids, epochs=2, **KW)
    assert int(ts.step) == 14  # a fresh pass every epoch
    _, h = jaxnn.fit(Dense(2), _records(*xy).batch(16), validation_split=0.3, **KW)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_a_map_dataset_is_read_in_order_skipping_what_a_filter_dropped(xy):
    # fit reads a MapDataset element by element (no Grain threads); filtered-out elements
    # (None) are skipped as Grain's own iterator skips them.
    batches = _records(*xy).batch(16)
    kept = batches.filter(lambda b: b[0].shape[0] == 16)  # the last, short batch dropped
    assert len(kept) == 7 and kept[6] is None
    ts_k, h_k = jaxnn.fit(Dense(2), kept, epochs=2, shuffle=False, **KW)
    x, y = xy
    ts_a, h_a = jaxnn.fit(Dense(2), (x[:96], y[:96]), epochs=2, shuffle=False, **KW)
    assert int(ts_k.step) == 12
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(ts_a), _leaves(ts_k), strict=True))
    assert h_k.history == h_a.history


def test_a_damaged_map_dataset_position_is_a_clear_error(xy):
    for state in ({"next_index": -1}, {"next_index": "3"}, ["x"]):
        with pytest.raises(ValueError, match="Grain MapDataset must be"):
            jaxnn.fit(Dense(2), _records(*xy).batch(16), epochs=1, steps_per_epoch=3,
                      input_position={"taken": 1, "state": state}, **KW)  # fmt: skip


def _shuffled(xy):
    return _records(*xy).shuffle(seed=3).repeat().batch(16)


def test_a_grain_run_resumed_from_its_checkpoint_sees_the_same_batches(xy, tmp_path):
    kw = dict(KW, steps_per_epoch=5)  # the epochs end mid-pass of a shuffled, repeated set
    ts4, h4 = jaxnn.fit(Dense(2), _shuffled(xy), epochs=4, **kw)
    cb = callbacks.ModelCheckpoint(tmp_path / "c{epoch}.msgpack")
    ts2, _ = jaxnn.fit(Dense(2), _shuffled(xy), epochs=2, callbacks=[cb], **kw)
    saved = checkpoint.load(tmp_path / "c2.msgpack", ts2)
    assert saved.input_position == {
        "epoch": 2,
        "taken": 10,
        "state": {"next_index": 10},
        "batch": 16,
    }
    ts, h = jaxnn.fit(Dense(2), _shuffled(xy), epochs=4, initial_epoch=2, **kw,
                      initial_state=saved.train_state, input_position=saved.input_position)  # fmt: skip
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(ts4), _leaves(ts), strict=True))
    assert h.history["loss"] == h4.history["loss"][2:]
    # without the position, the resumed run would start the set again and differ
    ts_fresh, _ = jaxnn.fit(Dense(2), _shuffled(xy), epochs=4, initial_epoch=2, **kw,
                            initial_state=saved.train_state)  # fmt: skip
    assert not np.array_equal(_leaves(ts_fresh)[0], _leaves(ts4)[0])


def test_a_grain_run_resumed_from_its_whole_model_file_sees_the_same_batches(xy, tmp_path):
    kw = dict(KW, steps_per_epoch=5)
    ts4, _ = jaxnn.fit(Dense(2), _shuffled(xy), epochs=4, **kw)
    ts2, _ = jaxnn.fit(Dense(2), _shuffled(xy), epochs=2, **kw)
    jaxnn.save_model(tmp_path / "m.jaxnn", Dense(2), ts2)
    saved = jaxnn.load_model(tmp_path / "m.jaxnn")
    assert saved.fit_kwargs["input_position"]["state"] == {"next_index": 10}
    assert saved.fit_kwargs["steps_per_epoch"] == 5
    ts, _ = jaxnn.fit(Dense(2), _shuffled(xy), epochs=4, initial_state=saved.train_state,
                      verbose=0, **saved.fit_kwargs)  # fmt: skip
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(ts4), _leaves(ts), strict=True))


def test_a_grain_dataset_without_grain_installed_names_the_extra(monkeypatch):
    class MapDataset:  # what a pickled or duck-typed Grain object looks like without Grain
        def __iter__(self):
            return iter([])

    MapDataset.__module__ = "grain._src.python.dataset.dataset"
    monkeypatch.setitem(sys.modules, "grain", None)  # import grain now fails
    with pytest.raises(ImportError, match=r"pip install 'jaxnn\[grain\]'"):
        jaxnn.fit(Dense(2), MapDataset(), **KW)
