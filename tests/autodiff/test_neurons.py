import itertools

import numpy as np
import pytest

from jaxnn import data
from jaxnn.autodiff import neurons

TRUTH = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])


def test_mcculloch_pitts_gates_and_xor_with_a_hidden_layer():
    assert neurons.AND(TRUTH).tolist() == [a & b for a, b in TRUTH]
    assert neurons.OR(TRUTH).tolist() == [a | b for a, b in TRUTH]
    assert neurons.NOT([[0], [1]]).tolist() == [1, 0]
    assert neurons.xor_network(TRUTH).tolist() == [a ^ b for a, b in TRUTH]


def test_no_single_threshold_unit_computes_xor():
    # A grid search over weights and thresholds finds AND and OR but never XOR.
    grid = np.linspace(-2, 2, 9)
    found = {"and": False, "or": False, "xor": False}
    for w1, w2, t in itertools.product(grid, grid, grid):
        out = neurons.mcculloch_pitts(TRUTH, [w1, w2], t).tolist()
        found["and"] |= out == [0, 0, 0, 1]
        found["or"] |= out == [0, 1, 1, 1]
        found["xor"] |= out == [0, 1, 1, 0]
    assert found == {"and": True, "or": True, "xor": False}


@pytest.mark.parametrize("labels", [[0, 0, 0, 1], [0, 1, 1, 1], [1, 1, 1, 0]])
def test_perceptron_converges_on_separable_gates(labels):
    p = neurons.perceptron_train(TRUTH, labels)
    assert p.converged and p.errors[-1] == 0 and p.predict(TRUTH).tolist() == labels


def test_perceptron_converges_on_separable_data_and_cycles_on_xor():
    x, y = data.gaussian(200, seed=0)  # two well-separated Gaussians
    p = neurons.perceptron_train(x, y, seed=0)
    assert p.converged and (p.predict(x) == y).all()
    xor = neurons.perceptron_train(TRUTH, [0, 1, 1, 0], epochs=200, seed=1)
    assert not xor.converged and min(xor.errors) >= 1  # every pass makes a mistake
    assert (xor.predict(TRUTH) != np.array([0, 1, 1, 0])).any()


def test_hand_computed_first_update():
    # Start at w = 0, b = 0: sample (1, 1) with label 0 is predicted 1 (0 >= 0), so
    # w <- w - eta * x = (-0.5, -0.5) and b <- -0.5.
    p = neurons.perceptron_train([[1.0, 1.0]], [0], learning_rate=0.5, epochs=1)
    np.testing.assert_allclose(p.weights, [-0.5, -0.5])
    assert p.bias == -0.5 and p.errors == [1]


def test_errors():
    with pytest.raises(ValueError, match=r"perceptron_train: labels must be 0 or 1; got \[-1, 1\]"):
        neurons.perceptron_train(TRUTH, [-1, 1, 1, -1])
    with pytest.raises(
        ValueError, match=r"x must be \(N, D\) and y \(N,\); got \(4, 2\) and \(3,\)"
    ):
        neurons.perceptron_train(TRUTH, [0, 1, 1])
    with pytest.raises(ValueError, match="learning_rate must be > 0; got 0"):
        neurons.perceptron_train(TRUTH, [0, 0, 0, 1], learning_rate=0)
    with pytest.raises(
        ValueError,
        match=r"mcculloch_pitts: x must be \(N, D\) and weights \(D,\); got \(4, 2\) and \(3,\)",
    ):
        neurons.mcculloch_pitts(TRUTH, [1, 1, 1], 1)
