import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.layers import GRU, LSTM, Bidirectional, SimpleRNN


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def np_run(kind, p, x, reverse=False):
    """Step-by-step NumPy versions of the documented equations; returns all outputs (N, T, U)."""
    w_x, w_h, b = (np.asarray(p[k], np.float64) for k in ("w_x", "w_h", "b"))
    n, t, _ = x.shape
    u = w_h.shape[0]
    h, c, outs = np.zeros((n, u)), np.zeros((n, u)), [None] * t
    for step in reversed(range(t)) if reverse else range(t):
        xt = x[:, step]
        if kind == "SimpleRNN":
            h = np.tanh(xt @ w_x + h @ w_h + b)
        elif kind == "LSTM":
            gates = xt @ w_x + h @ w_h + b
            i, f, g, o = (gates[:, k * u : (k + 1) * u] for k in range(4))
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        else:
            gx = xt @ w_x + b
            z = sigmoid(gx[:, :u] + h @ w_h[:, :u])
            r = sigmoid(gx[:, u : 2 * u] + h @ w_h[:, u : 2 * u])
            cand = np.tanh(gx[:, 2 * u :] + (r * h) @ w_h[:, 2 * u :])
            h = z * h + (1 - z) * cand
        outs[step] = h
    return np.stack(outs, axis=1)


@pytest.mark.parametrize("layer_fn", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("reverse", [False, True])
def test_matches_step_by_step_numpy(layer_fn, reverse):
    x = np.asarray(jax.random.normal(jax.random.key(0), (3, 6, 4)))
    seq = layer_fn(5, return_sequences=True, reverse=reverse)
    shape, params, _ = seq.init(jax.random.key(1), (-1, 6, 4))
    params = {k: v + 0.1 * jax.random.normal(jax.random.key(2), v.shape) for k, v in params.items()}
    expected = np_run(layer_fn.__name__, params, x, reverse)
    y, _ = seq.apply(params, {}, jnp.asarray(x))
    assert shape == (-1, 6, 5)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    last, _ = layer_fn(5, reverse=reverse).apply(params, {}, jnp.asarray(x))
    np.testing.assert_allclose(last, expected[:, 0 if reverse else -1], rtol=1e-5, atol=1e-5)


def test_lstm_forget_bias_starts_at_one_and_gate_layout():
    _, params, _ = LSTM(3).init(jax.random.key(0), (-1, 2, 4))
    assert params["w_x"].shape == (4, 12) and params["w_h"].shape == (3, 12)
    np.testing.assert_array_equal(params["b"], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])


def test_bidirectional_concatenates_both_directions():
    layer = Bidirectional(GRU, 3, return_sequences=True)
    shape, params, state = layer.init(jax.random.key(0), (-1, 5, 2))
    assert shape == (-1, 5, 6) and set(params) == {"forward", "backward"}
    x = np.asarray(jax.random.normal(jax.random.key(1), (2, 5, 2)))
    y, _ = layer.apply(params, state, jnp.asarray(x))
    np.testing.assert_allclose(
        y[..., :3], np_run("GRU", params["forward"], x), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        y[..., 3:], np_run("GRU", params["backward"], x, reverse=True), rtol=1e-5, atol=1e-5
    )


def test_errors(key):
    with pytest.raises(
        ValueError,
        match=r"LSTM 'lstm': input_shape must be \(N, T, D\) with a batch axis and a known D; got \(-1, 8\)",
    ):
        LSTM(4).init(key, (-1, 8))
    _, params, _ = GRU(4).init(key, (-1, 5, 3))
    with pytest.raises(
        ValueError, match=r"GRU 'gru': x must have shape \(N, T, 3\); got \(2, 5, 2\)"
    ):
        GRU(4).apply(params, {}, jnp.ones((2, 5, 2)))
