import jax.numpy as jnp
import pytest

from jaxnn import demo


def test_xor_demo_reaches_full_accuracy_and_low_loss():
    params, state, log = demo.train_xor(steps=300)
    steps, loss, acc = log[-1]
    assert steps == 300 and acc == 1.0 and loss < 0.05
    assert log[0][1] > loss  # the loss fell


def test_train_step_compiles_once():
    import optax

    model = demo.xor_model()
    _, params, state = model.init(__import__("jax").random.key(0), demo.XOR_X.shape)
    optimizer = optax.sgd(0.1)
    step = demo._make_step(model, state, optimizer)
    opt_state = optimizer.init(params)
    params, opt_state, _ = step(params, opt_state, demo.XOR_X, demo.XOR_Y)
    params, opt_state, _ = step(params, opt_state, demo.XOR_X, demo.XOR_Y)
    assert step._cache_size() == 1


def test_main_trains_the_digits_to_95_percent(capsys):
    demo.main(["--no-compilation-cache"])  # the cache is a global setting: not in the test run
    out = capsys.readouterr().out
    assert "Epoch 40/40" in out
    accuracy = float(out.split("test accuracy ")[1].split(",")[0])
    assert accuracy >= 0.95
    assert "training samples/s" in out
    assert "(compilation cache: off)" in out


@pytest.mark.parametrize("seed", [1, 2])
def test_other_seeds_also_solve_xor(seed):
    _, _, log = demo.train_xor(steps=500, seed=seed)
    assert log[-1][2] == 1.0
    assert float(jnp.asarray(log[-1][1])) < 0.05
