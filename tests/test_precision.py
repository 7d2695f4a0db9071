"""Precision policies: casts, float32 losses, dynamic loss scaling, fit/evaluate/predict, files."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn import precision
from jaxnn.layers import BatchNorm, Dense, Embedding
from jaxnn.train import TrainState, make_train_step


def data(n=96, d=5, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    x = (scale * rng.normal(size=(n, d))).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int32)


def test_unknown_precision_names_the_choices():
    with pytest.raises(ValueError, match=r"fit: unknown precision 'half'; choose one of "
                       r"'float32', 'bfloat16', 'mixed_bfloat16', 'mixed_float16'"):  # fmt: skip
        jaxnn.fit(Dense(2), data(), loss="softmax_cross_entropy", precision="half", verbose=0)


def test_float16_on_a_backend_without_it_says_so(monkeypatch):
    monkeypatch.setattr(jax, "default_backend", lambda: "tpu")
    with pytest.raises(ValueError, match=r"computes in float16, which the tpu backend does not"):
        precision.get("mixed_float16")
    assert precision.get("mixed_bfloat16").compute_dtype == "bfloat16"


def test_a_layer_dtype_that_conflicts_names_the_layer():
    model = jaxnn.serial(Dense(4), Dense(2, dtype=jnp.float16, name="head"))
    with pytest.raises(ValueError, match=r"precision='mixed_bfloat16': layer 'head' \(Dense\) "
                       r"was built with dtype='float16'"):  # fmt: skip
        jaxnn.fit(model, data(), loss="softmax_cross_entropy", precision="mixed_bfloat16",
                  verbose=0)  # fmt: skip
    precision.check_layer_dtypes(model, "float32")  # the user's own choice without a policy


def test_mixed_policy_computes_in_bfloat16_and_returns_float32():
    seen = []
    model = jaxnn.serial(Dense(4), lambda h: seen.append(h.dtype) or h, BatchNorm(), Dense(3))
    wrapped = precision.apply_policy(model, "mixed_bfloat16")
    _, params, state = wrapped.init(jax.random.key(0), (-1, 5))
    x = jnp.asarray(data()[0][:8])
    y, new_state = wrapped.apply(params, state, x, train=True)
    assert seen[-1] == jnp.bfloat16 and y.dtype == jnp.float32
    # BatchNorm's running statistics stay float32 (the master copy), and have moved
    assert jax.tree.map(lambda a: a.dtype, new_state) == jax.tree.map(lambda a: a.dtype, state)
    reference, _ = model.apply(params, state, x, train=True)
    np.testing.assert_allclose(y, reference, rtol=0.05, atol=0.05)  # bfloat16 rounding
    assert not np.array_equal(y, reference)
    # integer inputs (token ids) are not cast
    emb = precision.apply_policy(Embedding(10, 4), "mixed_bfloat16")
    _, p, s = emb.init(jax.random.key(0), (-1, 3))
    assert emb.apply(p, s, jnp.array([[1, 2, 9]]))[0].dtype == jnp.float32
    assert precision.apply_policy(model, "float32") is model


def test_mixed_gradients_are_float32_and_close_to_float32_ones():
    model = jaxnn.serial(Dense(8), jnp.tanh, Dense(2))
    x, y = data()
    _, params, state = model.init(jax.random.key(1), (-1, 5))

    def loss(params, policy):
        out, _ = precision.apply_policy(model, policy).apply(params, state, x)
        return jnp.mean(jaxnn.losses.softmax_cross_entropy(out, y))

    g32 = jax.grad(loss)(params, "float32")
    g16 = jax.grad(loss)(params, "mixed_bfloat16")
    for a, b in zip(jax.tree.leaves(g32), jax.tree.leaves(g16), strict=True):
        assert b.dtype == jnp.float32
        np.testing.assert_allclose(b, a, rtol=0.1, atol=5e-3)


def test_loss_scale_grows_after_a_run_of_finite_steps_and_never_drops_below_one():
    opt = precision.loss_scaled(optax.sgd(1.0), initial_scale=2.0, growth_interval=3)
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    scales = []
    for _ in range(4):
        _, state = opt.update({"w": jnp.ones(2)}, state, params)
        scales.append(float(state.scale))
    assert scales == [2.0, 2.0, 4.0, 4.0] and int(state.good_steps) == 1
    for _ in range(5):
        _, state = opt.update({"w": jnp.array([jnp.nan, 1.0])}, state, params)
    assert float(state.scale) == 1.0 and not bool(state.finite)


def test_mixed_float16_skips_overflowing_steps_and_lowers_the_scale():
    # Inputs of ~100 make the scaled float16 gradients (2^15 * 100 * ...) overflow at first.
    x, y = data(n=1280, scale=100.0)
    ts, history = jaxnn.fit(Dense(2), (x, y), loss="softmax_cross_entropy", batch_size=32,
                            epochs=3, precision="mixed_float16", verbose=0)  # fmt: skip
    assert isinstance(ts.opt_state, precision.LossScaleState)
    skipped = history.history["skipped_steps"]
    assert skipped[0] >= 1 and skipped[2] == 0
    assert history.history["loss_scale"][2] < 2.0**15
    assert float(ts.opt_state.scale) < 2.0**15
    assert all(np.isfinite(history.history["loss"]))
    fresh = TrainState.create(Dense(2), jax.random.key(0), (-1, 5), optax.adam(1e-3))
    assert not np.array_equal(ts.params["w"], fresh.params["w"])  # it trained after skipping


def test_make_train_step_with_loss_scaling_matches_its_train_state():
    model, opt = Dense(2), optax.sgd(0.1)
    step = jax.jit(make_train_step(model, "softmax_cross_entropy", opt, precision="mixed_float16"))
    x, y = data()
    plain = TrainState.create(model, jax.random.key(0), (-1, 5), opt)
    with pytest.raises(ValueError, match=r"holds no loss scale; create it with "
                       r"TrainState.create\(\.\.\., precision='mixed_float16'\)"):  # fmt: skip
        step(plain, (x, y))
    ts = TrainState.create(model, jax.random.key(0), (-1, 5), opt, precision="mixed_float16")
    ts, logs = step(ts, (x, y))
    assert float(logs["loss_scale"]) == 2.0**15 and float(logs["skipped_steps"]) == 0.0
    # the step equals the float32 step up to float16 rounding
    ref_step = jax.jit(make_train_step(model, "softmax_cross_entropy", opt))
    ref, _ = ref_step(plain, (x, y))
    np.testing.assert_allclose(ts.params["w"], ref.params["w"], rtol=1e-2, atol=1e-3)


def test_bfloat16_policy_keeps_parameters_in_bfloat16_and_fit_takes_bfloat16_inputs(tmp_path):
    x, y = data()
    model = jaxnn.serial(Dense(8, activation="relu"), Dense(2))
    ts, history = jaxnn.fit(model, (x.astype(jnp.bfloat16), y), loss="softmax_cross_entropy",
                            optimizer="adam", epochs=3, precision="bfloat16", verbose=0)  # fmt: skip
    assert {a.dtype for a in jax.tree.leaves(ts.params)} == {jnp.dtype(jnp.bfloat16)}
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = jaxnn.save_model(tmp_path / "bf16.jaxnn", model, ts, input_shape=(-1, 5))
    loaded = jaxnn.load_model(path)
    assert loaded.fit_kwargs["precision"] == "bfloat16"
    jax.tree.map(np.testing.assert_array_equal, loaded.train_state.params, ts.params)


def test_evaluate_and_predict_default_to_the_policy_fit_trained_with(tmp_path):
    x, y = data()
    model = jaxnn.serial(Dense(16, activation="tanh"), Dense(2))
    ts, _ = jaxnn.fit(model, (x, y), loss="softmax_cross_entropy", metrics=["accuracy"],
                      epochs=2, precision="mixed_float16", verbose=0)  # fmt: skip
    default = jaxnn.evaluate(model, ts, (x, y))
    assert default == jaxnn.evaluate(model, ts, (x, y), precision="mixed_float16")
    assert default["loss"] != jaxnn.evaluate(model, ts, (x, y), precision="float32")["loss"]
    out = jaxnn.predict(model, ts, x)
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(out, jaxnn.predict(model, ts, x, precision="mixed_float16"))
    # ... and the policy travels in the model file, loss scale included, to resume training
    path = jaxnn.save_model(tmp_path / "m.jaxnn", model, ts, input_shape=(-1, 5))
    loaded = jaxnn.load_model(path)
    assert loaded.fit_kwargs["precision"] == "mixed_float16"
    assert isinstance(loaded.train_state.opt_state, precision.LossScaleState)
    assert float(loaded.train_state.opt_state.scale) == float(ts.opt_state.scale)
    resumed, _ = jaxnn.fit(loaded.model, (x, y), initial_state=loaded.train_state, epochs=3,
                           **{k: v for k, v in loaded.fit_kwargs.items() if k != "metrics"},
                           verbose=0)  # fmt: skip
    assert int(resumed.step) > int(ts.step)
