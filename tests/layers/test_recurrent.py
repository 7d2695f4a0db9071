import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.layers import GRU, LSTM, Bidirectional, SimpleRNN
from tests.conftest import check_fn_grads, check_layer_grads


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def np_run(kind, p, x, reverse=False, h0=None, c0=None, states=False):
    """Step-by-step NumPy versions of the documented equations.

    Returns all outputs (N, T, U), or with ``states=True`` also the final ``h`` and ``c``. A GRU
    whose params hold ``b_h`` is the ``reset_after=True`` form.
    """
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
        elif "b_h" in p:  # reset after the recurrent product, with a recurrent bias
            gx = xt @ w_x + b
            gh = h @ w_h + np.asarray(p["b_h"], np.float64)
            z = sigmoid(gx[:, :u] + gh[:, :u])
            r = sigmoid(gx[:, u : 2 * u] + gh[:, u : 2 * u])
            cand = np.tanh(gx[:, 2 * u :] + r * gh[:, 2 * u :])
            h = z * h + (1 - z) * cand
        else:
            gx = xt @ w_x + b
            z = sigmoid(gx[:, :u] + h @ w_h[:, :u])
            r = sigmoid(gx[:, u : 2 * u] + h @ w_h[:, u : 2 * u])
            cand = np.tanh(gx[:, 2 * u :] + (r * h) @ w_h[:, 2 * u :])
            h = z * h + (1 - z) * cand
        outs[step] = h
    ys = np.stack(outs, axis=1) if t else np.zeros((n, 0, u))
    return (ys, h, c) if states else ys


def perturbed(params, scale=0.1):
    """Params plus noise, so that zero biases do not hide a wrong term."""
    return {
        k: v + scale * jax.random.normal(jax.random.fold_in(jax.random.key(2), i), v.shape)
        for i, (k, v) in enumerate(sorted(params.items()))
    }


def concrete(shape_tree, n):
    """Replaces -1 by ``n`` in every shape of a pytree of shapes."""
    return jax.tree.map(
        lambda s: tuple(n if d == -1 else d for d in s),
        shape_tree,
        is_leaf=lambda s: isinstance(s, tuple) and all(isinstance(d, int) for d in s),
    )


RECURRENT = [SimpleRNN, LSTM, GRU, lambda units, **kw: GRU(units, reset_after=False, **kw)]
RECURRENT_IDS = ["SimpleRNN", "LSTM", "GRU", "GRU_reset_before"]


def kind_of(layer_fn):
    return layer_fn(1).config["type"]


