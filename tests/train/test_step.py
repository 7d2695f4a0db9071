import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn import losses, regularizers
from jaxnn.layers import BatchNorm, Dense, Dropout
from jaxnn.train import TrainState, make_eval_step, make_train_step
from jaxnn.train.step import make_objective, make_update, resolve_metrics

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


# ---------------------------------------------------------------------------------------------
# A padded batch: weight 0 and batch_mask False on the padding rows


def _pad(a, rows=2):
    """``a`` with ``rows`` copies of its row 0 appended, as fit pads a partial last batch."""
    return jnp.concatenate([a] + [a[:1]] * rows)


def _assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=rtol, atol=atol), a, b)


def test_update_on_a_padded_batch_equals_update_on_the_real_rows():
    model = jaxnn.serial(Dense(4), BatchNorm(momentum=0.8), jax.nn.relu, Dense(2))
    # SGD with momentum: its state (the trace) is linear in the gradients, so it compares
    # tightly. (Adam's g / (|g| + eps) amplifies the rounding noise of the dense bias before
    # BatchNorm, whose true gradient is 0.)
    opt = optax.sgd(0.1, momentum=0.9)
    metrics = resolve_metrics(["accuracy"], losses.softmax_cross_entropy)
    objective = make_objective(model, losses.softmax_cross_entropy, metrics=metrics)
    update = jax.jit(make_update(objective, opt))
    ts0 = TrainState.create(model, jax.random.key(0), (-1, 2), opt)
    x_pad, y_pad = _pad(X), _pad(Y)
    w_pad = jnp.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])

    ts_real, ts_pad = ts0, ts0
    for _ in range(2):  # the second step also sees the first step's momentum and statistics
        ts_real, stats_real = update(ts_real, X, Y, jnp.ones(4))
        ts_pad, stats_pad = update(ts_pad, x_pad, y_pad, w_pad, w_pad > 0)
        _assert_trees_close(stats_pad, stats_real)
    _assert_trees_close(ts_pad.params, ts_real.params)
    _assert_trees_close(ts_pad.opt_state, ts_real.opt_state)
    _assert_trees_close(ts_pad.state, ts_real.state)
    assert int(ts_pad.step) == int(ts_real.step) == 2
    # The BatchNorm statistics are those of the 4 real rows: 0.8 * 0 + 0.2 * mean of h.
    p = jax.tree.map(np.asarray, ts0.params)
    h = np.asarray(X) @ p["dense"]["w"] + p["dense"]["b"]
    state_one = update(ts0, x_pad, y_pad, w_pad, w_pad > 0)[0].state
    np.testing.assert_allclose(state_one["batch_norm"]["mean"], 0.2 * h.mean(0), rtol=1e-5)

    # Weights alone do not fix BatchNorm: without the mask its statistics include the padding.
    ts_unmasked, _ = update(ts0, x_pad, y_pad, w_pad)
    ts_real_once, _ = update(ts0, X, Y, jnp.ones(4))
    assert not np.allclose(
        ts_unmasked.state["batch_norm"]["mean"], ts_real_once.state["batch_norm"]["mean"]
    )


def test_objective_takes_the_mask_as_its_eighth_argument():
    model = jaxnn.serial(Dense(3), BatchNorm(momentum=0.5), Dense(2))
    ts = TrainState.create(model, jax.random.key(0), (-1, 2), optax.sgd(0.1))
    objective = make_objective(model, losses.softmax_cross_entropy)
    w_pad = jnp.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    args_pad = (ts.params, ts.state, _pad(X), _pad(Y), w_pad, ts.key)
    args_real = (ts.params, ts.state, X, Y, jnp.ones(4), ts.key)
    for train in (True, False):
        value_pad, (state_pad, stats_pad) = objective(*args_pad, train, w_pad > 0)
        value_real, (state_real, stats_real) = objective(*args_real, train)
        np.testing.assert_allclose(value_pad, value_real, rtol=1e-6)
        _assert_trees_close(stats_pad, stats_real)
        _assert_trees_close(state_pad, state_real)


def test_update_ignores_the_mask_for_models_that_do_not_take_it():
    # Dense(2) does not declare batch_mask: it is not passed, and w alone removes the padding.
    model = Dense(2)
    opt = optax.sgd(0.1)
    update = make_update(make_objective(model, losses.softmax_cross_entropy), opt)
    ts = TrainState.create(model, jax.random.key(0), (-1, 2), opt)
    w_pad = jnp.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    ts_masked, _ = update(ts, _pad(X), _pad(Y), w_pad, w_pad > 0)
    ts_real, _ = update(ts, X, Y, jnp.ones(4))
    _assert_trees_close(ts_masked.params, ts_real.params)


def test_create_works_under_jit_and_vmap_and_equals_the_eager_call():
    opt = optax.adam(1e-3)
    eager = TrainState.create(MODEL, jax.random.key(3), (-1, 2), opt)
    jitted = jax.jit(lambda k: TrainState.create(MODEL, k, (-1, 2), opt))(jax.random.key(3))
    jax.tree.map(np.testing.assert_array_equal, eager.params, jitted.params)
    keys = jax.random.split(jax.random.key(3), 4)  # an ensemble of four
    ensemble = jax.vmap(lambda k: TrainState.create(MODEL, k, (-1, 2), opt))(keys)
    assert jax.tree.leaves(ensemble.params)[0].shape[0] == 4
