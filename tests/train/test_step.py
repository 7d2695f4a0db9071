import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn import losses, regularizers
from jaxnn.layers import Dense, Dropout
from jaxnn.train import TrainState, make_eval_step, make_train_step

X = jnp.array([[0.5, -1.0], [1.5, 2.0], [-0.3, 0.7], [2.0, -2.0]])
Y = jnp.array([0, 1, 1, 0])
MODEL = jaxnn.serial(Dense(3), jnp.tanh, Dense(2))


def fresh(opt=None):
    return TrainState.create(MODEL, jax.random.key(0), (-1, 2), opt or optax.sgd(0.1))


def test_create_draws_params_from_fold_in_zero():
    ts = fresh()
    _, params, _ = MODEL.init(jax.random.fold_in(jax.random.key(0), 0), (-1, 2))
    jax.tree.map(np.testing.assert_array_equal, ts.params, params)
    assert int(ts.step) == 0 and ts.step.dtype == jnp.int32
    with pytest.raises(
        TypeError,
        match="TrainState.create: optimizer must be an optax.GradientTransformation; got str",
    ):
        TrainState.create(MODEL, jax.random.key(0), (-1, 2), "adam")


def test_train_step_equals_a_hand_written_optax_step():
    opt = optax.adam(0.05)
    ts = fresh(opt)
    step = make_train_step(MODEL, losses.softmax_cross_entropy, opt)
    new_ts, logs = step(ts, (X, Y))

    def loss_fn(p):
        return losses.softmax_cross_entropy(MODEL.apply(p, ts.state, X)[0], Y)

    value, grads = jax.value_and_grad(loss_fn)(ts.params)
    updates, _ = opt.update(grads, opt.init(ts.params), ts.params)
    expected = optax.apply_updates(ts.params, updates)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), new_ts.params, expected
    )
    np.testing.assert_allclose(logs["loss"], value, rtol=1e-6)
    assert int(new_ts.step) == 1


def test_logs_metrics_regularizer_and_sample_weight():
    ts = fresh()
    reg = regularizers.l2(0.01)
    step = make_train_step(
        MODEL, "softmax_cross_entropy", optax.sgd(0.1), metrics=["accuracy"], regularizer=reg
    )
    w = jnp.array([1.0, 0.0, 2.0, 1.0])
    _, logs = step(ts, {"x": X, "y": Y, "sample_weight": w})
    logits = MODEL.apply(ts.params, ts.state, X)[0]
    expected = losses.softmax_cross_entropy(logits, Y, sample_weight=w) + reg(ts.params)
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-6)
    np.testing.assert_allclose(
        logs["accuracy"], jaxnn.metrics.accuracy(logits, Y, sample_weight=w), rtol=1e-6
    )


def test_jitted_step_does_not_recompile_and_uses_per_step_keys():
    model = jaxnn.serial(Dense(3), Dropout(0.5), Dense(2))
    ts = TrainState.create(model, jax.random.key(0), (-1, 2), optax.sgd(0.0))
    traces = []
    raw = make_train_step(model, "softmax_cross_entropy", optax.sgd(0.0))

    def counted(ts, batch):
        traces.append(1)
        return raw(ts, batch)

    step = jax.jit(counted)
    ts1, logs1 = step(ts, (X, Y))
    ts2, logs2 = step(ts1, (X, Y))
    assert len(traces) == 1
    # Learning rate 0: the params do not move, so a different loss means a different dropout mask.
    assert float(logs1["loss"]) != float(logs2["loss"])


def test_eval_step_uses_evaluation_mode():
    model = jaxnn.serial(Dense(3), Dropout(0.9), Dense(2))
    ts = TrainState.create(model, jax.random.key(0), (-1, 2), optax.sgd(0.1))
    logs = make_eval_step(model, "softmax_cross_entropy", metrics=["accuracy"])(ts, (X, Y))
    logits = model.apply(ts.params, ts.state, X)[0]
    np.testing.assert_allclose(logs["loss"], losses.softmax_cross_entropy(logits, Y), rtol=1e-6)


def test_errors():
    step = make_train_step(MODEL, "mse", optax.sgd(0.1))
    with pytest.raises(
        ValueError,
        match=r"train_step: a dict batch needs keys 'x' and 'y' and may have 'sample_weight'; got \['inputs', 'y'\]",
    ):
        step(fresh(), {"inputs": X, "y": Y})
    with pytest.raises(ValueError, match="a batch must be"):
        step(fresh(), X)
    with pytest.raises(
        ValueError, match=r"metrics: each metric needs its own name; \['accuracy'\] repeat or clash"
    ):
        make_train_step(MODEL, "mse", optax.sgd(0.1), metrics=["accuracy", "acc"])
    with pytest.raises(ValueError, match="make_eval_step: give a loss, metrics, or both"):
        make_eval_step(MODEL)

    def bare_loss(predictions, targets):
        return jnp.mean((predictions - targets) ** 2)

    step = make_train_step(MODEL, bare_loss, optax.sgd(0.1))
    with pytest.raises(
        TypeError, match=r"loss 'bare_loss' must accept the keyword arguments \['sample_weight'\]"
    ):
        step(fresh(), (X, jnp.zeros((4, 2))))
