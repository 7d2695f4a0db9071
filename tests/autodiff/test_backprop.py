"""Three-way agreement: hand-written backprop, jax.grad and finite differences."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import activations as jaxnn_activations
from jaxnn import autodiff
from jaxnn.autodiff.backprop import LOSSES, compare, loss_and_grads, mlp_backward, mlp_forward

ACTIVATIONS = sorted(autodiff.RULES)
LOSS_NAMES = sorted(LOSSES)


def network(dtype, loss, seed=0):
    """A 3-5-4-K MLP with inputs away from every kink (0 for relu, +-3 for hard_sigmoid, 6 for relu6)."""
    key = jax.random.key(seed)
    k = 3 if loss == "softmax_cross_entropy" else 2
    sizes = [3, 5, 4, k]
    params = [
        {
            "w": (jax.random.normal(jax.random.fold_in(key, 2 * i), (a, b)) / np.sqrt(a)).astype(
                dtype
            ),
            "b": (0.3 * jax.random.normal(jax.random.fold_in(key, 2 * i + 1), (b,))).astype(dtype),
        }
        for i, (a, b) in enumerate(itertools.pairwise(sizes))
    ]
    x = jax.random.normal(jax.random.fold_in(key, 50), (6, 3)).astype(dtype)
    if loss == "softmax_cross_entropy":
        target = jnp.array([0, 1, 2, 1, 0, 2])
    elif loss == "binary_cross_entropy":
        target = (jax.random.uniform(jax.random.fold_in(key, 51), (6, k)) > 0.5).astype(dtype)
    else:
        target = jax.random.normal(jax.random.fold_in(key, 51), (6, k)).astype(dtype)
    return params, x, target


KINKS = {
    "relu": [0.0], "relu6": [0.0, 6.0], "leaky_relu": [0.0], "hard_sigmoid": [-3.0, 3.0],
    "heaviside": [0.0], "sign": [0.0], "elu": [0.0], "selu": [0.0],
}  # fmt: skip


def pre_activations_away_from_kinks(params, x, acts):
    """Finite differences are only meaningful where the activation is differentiable."""
    _, cache = mlp_forward(params, x, acts)
    for (_, z, _), act in zip(cache, acts, strict=True):
        kinks = np.array(KINKS.get(act, [np.inf]))
        if np.min(np.abs(np.asarray(z).ravel()[:, None] - kinks[None, :])) < 1e-3:
            return False
    return True


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_three_way_agreement_float64(activation, loss):
    # The activation under test in both hidden layers; identity on the output (losses take logits).
    acts = [activation, activation, "identity"]
    with jax.enable_x64(True):
        params, x, target = network(jnp.float64, loss)
        assert pre_activations_away_from_kinks(params, x, acts)
        rows = compare(params, x, target, acts, loss, epsilon=1e-6)
    # Hand-written backprop against jax.grad: 1e-10 relative in float64.
    assert max(r.hand_rel for r in rows) < 1e-10, rows
    # Central differences against jax.grad: O(eps^2) + rounding / eps, about 1e-8 here.
    tolerance = 1e-5 if loss == "mae" else 1e-6  # MAE's kink is in the loss itself
    assert max(r.fd_abs for r in rows) < tolerance, rows


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hand_written_equals_jax_grad_in_float32(activation, loss):
    acts = [activation, activation, "identity"]
    params, x, target = network(jnp.float32, loss)
    _, hand = loss_and_grads(params, x, target, acts, loss)
    from jaxnn.autodiff.backprop import _reference_loss

    reference = jax.grad(_reference_loss)(params, x, target, acts, loss)
    # 1e-6 relative in float32, relative to the scale of the network's gradient (its largest
    # entry): single entries that cancel (a bias summed over samples) carry float32 rounding of
    # ~1e-8 absolute whatever their own size.
    scale = max(float(jnp.max(jnp.abs(leaf))) for leaf in jax.tree.leaves(reference))
    for h, r in zip(hand, reference, strict=True):
        for key in ("w", "b"):
            assert float(jnp.max(jnp.abs(h[key] - r[key]))) <= 1e-6 * max(scale, 1e-30)


def test_softmax_and_log_softmax_as_hidden_activations_use_their_jacobians():
    with jax.enable_x64(True):
        params, x, target = network(jnp.float64, "mse")
        for act in ("softmax", "log_softmax"):
            rows = compare(params, x, target, [act, "tanh", "identity"], "mse")
            assert max(r.hand_rel for r in rows) < 1e-10


def test_every_activation_rule_matches_jaxnn_activation_forward():
    x = jnp.linspace(-4.3, 7.1, 29).reshape(1, -1)
    for name, (forward, _) in autodiff.RULES.items():
        np.testing.assert_allclose(forward(x), jaxnn_activations.get(name)(x), rtol=2e-6, atol=2e-7)


def test_step_activations_pass_no_gradient():
    params, x, target = network(jnp.float32, "mse")
    for act in ("heaviside", "sign"):
        _, grads = loss_and_grads(params, x, target, [act, "tanh", "identity"], "mse")
        assert float(jnp.abs(grads[0]["w"]).max()) == 0.0  # nothing reaches the first layer


def test_backward_of_identity_layer_by_hand():
    params = [{"w": jnp.array([[2.0]]), "b": jnp.array([0.5])}]
    _, cache = mlp_forward(params, jnp.array([[3.0], [1.0]]), ["identity"])
    grads = mlp_backward(params, cache, jnp.array([[1.0], [1.0]]), ["identity"])
    np.testing.assert_allclose(grads[0]["w"], [[4.0]])  # sum of inputs
    np.testing.assert_allclose(grads[0]["b"], [2.0])


def test_command_prints_the_table(capsys):
    from jaxnn.autodiff.__main__ import main

    main()
    lines = capsys.readouterr().out.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("parameter"))) + 1 :]
    assert [line.split()[0] + " " + line.split()[1] + " " + line.split()[2] for line in table] == [
        f"layer {i} {k}" for i in range(3) for k in ("w", "b")
    ]
    for line in table:
        hand_rel, fd_rel = float(line.split()[-3]), float(line.split()[-1])
        assert hand_rel < 1e-12 and fd_rel < 1e-5
        assert "e-" in line.split()[-1]  # scientific notation


def test_errors():
    params, x, target = network(jnp.float32, "mse")
    acts = ["tanh", "tanh", "identity"]
    bad = [dict(params[0]), {"w": jnp.ones((4, 4)), "b": jnp.ones(4)}, params[2]]
    with pytest.raises(
        ValueError,
        match=r"the params do not form an MLP: layer 0 gives 5 features but layer 1's w expects 4",
    ):
        loss_and_grads(bad, x, target, acts, "mse")
    with pytest.raises(
        ValueError,
        match=r"no hand-written derivative for activation 'swish'; those with one are arctan, arsinh, elu",
    ):
        loss_and_grads(params, x, target, ["swish", "tanh", "identity"], "mse")
    with pytest.raises(ValueError, match=r"give one activation per layer \(3\); got 2"):
        loss_and_grads(params, x, target, ["tanh", "identity"], "mse")
    with pytest.raises(
        ValueError,
        match=r"softmax_cross_entropy needs integer labels of shape \(6,\) for outputs \(6, 2\); got float32",
    ):
        loss_and_grads(params, x, target, acts, "softmax_cross_entropy")
    with pytest.raises(
        ValueError, match=r"mse needs targets of the output's shape \(6, 2\); got \(6,\)"
    ):
        loss_and_grads(params, x, target[:, 0], acts, "mse")
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'; the hand-written ones are"):
        loss_and_grads(params, x, target, acts, "hinge")
    with pytest.raises(
        ValueError, match=r"layer 0 must be \{'w': \(D_in, D_out\), 'b': \(D_out,\)\}"
    ):
        loss_and_grads([{"w": jnp.ones(3)}], x, target, ["tanh"], "mse")
