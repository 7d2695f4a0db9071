import pytest

from jaxnn import losses


def test_names_and_keras_spellings():
    assert losses.get("mse") is losses.mse
    assert losses.get("Mean_Squared_Error") is losses.mse
    # Keras names keep Keras' meaning: they take probabilities.
    assert losses.get("binary_crossentropy") is losses.binary_cross_entropy
    assert losses.get("sparse_categorical_crossentropy") is losses.categorical_cross_entropy
    assert losses.get(losses.hinge) is losses.hinge
    for name in losses.names():
        assert callable(losses.get(name))


def test_unknown_name_lists_known_losses():
    with pytest.raises(
        ValueError,
        match=r"Unknown loss 'cross_entropy'\. Known losses: binary_cross_entropy, binary_crossentropy",
    ):
        losses.get("cross_entropy")
    with pytest.raises(
        TypeError, match="loss must be a name such as 'mse' or a callable; got int 1"
    ):
        losses.get(1)
