import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn import checkpoint, losses
from jaxnn.layers import BatchNorm, Dense, Dropout
from jaxnn.train import TrainState


def circle(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    y = (np.hypot(x[:, 0], x[:, 1]) < 0.6).astype(np.int32)
    return x, y


def mlp():
    return jaxnn.serial(Dense(16), jnp.tanh, Dropout(0.1), Dense(16), jnp.tanh, Dense(2))


def quiet_fit(model, data, **kwargs):
    kwargs.setdefault("loss", "softmax_cross_entropy")
    kwargs.setdefault("verbose", 0)
    return jaxnn.fit(model, data, **kwargs)


def assert_trees_equal(a, b):
    """Bitwise equality of two TrainStates (typed keys compared by their data)."""
    a, b = (t._replace(key=jax.random.key_data(t.key)) for t in (a, b))
    jax.tree.map(np.testing.assert_array_equal, a, b)


def test_fit_learns_the_circle_and_reports_keras_keys():
    x, y = circle(400)
    ts, history = quiet_fit(
        mlp(),
        (x, y),
        optimizer="adam",
        learning_rate=0.02,
        epochs=70,
        batch_size=32,
        metrics=["accuracy"],
        validation_split=0.25,
    )
    h = history.history
    assert sorted(h) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 70 for v in h.values()) and history.epoch == list(range(70))
    assert h["loss"][-1] < 0.3 * h["loss"][0]
    assert max(h["val_accuracy"][-10:]) > 0.9  # a majority-class guess scores about 0.7
    assert len(history.samples_per_second) == 70 and min(history.samples_per_second) > 0
    assert int(ts.step) == 70 * 10  # 300 training samples, batches of 32


def test_same_seed_is_bit_identical_and_other_seed_differs():
    x, y = circle()
    a, ha = quiet_fit(mlp(), (x, y), epochs=3, seed=5)
    b, hb = quiet_fit(mlp(), (x, y), epochs=3, seed=5)
    c, _ = quiet_fit(mlp(), (x, y), epochs=3, seed=6)
    assert_trees_equal(a, b)
    assert ha.history == hb.history
    assert not np.array_equal(a.params["dense"]["w"], c.params["dense"]["w"])


def test_resume_from_a_checkpoint_equals_uninterrupted_training(tmp_path):
    x, y = circle()
    kwargs = dict(optimizer="adam", learning_rate=0.01, batch_size=16, metrics=["accuracy"], seed=3)
    full, full_history = quiet_fit(mlp(), (x, y), epochs=4, **kwargs)
    half, half_history = quiet_fit(mlp(), (x, y), epochs=2, **kwargs)
    checkpoint.save(tmp_path / "ckpt.msgpack", half, history=half_history.history)
    target = TrainState.create(mlp(), jax.random.key(99), (-1, 2), optax.adam(0.01))
    restored = checkpoint.load(tmp_path / "ckpt.msgpack", target).train_state
    resumed, resumed_history = quiet_fit(
        mlp(), (x, y), epochs=4, initial_state=restored, initial_epoch=2, **kwargs
    )
    assert_trees_equal(resumed, full)
    assert resumed_history.history["loss"] == full_history.history["loss"][2:]


def test_partial_last_batch_is_masked_not_dropped():
    # 10 samples, batches of 4: steps of 4, 4 and 2 samples, in order (no shuffle).
    x = np.linspace(-1, 1, 20, dtype=np.float32).reshape(10, 2)
    y = (x[:, :1] * 3.0 - 1.0).astype(np.float32)
    model = Dense(1)
    ts, _ = quiet_fit(
        model,
        (x, y),
        loss="mse",
        optimizer="sgd",
        learning_rate=0.1,
        epochs=1,
        batch_size=4,
        shuffle=False,
    )
    params = TrainState.create(
        model, jax.random.fold_in(jax.random.key(0), 0), (-1, 2), optax.sgd(0.1)
    ).params
    opt = optax.sgd(0.1)
    state = opt.init(params)
    for a in range(0, 10, 4):
        grads = jax.grad(
            lambda p, a=a: losses.mse(model.apply(p, {}, x[a : a + 4])[0], y[a : a + 4])
        )(params)
        updates, state = opt.update(grads, state)
        params = optax.apply_updates(params, updates)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), ts.params, params
    )
    assert int(ts.step) == 3


