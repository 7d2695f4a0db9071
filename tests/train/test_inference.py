import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxnn
from jaxnn import losses, metrics
from jaxnn.layers import BatchNorm, Dense, Dropout
from jaxnn.train import TrainState

MODEL = jaxnn.serial(Dense(8), jnp.tanh, BatchNorm(), Dropout(0.5), Dense(3))
RNG = np.random.default_rng(0)
X = RNG.normal(size=(103, 4)).astype(np.float32)
Y = RNG.integers(0, 3, size=103).astype(np.int32)
W = RNG.uniform(0, 2, size=103).astype(np.float32)
TS = TrainState.create(MODEL, jax.random.key(0), (-1, 4), optax.sgd(0.1))


def one_big_call():
    logits, _ = MODEL.apply(TS.params, TS.state, jnp.asarray(X), train=False)
    return logits


@pytest.mark.parametrize("batch_size", [1, 10, 32, 103])
@pytest.mark.parametrize("data_on_device", [True, False])
def test_evaluate_equals_one_big_call(batch_size, data_on_device):
    logits = one_big_call()
    got = jaxnn.evaluate(
        MODEL,
        TS,
        (X, Y, W),
        loss="softmax_cross_entropy",
        metrics=["accuracy", "f1_score"],
        batch_size=batch_size,
        data_on_device=data_on_device,
    )
    np.testing.assert_allclose(
        got["loss"], losses.softmax_cross_entropy(logits, Y, sample_weight=W), rtol=2e-6
    )
    np.testing.assert_allclose(
        got["accuracy"], metrics.accuracy(logits, Y, sample_weight=W), rtol=1e-6
    )
    np.testing.assert_allclose(
        got["f1_score"], metrics.f1_score(logits, Y, sample_weight=W), rtol=1e-6
    )
    assert isinstance(got["loss"], float)


@pytest.mark.parametrize("batch_size", [7, 103, 500])
def test_predict_equals_one_big_call(batch_size, recwarn):
    for on_device in (True, False):
        out = jaxnn.predict(MODEL, TS, X, batch_size=batch_size, data_on_device=on_device)
        assert out.shape == (103, 3)
        np.testing.assert_allclose(out, one_big_call(), rtol=1e-6, atol=1e-6)


def test_evaluate_metrics_only_and_errors():
    got = jaxnn.evaluate(MODEL, TS, (X, Y), metrics=["accuracy"])
    assert list(got) == ["accuracy"]
    with pytest.raises(ValueError, match="evaluate: give loss=, metrics= or both"):
        jaxnn.evaluate(MODEL, TS, (X, Y))
    with pytest.raises(
        ValueError, match="predict: x has NaN or Inf in 1 of 103 rows; the first is row 5"
    ):
        jaxnn.predict(MODEL, TS, np.where(np.arange(103)[:, None] == 5, np.nan, X))
    with pytest.raises(ValueError, match="data_on_device must be 'auto', True or False; got 'yes'"):
        jaxnn.predict(MODEL, TS, X, data_on_device="yes")
