import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import activations
from jaxnn.layers import Activation


def test_activation_by_name_and_by_function(key):
    layer = Activation("ELU")
    assert layer.name == "elu" and layer.config == {
        "type": "Activation",
        "activation": "ELU",
        "name": "elu",
    }
    y, _ = layer.apply({}, {}, jnp.array([[-1.0, 2.0]]))
    np.testing.assert_allclose(y, [[np.expm1(-1.0), 2.0]], rtol=1e-6)
    assert Activation(activations.softsign).name == "softsign"
    assert Activation("relu", name="act").name == "act"
    assert Activation("softmax").init(key, (-1, 10))[0] == (-1, 10)


def test_unknown_activation_lists_known_names():
    with pytest.raises(
        ValueError, match=r"Unknown activation 'sigmod'\. Known activations: .*sigmoid"
    ):
        Activation("sigmod")