@pytest.mark.parametrize(
    "options", [{"steps_per_chunk": 3}, {"steps_per_chunk": 1}, {"data_on_device": False}]
)
def test_chunking_and_streaming_give_the_same_result(options):
    x, y = circle(150)
    kwargs = dict(epochs=2, batch_size=16, metrics=["accuracy"], validation_split=0.2, seed=1)
    base, base_history = quiet_fit(mlp(), (x, y), **kwargs)
    other, other_history = quiet_fit(mlp(), (x, y), **kwargs, **options)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6),
        other.params,
        base.params,
    )
    for k in base_history.history:
        np.testing.assert_allclose(other_history.history[k], base_history.history[k], rtol=1e-5)


def test_uniform_weights_change_nothing_and_class_weights_act_as_sample_weights():
    x, y = circle(120)
    kwargs = dict(epochs=2, batch_size=16, seed=2, optimizer="sgd", learning_rate=0.1)
    plain, _ = quiet_fit(mlp(), (x, y), **kwargs)
    doubled, _ = quiet_fit(mlp(), (x, y), sample_weight=np.full(120, 2.0), **kwargs)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        doubled.params,
        plain.params,
    )
    by_class, _ = quiet_fit(mlp(), (x, y), class_weight={1: 3.0}, **kwargs)
    by_sample, _ = quiet_fit(mlp(), (x, y, np.where(y == 1, 3.0, 1.0)), **kwargs)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        by_class.params,
        by_sample.params,
    )


def test_freeze_keeps_the_body_bit_identical():
    x, y = circle()
    model = jaxnn.serial(jaxnn.serial(Dense(8), jnp.tanh, name="body"), Dense(2, name="head"))
    optimizer = jaxnn.optimizers.freeze(optax.adam(0.01), ["body/*"])
    init = TrainState.create(model, jax.random.key(0), (-1, 2), optimizer)
    body = init.params["body"]
    body["dense"]["b"] = -jnp.zeros_like(body["dense"]["b"])  # -0.0 must survive too
    ts, _ = quiet_fit(model, (x, y), epochs=2, initial_state=init, optimizer=optimizer)
    with pytest.raises(
        ValueError,
        match=r"fit: initial_state.opt_state does not match this optimizer \(and freeze patterns\)",
    ):
        quiet_fit(model, (x, y), epochs=1, initial_state=init, optimizer="adam")
    with pytest.raises(
        ValueError, match="fit: initial_state.params does not match this model and input"
    ):
        quiet_fit(
            model,
            (np.zeros((10, 3), np.float32), y[:10]),
            epochs=1,
            batch_size=5,
            initial_state=init,
            optimizer=optimizer,
        )
    for a, b in zip(jax.tree.leaves(ts.params["body"]), jax.tree.leaves(body), strict=True):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    assert not np.array_equal(ts.params["head"]["w"], init.params["head"]["w"])


def test_batchnorm_state_is_trained_and_used():
    x, y = circle()
    model = jaxnn.serial(Dense(8), BatchNorm(momentum=0.5), jnp.tanh, Dense(2))
    ts, _ = quiet_fit(model, (x * 5 + 3, y), epochs=2)
    assert not np.allclose(ts.state["batch_norm"]["mean"], 0.0)


def test_nan_loss_stops_and_returns_the_last_finite_state():
    x, y = circle(64)
    y = y.astype(np.float32)[:, None] * 1e30
    model = Dense(1)
    with pytest.warns(
        RuntimeWarning, match=r"fit: the loss became NaN or Inf at epoch 1, step \d+ of 4"
    ):
        ts, history = quiet_fit(
            model, (x, y), loss="mse", optimizer="sgd", learning_rate=1e10, epochs=5, batch_size=16
        )
    assert history.stop_reason.startswith("fit: the loss became NaN or Inf")
    assert "Try a smaller learning rate" in history.stop_reason and history.non_finite
    assert len(history.epoch) == 1
    assert all(np.all(np.isfinite(a)) for a in jax.tree.leaves(ts.params))


def test_on_nan_continue_trains_on_through_nan_as_keras_does():
    x, y = circle(64)
    y = y.astype(np.float32)[:, None] * 1e30
    ts, history = quiet_fit(
        Dense(1), (x, y), loss="mse", optimizer="sgd", learning_rate=1e10, epochs=3,
        batch_size=16, on_nan="continue",
    )  # fmt: skip
    assert len(history.epoch) == 3 and not history.non_finite and history.stop_reason is None
    assert int(ts.step) == 12  # every step applied, NaN or not
    assert not np.all(np.isfinite(ts.params["w"]))
    assert np.isnan(history.history["loss"][-1])
    with pytest.raises(ValueError, match=r"fit: on_nan must be 'stop' or 'continue'; got 'skip'"):
        quiet_fit(Dense(1), (x, y), loss="mse", on_nan="skip")