@pytest.mark.parametrize("layer_fn", RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("reverse", [False, True])
def test_matches_step_by_step_numpy(layer_fn, reverse):
    x = np.asarray(jax.random.normal(jax.random.key(0), (3, 6, 4)))
    seq = layer_fn(5, return_sequences=True, reverse=reverse)
    shape, params, _ = seq.init(jax.random.key(1), (-1, 6, 4))
    params = perturbed(params)
    expected = np_run(kind_of(layer_fn), params, x, reverse)
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
    return perturbed(params)


@pytest.mark.parametrize("layer_fn", RECURRENT, ids=RECURRENT_IDS)
def test_initial_state_matches_numpy(layer_fn):
    params = _params(layer_fn)
    x = np.asarray(jax.random.normal(jax.random.key(0), (3, 6, 4)))
    h0 = np.asarray(jax.random.normal(jax.random.key(3), (3, 5)))
    c0 = np.asarray(jax.random.normal(jax.random.key(4), (3, 5)))
    kind = kind_of(layer_fn)
    state = (h0, c0) if kind == "LSTM" else h0
    expected = np_run(kind, params, x, h0=h0, c0=c0 if kind == "LSTM" else None)
    y, _ = layer_fn(5, return_sequences=True).apply(
        params, {}, {"inputs": jnp.asarray(x), "initial_state": state}
    )
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer_fn", RECURRENT, ids=RECURRENT_IDS)
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
        alone = np_run(kind_of(layer_fn), params, x[row : row + 1, :n], reverse)[0]
        np.testing.assert_allclose(out["inputs"][row, :n], alone, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(out["inputs"][row, n:], 0.0)
        np.testing.assert_allclose(last[row], alone[0 if reverse else -1], rtol=1e-5, atol=1e-5)


def test_masked_layers_stack_and_bidirectional_takes_a_mask():
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


# ---------------------------------------------------------------------------------------------
# return_state: the output, then the final states (Keras' order)

MULTI = {
    "simple_rnn": lambda **kw: SimpleRNN(3, **kw),
    "lstm": lambda **kw: LSTM(3, **kw),
    "gru": lambda **kw: GRU(3, **kw),
    "gru_reset_before": lambda **kw: GRU(3, reset_after=False, **kw),
    "bidirectional_lstm": lambda **kw: Bidirectional(LSTM, 3, **kw),
    "bidirectional_gru": lambda **kw: Bidirectional(GRU, 3, **kw),
}


@pytest.mark.parametrize("name", sorted(MULTI))
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_return_state_init_shapes_equal_apply_shapes(name, return_sequences, masked):
    layer = MULTI[name](return_sequences=return_sequences, return_state=True)
    spec = {"inputs": (-1, 5, 2), "mask": (-1, 5)} if masked else (-1, 5, 2)
    shape, params, state = layer.init(jax.random.key(0), spec)
    n_states = (2 if "lstm" in name else 1) * (2 if "bidirectional" in name else 1)
    assert isinstance(shape, tuple) and len(shape) == 1 + n_states
    assert shape[1:] == ((-1, 3),) * n_states
    x = jax.random.normal(jax.random.key(1), (4, 5, 2))
    inputs = {"inputs": x, "mask": jnp.arange(5)[None] < jnp.array([[5], [3], [1], [4]])}
    y, new_state = layer.apply(params, state, inputs if masked else x)
    assert jax.tree.map(jnp.shape, y) == concrete(shape, 4)
    assert new_state == state == {}
    jitted, _ = jax.jit(layer.apply)(params, state, inputs if masked else x)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-6), y, jitted)


