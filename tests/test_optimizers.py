import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn import optimizers
from jaxnn.layers import Dense

PARAMS = {
    "body": {"w": jnp.array([[0.5, -0.0]]), "b": jnp.array([0.1])},
    "head": {"w": jnp.array([[1.0], [2.0]])},
}
GRADS = jax.tree.map(lambda p: jnp.full_like(p, 0.3), PARAMS)


def run(opt, steps=3):
    state = opt.init(PARAMS)
    params = PARAMS
    for _ in range(steps):
        updates, state = opt.update(GRADS, state, params)
        params = optax.apply_updates(params, updates)
    return params


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("sgd", optax.sgd(0.01)),
        ("momentum", optax.sgd(0.01, momentum=0.9)),
        ("nesterov", optax.sgd(0.01, momentum=0.9, nesterov=True)),
        ("adam", optax.adam(1e-3)),
        ("adamw", optax.adamw(1e-3, weight_decay=1e-4)),
        ("rmsprop", optax.rmsprop(1e-3)),
        ("adagrad", optax.adagrad(1e-3)),
    ],
)
def test_names_build_the_optax_optimizer_with_default_rates(name, reference):
    jax.tree.map(np.testing.assert_array_equal, run(optimizers.get(name)), run(reference))


def test_learning_rate_schedule_and_options():
    schedule = optax.exponential_decay(0.1, transition_steps=1, decay_rate=0.5)
    jax.tree.map(
        np.testing.assert_array_equal,
        run(optimizers.get("sgd", schedule)),
        run(optax.sgd(schedule)),
    )
    jax.tree.map(
        np.testing.assert_array_equal,
        run(optimizers.get("adam", 0.1, b1=0.5)),
        run(optax.adam(0.1, b1=0.5)),
    )
    opt = optax.sgd(0.2)
    assert optimizers.get(opt) is opt


def test_gradient_clipping():
    big = jax.tree.map(lambda p: jnp.full_like(p, 10.0), PARAMS)
    opt = optimizers.get("sgd", 1.0, clip_norm=1.0)
    updates, _ = opt.update(big, opt.init(PARAMS), PARAMS)
    norm = np.sqrt(sum(float(jnp.sum(u**2)) for u in jax.tree.leaves(updates)))
    np.testing.assert_allclose(norm, 1.0, rtol=1e-6)
    opt = optimizers.get("sgd", 1.0, clip_value=0.5)
    updates, _ = opt.update(big, opt.init(PARAMS), PARAMS)
    assert all(np.all(np.asarray(u) == -0.5) for u in jax.tree.leaves(updates))


def test_freeze_gives_zero_updates_and_no_state_to_frozen_paths():
    opt = optimizers.freeze(optimizers.get("adam", 0.1), ["body/*"])
    updates, _ = opt.update(GRADS, opt.init(PARAMS), PARAMS)
    assert all(np.all(np.asarray(u) == 0) for u in jax.tree.leaves(updates["body"]))
    assert np.all(np.asarray(updates["head"]["w"]) != 0)
    assert optimizers.frozen_mask(PARAMS, [("head", "w")]) == {
        "body": {"b": False, "w": False},
        "head": {"w": True},
    }
    assert optimizers.freeze(opt, []) is opt


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"Unknown optimizer 'adamm'\. Known optimizers: adadelta, adagrad, adam, adamax, adamw",
    ):
        optimizers.get("adamm")
    with pytest.raises(
        ValueError, match="learning_rate must be a finite number > 0 or an Optax schedule; got 0"
    ):
        optimizers.get("sgd", 0)
    for rate in (float("inf"), float("nan"), -float("inf"), "0.1", True):
        with pytest.raises(ValueError, match=rf"learning_rate must be a finite .*got {rate!r}"):
            optimizers.get("adam", rate)
    with pytest.raises(ValueError, match="learning_rate must be a finite .*got inf"):
        jaxnn.fit(Dense(1), (np.ones((4, 2)), np.ones((4, 1))), loss="mse", learning_rate=np.inf)
    assert isinstance(optimizers.get("sgd", jnp.asarray(0.5)), optax.GradientTransformation)
    with pytest.raises(ValueError, match=r"learning_rate: the schedule .* gives .*nan.* at step 0"):
        optimizers.get("sgd", optax.constant_schedule(float("nan")))
    assert isinstance(
        optimizers.get("sgd", optax.warmup_cosine_decay_schedule(0.0, 0.1, 5, 50)),
        optax.GradientTransformation,
    )
    with pytest.raises(ValueError, match="optimizer is already an optax.GradientTransformation"):
        optimizers.get(optax.sgd(0.1), 0.1)
    with pytest.raises(ValueError, match="clip_norm must be a finite number > 0; got inf"):
        optimizers.get("sgd", clip_norm=float("inf"))
    with pytest.raises(ValueError, match="clip_norm must be a finite number > 0; got -1"):
        optimizers.get("sgd", clip_norm=-1)
    with pytest.raises(
        ValueError,
        match=r"freeze: pattern 'encoder/\*' matches no parameter; the parameter paths are \['body/b', 'body/w', 'head/w'\]",
    ):
        optimizers.freeze(optax.sgd(0.1), ["encoder/*"]).init(PARAMS)
    with pytest.raises(
        TypeError, match="optimizer must be a name such as 'adam' or an optax optimizer; got int 3"
    ):
        optimizers.get(3)
