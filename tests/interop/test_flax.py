import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxnn
from jaxnn.interop import from_flax, from_nnx
from jaxnn.layers import Dense

# ------------------------------------------------------------------------------------------------
# flax.linen


class MLP(nn.Module):
    hidden: int = 8
    out: int = 3

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.relu(x)
        x = nn.Dropout(0.5, deterministic=not train)(x)
        return nn.Dense(self.out)(x)


class Noisy(nn.Module):
    """Takes ``deterministic`` (True in evaluation) instead of ``train``."""

    @nn.compact
    def __call__(self, x, deterministic: bool = True):
        return nn.Dropout(0.5)(nn.Dense(4)(x), deterministic=deterministic)


def data(n=6, d=4, seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=(n, d)), jnp.float32)


def test_from_flax_init_maps_collections_and_shapes(key):
    layer = from_flax(MLP(), train_kwarg="train")
    out_shape, params, state = layer.init(key, (-1, 4))
    assert layer.name == "mlp"
    assert out_shape == (-1, 3)
    assert jax.tree.map(jnp.shape, params) == {
        "BatchNorm_0": {"bias": (8,), "scale": (8,)},
        "Dense_0": {"bias": (8,), "kernel": (4, 8)},
        "Dense_1": {"bias": (3,), "kernel": (8, 3)},
    }
    assert jax.tree.map(jnp.shape, state) == {
        "batch_stats": {"BatchNorm_0": {"mean": (8,), "var": (8,)}}
    }
    # plain dicts all the way down, no FrozenDict
    assert all(type(t) is dict for t in (params, params["Dense_0"], state, state["batch_stats"]))
    # a fixed batch stays fixed; an example array works as the shape
    assert layer.init(key, (5, 4))[0] == (5, 3)
    assert layer.init(key, np.zeros((2, 4), np.float32))[0] == (2, 3)


