"""fit, evaluate and predict on streams of batches and memory-mapped arrays (jaxnn.train.sources)."""

import os

import jax
import numpy as np
import pytest

import jaxnn
from jaxnn import callbacks, checkpoint
from jaxnn.layers import Dense, Dropout
from jaxnn.train import data as data_lib
from jaxnn.train import streams

KW = dict(loss="softmax_cross_entropy", batch_size=16, verbose=0, metrics=["accuracy"])


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def _batches(x, y, size=16):
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]


class Again:
    """A re-iterable without a length: each iter() is a new pass."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


def _leaves(ts):
    return [np.asarray(a) for a in jax.tree.leaves((ts.params, ts.opt_state))]


def test_a_stream_of_the_arrays_batches_trains_bit_identically_to_the_arrays(xy):
    # The same batches in the same order (shuffle=False), the last one of 4 rows masked to 16:
    # the step body is the same, so every parameter and every log must be equal.
    model = jaxnn.serial(Dense(8), jax.nn.relu, Dropout(0.1), Dense(2))
    kw = dict(KW, epochs=3, shuffle=False)
    ts_a, h_a = jaxnn.fit(model, xy, **kw)
    ts_s, h_s = jaxnn.fit(model, Again(_batches(*xy)), **kw)
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(ts_a), _leaves(ts_s), strict=True))
    assert h_s.history == h_a.history


def test_an_endless_generator_trains_steps_per_epoch_batches_an_epoch(xy):
    batches = _batches(*xy)

    def endless():
        while True:
            yield from batches

    kw = dict(KW, epochs=3, shuffle=False)
    ts_a, _ = jaxnn.fit(Dense(2), xy, **kw)
    ts_g, h = jaxnn.fit(Dense(2), endless(), steps_per_epoch=len(batches), **kw)
    assert int(ts_g.step) == 3 * len(batches) == 21
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(ts_a), _leaves(ts_g), strict=True))
    assert len(h.history["loss"]) == 3


def test_a_generator_without_steps_per_epoch_trains_one_pass_then_stops_with_a_warning(xy):
    with pytest.warns(RuntimeWarning, match="epoch 2 got no batch"):
        ts, h = jaxnn.fit(Dense(2), iter(_batches(*xy)), epochs=3, **KW)
    assert int(ts.step) == 7 and len(h.history["loss"]) == 1


def test_evaluate_and_predict_on_streams_equal_the_arrays(xy):
    x, y = xy
    ts, _ = jaxnn.fit(Dense(2), xy, epochs=2, **KW)
    logs = jaxnn.evaluate(Dense(2), ts, Again(_batches(x, y)), loss="softmax_cross_entropy")
    assert logs == jaxnn.evaluate(Dense(2), ts, xy, loss="softmax_cross_entropy")
    out = jaxnn.predict(Dense(2), ts, (b[0] for b in _batches(x, y)))
    np.testing.assert_array_equal(out, jaxnn.predict(Dense(2), ts, x))


def test_validation_split_of_a_stream_holds_out_its_last_batches(xy):
    x, y = xy
    batches = _batches(x, y)
    _, h = jaxnn.fit(Dense(2), batches_with_len(batches), validation_split=0.3, epochs=1, **KW)
    # 7 batches: round(2.1) = 2 held out, the 5 before them trained on (80 rows)
    ts_ref, h_ref = jaxnn.fit(Dense(2), (x[:80], y[:80]), epochs=1, shuffle=False, **KW)
    logs = jaxnn.evaluate(Dense(2), ts_ref, (x[80:], y[80:]), loss="softmax_cross_entropy")
    np.testing.assert_allclose(h.history["val_loss"][0], logs["loss"], rtol=1e-6)
    assert h.history["loss"] == h_ref.history["loss"]


class batches_with_len(Again):  # noqa: N801 - a list-like test helper
    def __len__(self):
        return len(self.batches)


def test_memory_mapped_arrays_stream_from_the_file_and_train_as_in_memory(xy, tmp_path):
    x, y = xy
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    xm = np.load(tmp_path / "x.npy", mmap_mode="r")
    ym = np.load(tmp_path / "y.npy", mmap_mode="r")
    arrays = data_lib.check_arrays((xm, ym), None, where="fit")
    assert not data_lib.resident_on_device(arrays, "auto", where="fit")  # streamed, not copied
    train, _ = data_lib.split_by_order(arrays, 0.2, np.arange(100))
    assert isinstance(train.x, data_lib.RowView)  # the training rows stay in the file
    kw = dict(KW, epochs=2, validation_split=0.2)
    ts_m, h_m = jaxnn.fit(Dense(2), (xm, ym), **kw)
    ts_a, h_a = jaxnn.fit(Dense(2), (x, y), **kw)
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(ts_a), _leaves(ts_m), strict=True))
    assert h_m.history["loss"] == h_a.history["loss"]
    # the validation pass streams from the file: the same sums in another order
    np.testing.assert_allclose(h_m.history["val_loss"], h_a.history["val_loss"], rtol=1e-6)
    np.testing.assert_array_equal(
        jaxnn.predict(Dense(2), ts_m, xm), jaxnn.predict(Dense(2), ts_a, x)
    )


def test_host_streamed_arrays_go_in_chunks_of_bounded_bytes_and_train_as_resident(
    xy, tmp_path, monkeypatch
):
    # A memory-mapped epoch is gathered a chunk at a time (at most HOST_CHUNK_BYTES), not whole:
    # a step here holds 16 rows of x (3 float32), y (int32) and the weight (float32), 320
    # bytes, so a 700-byte limit gives 2 steps a chunk and 4 chunks for the 7 steps.
    x, y = xy
    np.save(tmp_path / "x.npy", x)
    xm = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert data_lib.row_nbytes(data_lib.check_arrays((xm, y), None, where="fit")) == 20
    monkeypatch.setattr(data_lib, "HOST_CHUNK_BYTES", 700)

    class Chunks(callbacks.Callback):
        def __init__(self):
            self.done = []

        def on_chunk_end(self, epoch, steps_done, logs, run):
            self.done.append((epoch, steps_done))

    seen = Chunks()
    ts_m, h_m = jaxnn.fit(Dense(2), (xm, y), epochs=2, callbacks=[seen], **KW)
    assert seen.done == [(e, s) for e in (0, 1) for s in (2, 4, 6, 7)]
    ts_a, h_a = jaxnn.fit(Dense(2), (x, y), epochs=2, **KW)
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(ts_a), _leaves(ts_m), strict=True))
    assert h_m.history["loss"] == h_a.history["loss"]
    # evaluate and predict stream the file under the same bound: 16-row batches, 2 steps a chunk
    sizes = []
    bounds = data_lib.chunk_bounds
    monkeypatch.setattr(data_lib, "chunk_bounds", lambda n, k: sizes.append(k) or bounds(n, k))
    logs = jaxnn.evaluate(Dense(2), ts_m, (xm, y), batch_size=16, metrics=["accuracy"])
    np.testing.assert_allclose(
        list(logs.values()),
        list(jaxnn.evaluate(Dense(2), ts_m, (x, y), batch_size=16, metrics=["accuracy"]).values()),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(
        jaxnn.predict(Dense(2), ts_m, xm, batch_size=16), jaxnn.predict(Dense(2), ts_m, x)
    )
    assert sizes == [2, 3]  # 700 bytes: 16 rows of x, y, w (320 bytes) or of x alone (192)


def test_arrays_resume_from_a_whole_model_file_equals_an_unbroken_run(xy, tmp_path):
    model = jaxnn.serial(Dense(4), jax.nn.relu, Dense(2))
    ts4, _ = jaxnn.fit(model, xy, epochs=4, **KW)
    ts2, _ = jaxnn.fit(model, xy, epochs=2, **KW)
    jaxnn.save_model(tmp_path / "m.jaxnn", model, ts2)
    saved = jaxnn.load_model(tmp_path / "m.jaxnn")
    assert saved.fit_kwargs["initial_epoch"] == 2 and "input_position" not in saved.fit_kwargs
    kwargs = {k: v for k, v in saved.fit_kwargs.items() if k not in KW}
    ts, _ = jaxnn.fit(saved.model, xy, epochs=4, initial_state=saved.train_state, **KW, **kwargs)
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(ts4), _leaves(ts), strict=True))


def test_a_generator_resumes_at_its_saved_position(xy, tmp_path):
    batches = _batches(*xy)

    def endless():
        while True:
            yield from batches

    kw = dict(KW, steps_per_epoch=3)  # epochs end mid-pass: the position matters
    ts4, _ = jaxnn.fit(Dense(2), endless(), epochs=4, **kw)
    path = tmp_path / "c{epoch}.msgpack"
    ts2, _ = jaxnn.fit(Dense(2), endless(), epochs=2, callbacks=[callbacks.ModelCheckpoint(path)],
                       **kw)  # fmt: skip
    saved = checkpoint.load(tmp_path / "c2.msgpack", ts2)
    assert saved.input_position == {"epoch": 2, "taken": 6, "state": None, "batch": 16}
    ts, _ = jaxnn.fit(Dense(2), endless(), epochs=4, initial_epoch=2, initial_state=saved.train_state,
                      input_position=saved.input_position, **kw)  # fmt: skip
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(ts4), _leaves(ts), strict=True))
    with pytest.raises(ValueError, match="saved after epoch 2, and initial_epoch is 3"):
        jaxnn.fit(Dense(2), endless(), epochs=4, initial_epoch=3, input_position=saved.input_position,
                  **kw)  # fmt: skip


def _bad_midway(xy, batch):
    def gen():
        yield from _batches(*xy)[:2]
        yield batch

    return gen()


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        (lambda x, y: (x[:16, :2], y[:16]), r"batch 3 of epoch 1 has x of shape \(16, 2\).*"
         r"expected shape \(16 rows, at most 16, \*\(3,\)\) and dtype float32"),
        (lambda x, y: (x[:16].astype("float64"), y[:16]), r"batch 3 of epoch 1 has x .* dtype "
         r"float64; expected .* dtype float32"),
        (lambda x, y: (x[:16], y[:16].astype("float32")), r"batch 3 of epoch 1 has y .* dtype "
         r"float32; expected .* dtype int32"),
        (lambda x, y: (np.concatenate([x, x])[:32], y[:32]), r"batch 3 of epoch 1 has 32 rows; "
         r"expected at most 16"),
        (lambda x, y: (np.full((16, 3), np.nan, "float32"), y[:16]), r"batch 3 of epoch 1: x "
         r"has NaN or Inf in 16 of 16 rows"),
        (lambda x, y: x[:16], r"batch 3 of epoch 1 is a ndarray; expected \(x, y\)"),
    ],
)  # fmt: skip
def test_a_bad_batch_midway_names_its_number_and_what_was_expected_and_writes_nothing(
    xy, tmp_path, batch, match
):
    cbs = [callbacks.ModelCheckpoint(tmp_path / "c{epoch}.msgpack"),
           callbacks.CSVLogger(tmp_path / "log.csv")]  # fmt: skip
    with pytest.raises(ValueError, match=match):
        jaxnn.fit(Dense(2), _bad_midway(xy, batch(*xy)), epochs=1, callbacks=cbs, **KW)
    assert os.listdir(tmp_path) == []


def test_an_empty_iterator_says_so():
    with pytest.raises(ValueError, match="the data iterator is empty: it yielded no batch"):
        jaxnn.fit(Dense(2), iter([]), **KW)
    with pytest.raises(ValueError, match="evaluate: the data iterator is empty"):
        jaxnn.evaluate(Dense(2), None, iter([]), loss="mse")


def test_validation_split_of_a_generator_of_unknown_length_is_refused(xy, tmp_path):
    cbs = [callbacks.ModelCheckpoint(tmp_path / "c{epoch}.msgpack")]
    with pytest.raises(ValueError, match="needs to know how many batches an epoch has.*"
                       "steps_per_epoch"):  # fmt: skip
        jaxnn.fit(Dense(2), iter(_batches(*xy)), validation_split=0.2, callbacks=cbs, **KW)
    assert os.listdir(tmp_path) == []
    _, h = jaxnn.fit(Dense(2), iter(_batches(*xy)), validation_split=0.3, steps_per_epoch=7,
                     **KW)  # fmt: skip
    assert "val_loss" in h.history


def test_options_that_belong_to_the_other_kind_of_data_are_refused(xy):
    with pytest.raises(ValueError, match="steps_per_epoch is for streams of batches"):
        jaxnn.fit(Dense(2), xy, steps_per_epoch=3, **KW)
    with pytest.raises(ValueError, match="a stream carries its weights in its batches"):
        jaxnn.fit(Dense(2), iter(_batches(*xy)), sample_weight=np.ones(100), **KW)
    with pytest.raises(ValueError, match="validation_data is a one-shot iterator"):
        jaxnn.fit(Dense(2), xy, validation_data=iter(_batches(*xy)), **KW)
    with pytest.raises(ValueError, match="steps_per_epoch must be an int >= 1"):
        jaxnn.fit(Dense(2), iter(_batches(*xy)), steps_per_epoch=0, **KW)


def test_prefetched_hands_on_items_in_order_and_the_threads_error_at_its_place():
    def items():
        yield 1
        yield 2
        raise ValueError("third")

    got = []
    with pytest.raises(ValueError, match="third"):
        for item in streams.prefetched(items()):
            got.append(item)
    assert got == [1, 2]
