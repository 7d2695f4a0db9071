import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn.layers import GRU, LSTM, Bidirectional, SimpleRNN


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def np_run(kind, p, x, reverse=False, h0=None, c0=None):
    """Step-by-step NumPy versions of the documented equations; returns all outputs (N, T, U)."""
    w_x, w_h, b = (np.asarray(p[k], np.float64) for k in ("w_x", "w_h", "b"))
    n, t, _ = x.shape
    u = w_h.shape[0]
    h = np.zeros((n, u)) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros((n, u)) if c0 is None else np.asarray(c0, np.float64)
    outs = [None] * t
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


def _params(layer_fn, d=4, units=5):
    _, params, _ = layer_fn(units).init(jax.random.key(1), (-1, 6, d))
    return {k: v + 0.1 * jax.random.normal(jax.random.key(2), v.shape) for k, v in params.items()}


@pytest.mark.parametrize("layer_fn", [SimpleRNN, LSTM, GRU])
def test_initial_state_matches_numpy(layer_fn):
    params = _params(layer_fn)
    x = np.asarray(jax.random.normal(jax.random.key(0), (3, 6, 4)))
    h0 = np.asarray(jax.random.normal(jax.random.key(3), (3, 5)))
    c0 = np.asarray(jax.random.normal(jax.random.key(4), (3, 5)))
    kind = layer_fn.__name__
    state = (h0, c0) if kind == "LSTM" else h0
    expected = np_run(kind, params, x, h0=h0, c0=c0 if kind == "LSTM" else None)
    y, _ = layer_fn(5, return_sequences=True).apply(
        params, {}, {"inputs": jnp.asarray(x), "initial_state": state}
    )
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer_fn", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("reverse", [False, True])
def test_a_mask_makes_padded_sequences_equal_to_the_unpadded_ones(layer_fn, reverse):
    params = _params(layer_fn)
    lengths = [6, 4, 1]
    x = np.asarray(jax.random.normal(jax.random.key(0), (3, 6, 4)))
    x_padded = x.copy()
    for row, n in enumerate(lengths):
        x_padded[row, n:] = 99.0  # junk in the padding must not matter
    mask = np.arange(6)[None, :] < np.array(lengths)[:, None]
    seq = layer_fn(5, return_sequences=True, reverse=reverse)
    out, _ = seq.apply(params, {}, {"inputs": jnp.asarray(x_padded), "mask": mask})
    last, _ = layer_fn(5, reverse=reverse).apply(
        params, {}, {"inputs": jnp.asarray(x_padded), "mask": jnp.asarray(mask)}
    )
    assert set(out) == {"inputs", "mask"}
    for row, n in enumerate(lengths):
        alone = np_run(layer_fn.__name__, params, x[row : row + 1, :n], reverse)[0]
        np.testing.assert_allclose(out["inputs"][row, :n], alone, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(out["inputs"][row, n:], 0.0)
        np.testing.assert_allclose(last[row], alone[0 if reverse else -1], rtol=1e-5, atol=1e-5)


def test_masked_layers_stack_and_bidirectional_takes_a_mask():
    import jaxnn

    model = jaxnn.serial(GRU(4, return_sequences=True), Bidirectional(LSTM, 3))
    spec = {"inputs": (-1, 5, 2), "mask": (-1, 5)}
    shape, params, state = model.init(jax.random.key(0), spec)
    assert shape == (-1, 6)
    x = jax.random.normal(jax.random.key(1), (2, 5, 2))
    mask = jnp.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    y, _ = model.apply(params, state, {"inputs": x, "mask": mask})
    y3, _ = model.apply(params, state, x[:1, :3])  # the first row without its padding
    np.testing.assert_allclose(y[:1], y3, rtol=1e-5, atol=1e-5)
    bi = Bidirectional(GRU, 2)
    _, p, _ = bi.init(jax.random.key(0), (-1, 5, 2))
    h0 = (jnp.ones((2, 2)), -jnp.ones((2, 2)))
    y_state, _ = bi.apply(p, {}, {"inputs": x, "initial_state": h0})
    y_zero, _ = bi.apply(p, {}, x)
    assert not np.allclose(y_state, y_zero)


def test_mask_and_state_errors(key):
    layer = LSTM(3)
    _, params, _ = layer.init(key, (-1, 5, 2))
    x = jnp.ones((2, 5, 2))
    with pytest.raises(
        ValueError,
        match=r"LSTM 'lstm': mask must have shape \(N, T\) = \(2, 5\), one entry per step of x; got \(2, 4\)",
    ):
        layer.apply(params, {}, {"inputs": x, "mask": jnp.ones((2, 4), bool)})
    with pytest.raises(
        ValueError, match=r"initial_state must be a pair \(h, c\) of shape \(2, 3\); got \(2, 3\)"
    ):
        layer.apply(params, {}, {"inputs": x, "initial_state": jnp.ones((2, 3))})
    with pytest.raises(
        ValueError, match=r"GRU 'gru': initial_state must be an array shape \(2, 3\); got \(2, 4\)"
    ):
        GRU(3).apply(
            GRU(3).init(key, (-1, 5, 2))[1], {}, {"inputs": x, "initial_state": jnp.ones((2, 4))}
        )
    with pytest.raises(
        ValueError,
        match=r"a dict input needs 'inputs' and may have 'mask' and 'initial_state'; got keys \['x'\]",
    ):
        layer.apply(params, {}, {"x": x})
    with pytest.raises(
        ValueError, match=r"initial_state must be a pair \(forward_state, backward_state\)"
    ):
        Bidirectional(GRU, 3).init(key, {"inputs": (-1, 5, 2), "initial_state": jnp.ones((2, 3))})