@pytest.mark.parametrize("layer_fn", RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_return_state_values_match_numpy(layer_fn, reverse, return_sequences):
    kind = kind_of(layer_fn)
    params = _params(layer_fn)
    x = np.asarray(jax.random.normal(jax.random.key(0), (3, 6, 4)))
    h0 = np.asarray(jax.random.normal(jax.random.key(3), (3, 5)))
    c0 = np.asarray(jax.random.normal(jax.random.key(4), (3, 5)))
    layer = layer_fn(5, return_sequences=return_sequences, return_state=True, reverse=reverse)
    for initial in (None, (h0, c0) if kind == "LSTM" else h0):
        inputs = jnp.asarray(x) if initial is None else {"inputs": x, "initial_state": initial}
        ys, h, c = np_run(
            kind,
            params,
            x,
            reverse,
            h0=None if initial is None else h0,
            c0=c0 if initial is not None and kind == "LSTM" else None,
            states=True,
        )
        out, _ = layer.apply(params, {}, inputs)
        expected = (ys if return_sequences else h, h, c) if kind == "LSTM" else (ys, h)
        if not return_sequences:
            expected = (h, *expected[1:])
        assert len(out) == len(expected)
        for got, want in zip(out, expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer_fn", RECURRENT, ids=RECURRENT_IDS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_masked_final_state_is_the_state_at_the_last_real_step(layer_fn, reverse, return_sequences):
    kind = kind_of(layer_fn)
    params = _params(layer_fn)
    lengths = [6, 3, 0]  # the last row has no real step: its final state is the initial state
    x = np.asarray(jax.random.normal(jax.random.key(0), (3, 6, 4)))
    x_padded = x.copy()
    for row, n in enumerate(lengths):
        x_padded[row, n:] = 99.0
    mask = np.arange(6)[None, :] < np.array(lengths)[:, None]
    h0 = np.asarray(jax.random.normal(jax.random.key(3), (3, 5)))
    c0 = np.asarray(jax.random.normal(jax.random.key(4), (3, 5)))
    layer = layer_fn(5, return_sequences=return_sequences, return_state=True, reverse=reverse)
    inputs = {
        "inputs": jnp.asarray(x_padded),
        "mask": jnp.asarray(mask),
        "initial_state": (h0, c0) if kind == "LSTM" else h0,
    }
    out, _ = layer.apply(params, {}, inputs)
    states = out[1:]
    assert len(states) == (2 if kind == "LSTM" else 1)
    if return_sequences:
        assert set(out[0]) == {"inputs", "mask"}
        np.testing.assert_array_equal(out[0]["mask"], mask)
    for row, n in enumerate(lengths):
        ys, h, c = np_run(
            kind, params, x[row : row + 1, :n], reverse, h0=h0[row : row + 1],
            c0=c0[row : row + 1] if kind == "LSTM" else None, states=True,
        )  # fmt: skip
        np.testing.assert_allclose(states[0][row], h[0], rtol=1e-5, atol=1e-5)
        if kind == "LSTM":
            np.testing.assert_allclose(states[1][row], c[0], rtol=1e-5, atol=1e-5)
        if return_sequences:
            np.testing.assert_allclose(out[0]["inputs"][row, :n], ys[0], rtol=1e-5, atol=1e-5)
            np.testing.assert_array_equal(out[0]["inputs"][row, n:], 0.0)
        else:
            np.testing.assert_allclose(out[0][row], h[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_return_state_is_outputs_then_forward_then_backward_states(
    return_sequences,
):
    layer = Bidirectional(LSTM, 3, return_sequences=return_sequences, return_state=True)
    _, params, _ = layer.init(jax.random.key(0), (-1, 5, 2))
    params = {k: perturbed(v) for k, v in params.items()}
    x = np.asarray(jax.random.normal(jax.random.key(1), (2, 5, 2)))
    y, h_f, c_f, h_b, c_b = layer.apply(params, {}, jnp.asarray(x))[0]
    ys_f, want_h_f, want_c_f = np_run("LSTM", params["forward"], x, states=True)
    ys_b, want_h_b, want_c_b = np_run("LSTM", params["backward"], x, reverse=True, states=True)
    want_y = np.concatenate([ys_f, ys_b] if return_sequences else [want_h_f, want_h_b], axis=-1)
    for got, want in zip(
        (y, h_f, c_f, h_b, c_b), (want_y, want_h_f, want_c_f, want_h_b, want_c_b), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_serial_passes_the_state_tuple_to_the_next_layer():
    model = jaxnn.serial(LSTM(4, return_state=True), lambda t: t[1] + t[2], name="model")
    shape, params, state = model.init(jax.random.key(0), (-1, 5, 2))
    assert shape == (-1, 4)
    params = {"lstm": perturbed(params["lstm"]), "lambda": {}}
    x = np.asarray(jax.random.normal(jax.random.key(1), (3, 5, 2)))
    _, h, c = np_run("LSTM", params["lstm"], x, states=True)
    y, _ = model.apply(params, state, jnp.asarray(x))
    np.testing.assert_allclose(y, h + c, rtol=1e-5, atol=1e-5)


def test_config_records_return_state_and_reset_after():
    assert SimpleRNN(2, return_state=True).config == {
        "type": "SimpleRNN",
        "units": 2,
        "return_sequences": False,
        "return_state": True,
        "reverse": False,
        "dtype": None,
        "param_dtype": "float32",
        "name": "simple_rnn",
    }
    assert LSTM(2).config["return_state"] is False
    assert GRU(2).config["reset_after"] is True
    assert GRU(2, reset_after=False, return_state=True).config["reset_after"] is False
    bi = Bidirectional(GRU, 2, return_state=True, layer_kwargs={"reset_after": False})
    assert bi.config == {
        "type": "Bidirectional",
        "layer": "GRU",
        "units": 2,
        "return_sequences": False,
        "return_state": True,
        "layer_kwargs": {"reset_after": False},
        "name": "bidirectional",
    }


def test_bidirectional_layer_kwargs_reach_both_directions():
    layer = Bidirectional(GRU, 3, return_sequences=True, layer_kwargs={"reset_after": False})
    _, params, _ = layer.init(jax.random.key(0), (-1, 5, 2))
    assert sorted(params["forward"]) == sorted(params["backward"]) == ["b", "w_h", "w_x"]
    params = {k: perturbed(v) for k, v in params.items()}
    x = np.asarray(jax.random.normal(jax.random.key(1), (2, 5, 2)))
    y, _ = layer.apply(params, {}, jnp.asarray(x))
    np.testing.assert_allclose(y[..., :3], np_run("GRU", params["forward"], x), atol=1e-5)
    np.testing.assert_allclose(
        y[..., 3:], np_run("GRU", params["backward"], x, reverse=True), atol=1e-5
    )
    with pytest.raises(
        ValueError,
        match=r"Bidirectional 'bidirectional': layer_kwargs may not set \['return_state', "
        r"'reverse'\]; Bidirectional sets them",
    ):
        Bidirectional(GRU, 3, layer_kwargs={"reverse": True, "return_state": True})


# ---------------------------------------------------------------------------------------------
# Gradients of the new paths, float64 against finite differences


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_gradients(reset_after):
    layer = GRU(3, return_sequences=True, return_state=True, reset_after=reset_after)
    _, params, state = layer.init(jax.random.key(0), (-1, 3, 2))
    x = jax.random.normal(jax.random.key(1), (2, 3, 2))
    check_layer_grads(layer, perturbed(params), state, x)


@pytest.mark.parametrize(
    "layer",
    [
        LSTM(3, return_state=True, reverse=True),
        Bidirectional(GRU, 3, return_sequences=True, return_state=True),
    ],
    ids=["lstm_reverse", "bidirectional_gru"],
)
def test_masked_return_state_gradients(layer):
    """Through the final states of masked sequences and an initial state."""
    mask = jnp.array([[True, True, True, False], [True, False, False, False]])
    h0 = jax.random.normal(jax.random.key(3), (2, 3))
    _, params, _ = layer.init(jax.random.key(0), (-1, 4, 2))
    params = (
        {k: perturbed(v) for k, v in params.items()} if "forward" in params else perturbed(params)
    )

    def f(p, x, h0):
        # LSTM: (h, c); Bidirectional GRU: (forward h, backward h).
        inputs = {"inputs": x, "mask": mask, "initial_state": (h0, -h0)}
        y, *states = layer.apply(p, {}, inputs)[0]
        return (y["inputs"] if isinstance(y, dict) else y, *states)

    check_fn_grads(f, (params, jax.random.normal(jax.random.key(1), (2, 4, 2)), h0))


# ---------------------------------------------------------------------------------------------
# GRU(reset_after=True) is PyTorch's nn.GRU: with torch when installed, and always against
# a NumPy re-implementation of the equations PyTorch documents.


def torch_layout(params):
    """jaxnn GRU params (last axis z | r | n) as PyTorch's weights (3U, D) and biases, rows r, z, n."""

    def rzn(a):
        z, r, n = np.split(np.asarray(a, np.float32), 3, axis=-1)
        return np.concatenate([r, z, n], axis=-1)

    return {
        "weight_ih": rzn(params["w_x"]).T,
        "weight_hh": rzn(params["w_h"]).T,
        "bias_ih": rzn(params["b"]),
        "bias_hh": rzn(params["b_h"]),
    }


def torch_gru_equations(w, x, h0, reverse=False):
    """torch.nn.GRU's documented equations for one layer and direction, in float64.

    r = sigma(W_ir x + b_ir + W_hr h + b_hr), z = sigma(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
    """
    w = {k: np.asarray(v, np.float64) for k, v in w.items()}
    w_ir, w_iz, w_in = np.split(w["weight_ih"], 3, axis=0)
    w_hr, w_hz, w_hn = np.split(w["weight_hh"], 3, axis=0)
    b_ir, b_iz, b_in = np.split(w["bias_ih"], 3)
    b_hr, b_hz, b_hn = np.split(w["bias_hh"], 3)
    h = np.asarray(h0, np.float64)
    outs = [None] * x.shape[1]
    for t in reversed(range(x.shape[1])) if reverse else range(x.shape[1]):
        xt = np.asarray(x[:, t], np.float64)
        r = sigmoid(xt @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
        z = sigmoid(xt @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
        n = np.tanh(xt @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
        h = (1 - z) * n + z * h
        outs[t] = h
    return np.stack(outs, axis=1), h


def _gru_case():
    layer = GRU(5, return_sequences=True, return_state=True)
    _, params, _ = layer.init(jax.random.key(0), (-1, 7, 4))
    params = perturbed(params, scale=0.3)
    x = np.asarray(jax.random.normal(jax.random.key(1), (3, 7, 4)))
    h0 = np.asarray(jax.random.normal(jax.random.key(2), (3, 5)))
    return layer, params, x, h0


def test_gru_matches_the_pytorch_equations_in_numpy():
    layer, params, x, h0 = _gru_case()
    (y, h), _ = layer.apply(params, {}, {"inputs": jnp.asarray(x), "initial_state": h0})
    want_y, want_h = torch_gru_equations(torch_layout(params), x, h0)
    np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, want_h, rtol=1e-5, atol=1e-5)
    # Bidirectional: PyTorch's backward direction reads the sequence from the end.
    bi = Bidirectional(GRU, 5, return_sequences=True, return_state=True)
    _, bp, _ = bi.init(jax.random.key(3), (-1, 7, 4))
    bp = {k: perturbed(v, scale=0.3) for k, v in bp.items()}
    (y, h_f, h_b), _ = bi.apply(bp, {}, jnp.asarray(x))
    zeros = np.zeros((3, 5))
    want_f, want_h_f = torch_gru_equations(torch_layout(bp["forward"]), x, zeros)
    want_b, want_h_b = torch_gru_equations(torch_layout(bp["backward"]), x, zeros, reverse=True)
    np.testing.assert_allclose(y, np.concatenate([want_f, want_b], -1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h_f, want_h_f, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h_b, want_h_b, rtol=1e-5, atol=1e-5)


def _copy_into(torch, module, suffix, weights):
    with torch.no_grad():
        for name, value in weights.items():
            getattr(module, name + suffix).copy_(torch.from_numpy(np.ascontiguousarray(value)))


def test_gru_matches_torch_nn_gru():
    torch = pytest.importorskip("torch")
    layer, params, x, h0 = _gru_case()
    # One layer, with an initial state.
    gru = torch.nn.GRU(4, 5, batch_first=True)
    _copy_into(torch, gru, "_l0", torch_layout(params))
    with torch.no_grad():
        want_y, want_h = gru(
            torch.from_numpy(x.copy()), torch.from_numpy(h0[None].astype(np.float32))
        )
    (y, h), _ = layer.apply(params, {}, {"inputs": jnp.asarray(x), "initial_state": h0})
    np.testing.assert_allclose(y, want_y.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, want_h.numpy()[0], rtol=1e-5, atol=1e-5)
    # Two stacked bidirectional layers: outputs [forward, backward], h_n (layers * 2, N, U).
    bi = [Bidirectional(GRU, 5, return_sequences=True, return_state=True) for _ in range(2)]
    stacked = torch.nn.GRU(4, 5, num_layers=2, bidirectional=True, batch_first=True)
    inputs, finals = jnp.asarray(x), []
    for i, (layer_i, d_in) in enumerate(zip(bi, (4, 10), strict=True)):
        _, p, _ = layer_i.init(jax.random.key(10 + i), (-1, 7, d_in))
        p = {k: perturbed(v, scale=0.3) for k, v in p.items()}
        _copy_into(torch, stacked, f"_l{i}", torch_layout(p["forward"]))
        _copy_into(torch, stacked, f"_l{i}_reverse", torch_layout(p["backward"]))
        (inputs, h_f, h_b), _ = layer_i.apply(p, {}, inputs)
        finals += [h_f, h_b]
    with torch.no_grad():
        want_y, want_h = stacked(torch.from_numpy(x.copy()))
    np.testing.assert_allclose(inputs, want_y.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.stack(finals), want_h.numpy(), rtol=1e-5, atol=1e-5)
