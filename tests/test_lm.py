"""The character transformer and its sampling: the cache reproduces ``model.apply``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.layers import Dense, TransformerBlock
from jaxnn.lm import _choose, cached_logits, char_transformer, make_sampler, sample

V, L = 12, 16
KINDS = {
    "learned": {},
    "sinusoidal": {"positions": "sinusoidal"},
    "rope": {"rope": True},
}


@pytest.fixture(scope="module", params=sorted(KINDS))
def built(request):
    """A tiny model of each position kind with its params (two blocks, dropout for the tree)."""
    model = char_transformer(
        V, max_length=L, width=16, num_heads=2, layers=2, dropout=0.1, **KINDS[request.param]
    )
    _, params, state = model.init(jax.random.key(0), (-1, L))
    # Non-zero biases, so a bias the cache forgot would show.
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    leaves = [a + 0.05 * jax.random.normal(k, a.shape) for a, k in zip(leaves, keys, strict=True)]
    return request.param, model, jax.tree.unflatten(tree, leaves), state


def _ids(n, t, seed=0):
    return jnp.asarray(np.random.default_rng(seed).integers(0, V, (n, t)), jnp.int32)


def test_char_transformer_layers_and_shapes():
    model = char_transformer(V, max_length=L, width=8, num_heads=2, layers=3)
    out_shape, params, _ = model.init(jax.random.key(0), (-1, 10))
    assert out_shape == (-1, 10, V)
    assert [c["type"] for c in model.config["layers"]] == [
        "Embedding", "PositionalEmbedding", *["TransformerBlock"] * 3, "LayerNorm", "Dense",
    ]  # fmt: skip
    assert all(c["causal"] for c in model.config["layers"][2:5])
    assert params["positions"]["table"].shape == (L, 8)
    rope = char_transformer(V, width=8, num_heads=2, layers=1, rope=True)
    assert "positions" not in rope.init(jax.random.key(0), (-1, 300))[1]  # any length fits


@pytest.mark.parametrize("prefill", [0, 5])
def test_cached_logits_equal_apply_at_every_position(built, prefill):
    _, model, params, state = built
    ids = _ids(2, 9)
    full = model.apply(params, state, ids)[0]
    cached = cached_logits(model, params, ids, prefill=prefill)
    assert cached.shape == (2, 9, V)
    np.testing.assert_allclose(cached, full, atol=1e-5, rtol=1e-5)


def test_greedy_with_cache_equals_greedy_without(built):
    _, model, params, state = built
    prompt = _ids(2, 3, seed=1)
    got = [
        sample(
            model,
            params,
            state,
            prompt,
            steps=10,
            key=jax.random.key(0),
            temperature=0.0,
            use_cache=c,
        )  # fmt: skip
        for c in (True, False)
    ]
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_array_equal(got[0][:, :3], prompt)
    # Greedy: each new token is the argmax of the full model's logits at the position before it.
    logits = model.apply(params, state, got[0])[0]
    np.testing.assert_array_equal(got[0][:, 3:], jnp.argmax(logits[:, 2:-1], axis=-1))


def test_top_k_one_is_greedy_and_temperature_draws_repeat_with_the_key(built):
    _, model, params, state = built
    prompt, k = _ids(1, 2, seed=2), jax.random.key(3)
    greedy = sample(model, params, state, prompt, steps=12, key=k, temperature=0.0)
    top1 = sample(model, params, state, prompt, steps=12, key=k, temperature=1.5, top_k=1)
    np.testing.assert_array_equal(top1, greedy)
    a, b, c, d = (
        sample(model, params, state, prompt, steps=12, key=key, temperature=2.0, use_cache=cache)
        for key, cache in ((k, True), (k, True), (k, False), (jax.random.key(4), True))
    )
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)  # the same draws with or without the cache
    assert not np.array_equal(a, d)


def test_top_k_draws_only_among_the_k_largest_logits(built):
    _, model, params, state = built
    out = sample(model, params, state, _ids(3, 2), steps=12, key=jax.random.key(5), top_k=3,
                 temperature=3.0)  # fmt: skip
    logits = np.asarray(model.apply(params, state, out)[0])[:, 1:-1]
    tokens = np.asarray(out)[:, 2:]
    rank = (logits > np.take_along_axis(logits, tokens[..., None], -1)).sum(-1)
    assert rank.max() < 3 and rank.max() > 0  # some draws are not the argmax


def test_choose_follows_softmax_over_the_top_k():
    # top_k=2 of logits (0, 1, 2, 3) at temperature 1: P(3) = e^3 / (e^2 + e^3) = 0.7311.
    logits = jnp.tile(jnp.arange(4.0)[None], (4000, 1))
    ids = _choose(logits, jax.random.key(0), 1.0, 2)
    assert set(np.unique(ids).tolist()) == {2, 3}
    assert abs(float(jnp.mean(ids == 3)) - 0.7311) < 0.03
    # temperature 2: P(3) = e^1.5 / (e^1 + e^1.5) = 0.6225.
    hot = _choose(logits, jax.random.key(1), 2.0, 2)
    assert abs(float(jnp.mean(hot == 3)) - 0.6225) < 0.03


def test_sampler_compiles_once_and_one_dimensional_prompts(built):
    _, model, params, state = built
    generate = make_sampler(model, steps=4, temperature=0.0)
    one = generate(params, state, jnp.array([1, 2]), jax.random.key(0))
    two = generate(params, state, jnp.array([[1, 2]]), jax.random.key(0))
    assert one.shape == (6,) and two.shape == (1, 6)
    np.testing.assert_array_equal(one, two[0])


def test_saved_and_loaded_model_samples_the_same(built, tmp_path):
    _, model, params, state = built
    ts = jaxnn.TrainState.create(model, jax.random.key(0), (-1, L), jaxnn.optimizers.get("adam"))
    ts = ts._replace(params=params)
    path = jaxnn.save_model(tmp_path / "lm.jaxnn", model, ts, input_shape=(-1, L))
    saved = jaxnn.load_model(path)
    prompt = _ids(1, 3, seed=7)
    before = sample(model, params, state, prompt, steps=6, key=jax.random.key(0), top_k=4)
    after = sample(saved.model, saved.train_state.params, saved.train_state.state, prompt,
                   steps=6, key=jax.random.key(0), top_k=4)  # fmt: skip
    np.testing.assert_array_equal(before, after)


@pytest.fixture(scope="module")
def small():
    model = char_transformer(V, max_length=8, width=8, num_heads=2, layers=1)
    _, params, state = model.init(jax.random.key(0), (-1, 8))
    return model, params, state


@pytest.mark.parametrize(
    ("prompt", "options", "error", "match"),
    [
        (jnp.zeros((1, 9), jnp.int32), {"steps": 1}, ValueError, r"9 tokens.*max_length = 8"),
        (jnp.zeros((1, 5), jnp.int32), {"steps": 4}, ValueError, r"= 9 positions.*steps <= 3"),
        (jnp.zeros((1, 2), jnp.int32), {"steps": 0}, ValueError, "steps must be >= 1"),
        (jnp.zeros((1, 2), jnp.int32), {"steps": 2, "temperature": -1.0}, ValueError, ">= 0"),
        (
            jnp.zeros((1, 2), jnp.int32),
            {"steps": 2, "temperature": float("nan")},
            ValueError,
            "finite",
        ),  # fmt: skip
        (jnp.zeros((1, 2), jnp.int32), {"steps": 2, "temperature": "hot"}, TypeError, "number"),
        (jnp.zeros((1, 2), jnp.int32), {"steps": 2, "top_k": 0}, ValueError, "top_k must be"),
        (
            jnp.zeros((1, 2), jnp.int32),
            {"steps": 2, "top_k": V + 1},
            ValueError,
            f"at most the vocabulary, {V}",
        ),  # fmt: skip
        (jnp.zeros((1, 2)), {"steps": 2}, ValueError, "integer ids of shape"),
        (jnp.zeros((1, 0), jnp.int32), {"steps": 2}, ValueError, "P >= 1"),
        (
            jnp.array([[1, V]]),
            {"steps": 2},
            ValueError,
            r"prompt_ids must be class ids in \[0, 12\)",
        ),
    ],
)
def test_sample_errors(small, prompt, options, error, match):
    model, params, state = small
    with pytest.raises(error, match=match):
        sample(model, params, state, prompt, key=jax.random.key(0), **options)


def test_models_the_cache_cannot_decode_are_refused():
    with pytest.raises(ValueError, match=r"must be serial\(Embedding.*got layer types"):
        make_sampler(jaxnn.serial(Dense(4), Dense(3), Dense(2)), steps=2)
    with pytest.raises(ValueError, match=r"must be serial\(Embedding"):
        make_sampler(Dense(4), steps=2)
    bidirectional = jaxnn.serial(
        jaxnn.layers.Embedding(V, 8), TransformerBlock(2), jaxnn.layers.LayerNorm(), Dense(V)
    )
    with pytest.raises(ValueError, match="causal=False.*needs causal=True"):
        make_sampler(bidirectional, steps=2)


def test_cached_logits_prefill_out_of_range(small):
    model, params, _ = small
    with pytest.raises(ValueError, match=r"prefill must be an int in \[0, 3\]"):
        cached_logits(model, params, jnp.zeros((1, 3), jnp.int32), prefill=4)