def test_epochs_do_not_retrace():
    def traces_of_fit(epochs):
        traces = []

        def counted(x):  # a new function per fit: JAX caches traces of the same function
            traces.append(1)
            return jnp.tanh(x)

        x, y = circle(50)  # 50 samples, batches of 8: the last batch is partial
        quiet_fit(
            jaxnn.serial(Dense(4), counted, Dense(2)),
            (x, y),
            epochs=epochs,
            batch_size=8,
            validation_split=0.2,
        )
        return len(traces)

    assert traces_of_fit(1) == traces_of_fit(6)


def test_validation_split_is_random_and_seeded():
    x = np.arange(100, dtype=np.float32)[:, None]
    y = (np.arange(100) >= 80).astype(
        np.int32
    )  # sorted: Keras' last-20% split would hold only class 1
    model = Dense(2)
    _, history = quiet_fit(
        model, (x, y), epochs=1, validation_split=0.2, metrics=["accuracy"], seed=0
    )
    from jaxnn.train.data import check_arrays, validation_split

    _, val = validation_split(
        check_arrays((x, y), None, where="t"), 0.2, jax.random.fold_in(jax.random.key(0), 1)
    )
    assert len(val) == 20 and 0 < np.asarray(val.y).sum() < 20


def test_bad_input_errors():
    x, y = circle(40)
    with pytest.raises(
        ValueError,
        match=r"fit: x, y and sample_weight must have one row per sample; x has 40, y has 39, sample_weight has 40",
    ):
        quiet_fit(mlp(), (x, y[:39]))
    bad = x.copy()
    bad[7, 1] = np.nan
    bad[9, 0] = np.inf
    with pytest.raises(
        ValueError, match=r"fit: x has NaN or Inf in 2 of 40 rows; the first is row 7"
    ):
        quiet_fit(mlp(), (bad, y))
    with pytest.raises(ValueError, match="fit: batch_size must be >= 1; got 0"):
        quiet_fit(mlp(), (x, y), batch_size=0)
    with pytest.warns(
        UserWarning, match="fit: batch_size 64 is larger than the 40 samples; using one batch of 40"
    ):
        quiet_fit(mlp(), (x, y), batch_size=64)
    with pytest.raises(ValueError, match=r"fit: validation_split must be in \(0, 1\); got 1.5"):
        quiet_fit(mlp(), (x, y), validation_split=1.5)
    with pytest.raises(ValueError, match="give validation_split or validation_data, not both"):
        quiet_fit(mlp(), (x, y), validation_split=0.2, validation_data=(x, y))
    with pytest.raises(
        ValueError,
        match=r"fit: the targets y do not fit the loss 'softmax_cross_entropy' and the model's output of shape \(-1, 2\): softmax_cross_entropy: labels must be class ids in \[0, 2\); 1 of 40 are not: values \[5\]",
    ):
        quiet_fit(mlp(), (x, np.where(np.arange(40) == 3, 5, y)))
    with pytest.raises(
        ValueError,
        match=r"targets y do not fit the loss 'mse' .* predictions and targets must have the same shape; got predictions \(40, 2\) and targets \(40,\)",
    ):
        quiet_fit(mlp(), (x, y.astype(np.float32)), loss="mse")
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        quiet_fit(mlp(), (x, y), optimizer="adamm")
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'. Known metrics: acc, accuracy"):
        quiet_fit(mlp(), (x, y), metrics=["acuracy"])
    with pytest.raises(ValueError, match="fit: epochs must be an int >= 1; got 0"):
        quiet_fit(mlp(), (x, y), epochs=0)
    with pytest.raises(ValueError, match="fit: sample_weight must be >= 0"):
        quiet_fit(mlp(), (x, y, -np.ones(40)))
    with pytest.raises(ValueError, match="fit: steps_per_chunk must be an int >= 1 or None; got 0"):
        quiet_fit(mlp(), (x, y), steps_per_chunk=0)


def test_default_fusion_rule():
    from jaxnn.core import Layer
    from jaxnn.train.loop import default_steps_per_chunk

    dense = jaxnn.serial(Dense(4), jnp.tanh, Dense(2))
    assert default_steps_per_chunk(dense, 50, backend="cpu") == 50
    # A layer whose config names a convolution, nested inside combinators.
    conv = Layer(
        lambda k, s: (s, {}, {}),
        lambda p, s, x, *, key=None, train=False: (x, s),
        "conv",
        {"type": "Conv2D"},
    )
    model = jaxnn.serial(jaxnn.residual(conv), Dense(2))
    assert default_steps_per_chunk(model, 50, backend="cpu") == 1
    assert default_steps_per_chunk(model, 50, backend="gpu") == 50