def test_from_flax_eval_matches_module_apply_and_numpy(key):
    module = MLP()
    layer = from_flax(module, train_kwarg="train")
    _, params, state = layer.init(key, (-1, 4))
    # non-trivial running statistics
    stats = state["batch_stats"]["BatchNorm_0"]
    state = {
        "batch_stats": {"BatchNorm_0": {"mean": stats["mean"] + 0.3, "var": stats["var"] * 2.0}}
    }
    x = data()
    y, new_state = layer.apply(params, state, x)
    assert new_state is state
    expected = module.apply({"params": params, **state}, x, train=False)
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    # NumPy: dense, batch norm with running stats (flax epsilon 1e-5), relu, dense
    p = jax.tree.map(np.asarray, params)
    h = np.asarray(x) @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]
    h = (h - np.asarray(stats["mean"] + 0.3)) / np.sqrt(np.asarray(stats["var"] * 2.0) + 1e-5)
    h = np.maximum(h * p["BatchNorm_0"]["scale"] + p["BatchNorm_0"]["bias"], 0.0)
    np.testing.assert_allclose(y, h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"], atol=1e-5)


def test_from_flax_train_matches_module_apply_with_the_same_rngs(key):
    module = MLP()
    layer = from_flax(module, train_kwarg="train")
    _, params, state = layer.init(key, (-1, 4))
    x, step_key = data(), jax.random.key(7)
    y, new_state = layer.apply(params, state, x, key=step_key, train=True)
    expected, updates = module.apply(
        {"params": params, **state},
        x,
        train=True,
        rngs={"dropout": jax.random.fold_in(step_key, 0)},
        mutable=["batch_stats"],
    )
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    jax.tree.map(np.testing.assert_allclose, new_state, dict(updates))
    # the running mean moved 10% of the way to the batch mean (momentum 0.9)
    h = np.asarray(x) @ np.asarray(params["Dense_0"]["kernel"]) + np.asarray(
        params["Dense_0"]["bias"]
    )
    np.testing.assert_allclose(
        new_state["batch_stats"]["BatchNorm_0"]["mean"], 0.1 * h.mean(axis=0), rtol=1e-5, atol=1e-6
    )
    # dropout is on: about half of the hidden units are zeroed, so train differs from eval
    assert not np.allclose(y, layer.apply(params, state, x)[0])
    # the same key gives the same output, another key another one; jit changes nothing
    again = jax.jit(lambda p, s, x, k: layer.apply(p, s, x, key=k, train=True)[0])
    np.testing.assert_allclose(again(params, state, x, step_key), y, rtol=1e-6, atol=1e-6)
    other = layer.apply(params, state, x, key=jax.random.key(8), train=True)[0]
    assert not np.allclose(other, y)


def test_from_flax_deterministic_kwarg_is_inverted(key):
    layer = from_flax(Noisy(), train_kwarg="deterministic")
    _, params, state = layer.init(key, (-1, 3))
    assert state == {}
    x = data(d=3)
    dense = np.asarray(x) @ np.asarray(params["Dense_0"]["kernel"]) + np.asarray(
        params["Dense_0"]["bias"]
    )
    np.testing.assert_allclose(layer.apply(params, state, x)[0], dense, rtol=1e-6, atol=1e-6)
    y, _ = layer.apply(params, state, x, key=jax.random.key(1), train=True)
    kept = np.asarray(y) != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(np.asarray(y)[kept], 2.0 * dense[kept], rtol=1e-5)


def test_from_flax_train_without_key_is_a_clear_error(key):
    layer = from_flax(MLP(), train_kwarg="train")
    _, params, state = layer.init(key, (-1, 4))
    with pytest.raises(ValueError, match=r"from_flax 'mlp': apply\(train=True\) needs a key"):
        layer.apply(params, state, data(), train=True)


def test_from_flax_example_input_sets_the_dtype(key):
    layer = from_flax(nn.Embed(10, 4), np.zeros((1, 5), np.int32), name="embed")
    out_shape, params, _ = layer.init(key, (-1, 5))
    assert out_shape == (-1, 5, 4)
    ids = jnp.array([[1, 2, 3, 0, 9]])
    y, _ = layer.apply(params, {}, ids)
    np.testing.assert_array_equal(y[0], params["embedding"][np.array([1, 2, 3, 0, 9])])


def test_from_flax_bad_arguments():
    with pytest.raises(
        TypeError,
        match="must be a flax.linen Module; got Linear. For a flax.nnx module use from_nnx",
    ):
        from_flax(nnx.Linear(2, 2, rngs=nnx.Rngs(0)))
    with pytest.raises(ValueError, match="rng_collections must not hold 'params'"):
        from_flax(MLP(), rng_collections=("params", "dropout"))
    with pytest.raises(TypeError, match="rng_collections must be a tuple of collection names"):
        from_flax(MLP(), rng_collections="dropout")
    with pytest.raises(TypeError, match="train_kwarg must be the name"):
        from_flax(MLP(), train_kwarg=True)


def classification_problem(n=128):
    x = np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    return x, y


def evaluation_loss(model, ts, x, y):
    """Mean cross-entropy of the trained model in evaluation mode, computed with NumPy."""
    logits = np.asarray(jaxnn.predict(model, ts, x), np.float64)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -log_probs[np.arange(len(y)), y].mean()


def test_from_flax_in_serial_trains_with_fit():
    x, y = classification_problem()
    model = jaxnn.serial(from_flax(MLP(hidden=16, out=8), train_kwarg="train"), jnp.tanh, Dense(2))
    ts, history = jaxnn.fit(
        model, (x, y), loss="softmax_cross_entropy", learning_rate=0.01, epochs=25,
        batch_size=32, verbose=0,
    )  # fmt: skip
    # the training loss is noisy (dropout 0.5); the evaluation loss is not
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert evaluation_loss(model, ts, x, y) < 0.3 < history.history["loss"][0]
    # batch statistics were updated during training
    assert float(jnp.abs(ts.state["mlp"]["batch_stats"]["BatchNorm_0"]["mean"]).max()) > 0.01
    accuracy = (np.asarray(jaxnn.predict(model, ts, x)).argmax(-1) == y).mean()
    assert accuracy > 0.9


# ------------------------------------------------------------------------------------------------
# flax.nnx


class Block(nnx.Module):
    def __init__(self, rngs, *, drop_rate=0.0):
        self.linear = nnx.Linear(4, 6, rngs=rngs)
        self.norm = nnx.BatchNorm(6, momentum=0.9, rngs=rngs)
        self.drop = nnx.Dropout(drop_rate, rngs=rngs)
        self.heads = nnx.List([nnx.Linear(6, 3, rngs=rngs)])

    def __call__(self, x):
        return self.heads[0](self.drop(nnx.relu(self.norm(self.linear(x)))))


def test_from_nnx_init_returns_the_module_values(key):
    module = Block(nnx.Rngs(0))
    layer = from_nnx(module)
    out_shape, params, state = layer.init(key, (-1, 4))
    assert layer.name == "block"
    assert out_shape == (-1, 3)
    assert jax.tree.map(jnp.shape, params) == {
        "heads": {"0": {"bias": (3,), "kernel": (6, 3)}},  # list index as a string key
        "linear": {"bias": (6,), "kernel": (4, 6)},
        "norm": {"bias": (6,), "scale": (6,)},
    }
    assert sorted(state) == ["drop", "norm"]
    assert jax.tree.map(jnp.shape, state["norm"]) == {"mean": (6,), "var": (6,)}
    np.testing.assert_array_equal(params["linear"]["kernel"], module.linear.kernel[...])
    assert layer.init(key, (2, 4))[0] == (2, 3)


def test_from_nnx_eval_and_train_match_the_module(key):
    module = Block(nnx.Rngs(0))  # drop_rate 0: train mode is deterministic
    layer = from_nnx(module)
    _, params, state = layer.init(key, (-1, 4))
    x = data()
    reference = nnx.clone(module)
    reference.eval()
    y, same = layer.apply(params, state, x)
    np.testing.assert_allclose(y, reference(x), rtol=1e-6, atol=1e-6)
    assert same is state

    reference.train()
    expected = reference(x)  # updates reference's batch statistics in place
    y, new_state = layer.apply(params, state, x, key=jax.random.key(1), train=True)
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(new_state["norm"]["mean"], reference.norm.mean[...], rtol=1e-6)
    np.testing.assert_allclose(new_state["norm"]["var"], reference.norm.var[...], rtol=1e-6)
    # momentum 0.9: the running mean moved 10% of the way to the batch mean
    h = np.asarray(x) @ np.asarray(params["linear"]["kernel"]) + np.asarray(
        params["linear"]["bias"]
    )
    np.testing.assert_allclose(
        new_state["norm"]["mean"], 0.1 * h.mean(axis=0), rtol=1e-5, atol=1e-6
    )
    # the wrapped module itself is never changed
    np.testing.assert_array_equal(module.norm.mean[...], np.zeros(6))
    assert module.drop.deterministic is False


def test_from_nnx_dropout_uses_the_key(key):
    layer = from_nnx(Block(nnx.Rngs(0), drop_rate=0.5))
    _, params, state = layer.init(key, (-1, 4))
    x = data(n=16)
    run = jax.jit(lambda k: layer.apply(params, state, x, key=k, train=True))
    y1, new_state = run(jax.random.key(1))
    y2, _ = run(jax.random.key(1))
    y3, _ = run(jax.random.key(2))
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(y1, y3)
    # random streams in the state are returned as they were; the statistics moved
    np.testing.assert_array_equal(
        jax.random.key_data(new_state["drop"]["rngs"]["key"]),
        jax.random.key_data(state["drop"]["rngs"]["key"]),
    )
    assert int(new_state["drop"]["rngs"]["count"]) == int(state["drop"]["rngs"]["count"])
    assert not np.allclose(new_state["norm"]["mean"], state["norm"]["mean"])
    with pytest.raises(ValueError, match=r"from_nnx 'block': apply\(train=True\) needs a key"):
        layer.apply(params, state, x, train=True)


def test_from_nnx_two_dropouts_draw_different_masks(key):
    class Two(nnx.Module):
        def __init__(self, rngs):
            self.a = nnx.Dropout(0.5, rngs=rngs)
            self.b = nnx.Dropout(0.5, rngs=rngs)

        def __call__(self, x):
            return jnp.stack([self.a(x), self.b(x)])

    layer = from_nnx(Two(nnx.Rngs(0)))
    _, params, state = layer.init(key, (-1, 64))
    y, _ = layer.apply(params, state, jnp.ones((1, 64)), key=jax.random.key(3), train=True)
    assert set(np.unique(np.asarray(y)).tolist()) == {0.0, 2.0}
    assert not np.array_equal(y[0], y[1])


def test_from_nnx_errors(key):
    layer = from_nnx(Block(nnx.Rngs(0)))
    _, params, state = layer.init(key, (-1, 4))
    with pytest.raises(
        ValueError,
        match=r"from_nnx 'block': params: must be a dict with the module's variables \[.*'linear/kernel'.*\]; got \['linear'\]",
    ):
        layer.apply({"linear": params["linear"]["kernel"]}, state, data())
    with pytest.raises(
        TypeError, match="must be a flax.nnx Module; got MLP. For a flax.linen module use from_flax"
    ):
        from_nnx(MLP())


def test_from_nnx_in_serial_trains_with_fit():
    x, y = classification_problem()
    model = jaxnn.serial(from_nnx(Block(nnx.Rngs(0), drop_rate=0.1)), jnp.tanh, Dense(2))
    ts, history = jaxnn.fit(
        model, (x, y), loss="softmax_cross_entropy", learning_rate=0.01, epochs=25,
        batch_size=32, verbose=0,
    )  # fmt: skip
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert evaluation_loss(model, ts, x, y) < 0.3 < history.history["loss"][0]
    assert float(jnp.abs(ts.state["block"]["norm"]["mean"]).max()) > 0.01
    accuracy = (np.asarray(jaxnn.predict(model, ts, x)).argmax(-1) == y).mean()
    assert accuracy > 0.9


def test_import_jaxnn_does_not_import_flax():
    # Flax costs a quarter of a second at start-up; only from_flax / from_nnx need it.
    import subprocess
    import sys

    code = (
        "import sys, jaxnn; before = 'flax' in sys.modules; "
        "from jaxnn.interop import from_nnx; print(before, 'flax' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