def test_empty_and_non_numeric_data_are_named():
    x, y = circle(40)
    with pytest.raises(
        ValueError, match=r"fit: the data is empty: x has 0 rows \(shape \(0, 2\)\)"
    ):
        quiet_fit(mlp(), (x[:0], y[:0]))
    with pytest.raises(ValueError, match=r"fit validation_data: the data is empty"):
        quiet_fit(mlp(), (x, y), validation_data=(x[:0], y[:0]))
    words = np.array([["a", "b"]] * 40)
    with pytest.raises(
        TypeError, match=r"fit: x must be an array of numbers .*; got dtype <U1 \(strings\)"
    ):
        quiet_fit(mlp(), (words, y))
    with pytest.raises(TypeError, match=r"fit: y must be an array of numbers .*; got dtype object"):
        quiet_fit(mlp(), (x, np.array([object()] * 40)))
    with pytest.raises(ValueError, match=r"evaluate: the data is empty"):
        jaxnn.evaluate(mlp(), None, (x[:0], y[:0]), loss="softmax_cross_entropy")


def test_evaluate_defaults_to_the_loss_and_metrics_fit_trained_with():
    import gc

    from jaxnn.train import inference

    x, y = circle(60)
    model = mlp()
    ts, _ = quiet_fit(model, (x, y), metrics=["accuracy", "precision"], epochs=2)
    named = jaxnn.evaluate(
        model, ts, (x, y), loss="softmax_cross_entropy", metrics=["accuracy", "precision"]
    )
    assert jaxnn.evaluate(model, ts, (x, y)) == named
    halved = ts._replace(params=jax.tree.map(lambda a: a / 2, ts.params))  # the same step array
    assert sorted(jaxnn.evaluate(model, halved, (x, y))) == ["accuracy", "loss", "precision"]
    fresh = TrainState.create(model, jax.random.key(0), (-1, 2), optax.adam(1e-3))
    with pytest.raises(
        ValueError,
        match=r"evaluate: give loss=, metrics= or both.*only a TrainState returned by fit",
    ):
        jaxnn.evaluate(model, fresh, (x, y))
    ident = id(ts.step)
    del ts, halved
    gc.collect()
    assert ident not in inference._TRAINED_WITH  # nothing is kept alive for evaluate's sake


def test_warm_start_takes_some_layers_and_draws_the_rest():
    x, y = circle(64)
    model = jaxnn.serial(jaxnn.serial(Dense(4), jnp.tanh, name="base"), Dense(2, name="head"))
    reference, _ = quiet_fit(model, (x, y), epochs=1, seed=1)
    body = {"dense": {"w": jnp.full((2, 4), 0.5), "b": jnp.arange(4.0)}, "tanh": {}}
    ts, history = quiet_fit(
        model, (x, y), epochs=3, seed=1, freeze=["base/*"], warm_start=({"base": body}, {})
    )
    np.testing.assert_array_equal(ts.params["base"]["dense"]["w"], body["dense"]["w"])
    np.testing.assert_array_equal(ts.params["base"]["dense"]["b"], body["dense"]["b"])
    assert int(ts.step) == 3 * 2 and history.history["loss"][-1] < history.history["loss"][0]
    start = TrainState.create(model, jax.random.key(1), (-1, 2), optax.adam(1e-3))
    assert not np.array_equal(ts.params["head"]["w"], start.params["head"]["w"])  # trained
    assert not np.array_equal(reference.params["base"]["dense"]["w"], body["dense"]["w"])


def test_warm_start_errors_name_the_path():
    x, y = circle(32)
    model = jaxnn.serial(Dense(4), Dense(2))
    with pytest.raises(
        ValueError,
        match=r"warm_start params must be a dict with some of the keys \['dense', 'dense_1'\]; got \['encoder'\]",
    ):
        quiet_fit(model, (x, y), warm_start=({"encoder": {}}, {}))
    with pytest.raises(
        ValueError,
        match=r"warm_start params/dense/w has shape \(3, 4\) float32; the model has \(2, 4\) float32",
    ):
        quiet_fit(model, (x, y), warm_start=({"dense": {"w": jnp.ones((3, 4))}}, {}))
    with pytest.raises(TypeError, match=r"warm_start must be a \(params, state\) pair"):
        quiet_fit(model, (x, y), warm_start={"dense": {}})
    ts = TrainState.create(model, jax.random.key(0), (-1, 2), optax.adam(1e-3))
    with pytest.raises(ValueError, match=r"initial_state \(to resume\) or warm_start, not both"):
        quiet_fit(model, (x, y), initial_state=ts, warm_start=({}, {}))
