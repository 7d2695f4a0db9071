import functools
import inspect

import jax.numpy as jnp
import numpy as np
import pytest

import jaxnn
from jaxnn.core import Layer, lift
from jaxnn.layers import BatchNorm, Dense
from jaxnn.masking import accepts_batch_mask, apply_with_batch_mask, check_batch_mask


def _recording_layer(calls, *, declares):
    """A hand-written identity layer that records the keyword arguments it was called with."""

    def init(key, input_shape):
        return input_shape, {}, {}

    if declares:

        def apply(params, state, x, *, key=None, train=False, batch_mask=None):
            calls.append({"train": train, "batch_mask": batch_mask})
            return x, state

    else:

        def apply(params, state, x, *, key=None, train=False):
            calls.append({"train": train})
            return x, state

    return Layer(init, apply, "recorder")


def test_accepts_batch_mask_reads_the_signature():
    assert accepts_batch_mask(BatchNorm()) is True
    assert accepts_batch_mask(Dense(2)) is False
    assert accepts_batch_mask(lift(jnp.tanh)) is False
    assert accepts_batch_mask(jaxnn.serial(Dense(2))) is True  # combinators forward it
    assert accepts_batch_mask(_recording_layer([], declares=True)) is True
    assert accepts_batch_mask(_recording_layer([], declares=False).apply) is False

    def positional(params, state, x, batch_mask=None, *, key=None, train=False):
        return x, state

    def var_keyword(params, state, x, **kwargs):  # **kwargs is not a declaration
        return x, state

    assert accepts_batch_mask(positional) is True
    assert accepts_batch_mask(var_keyword) is False
    assert accepts_batch_mask(functools.partial(positional, {})) is True
    assert accepts_batch_mask(max) is False  # a builtin without a signature
    with pytest.raises(
        TypeError,
        match=r"accepts_batch_mask: expected a jaxnn Layer or its apply function; got int 3",
    ):
        accepts_batch_mask(3)


def test_accepts_batch_mask_inspects_each_function_once(monkeypatch):
    def apply(params, state, x, *, key=None, train=False, batch_mask=None):
        return x, state

    seen = []
    real_signature = inspect.signature

    def counting(fn, *args, **kwargs):
        seen.append(fn)
        return real_signature(fn, *args, **kwargs)

    monkeypatch.setattr(inspect, "signature", counting)
    assert [accepts_batch_mask(apply) for _ in range(3)] == [True, True, True]
    assert seen.count(apply) == 1


def test_apply_with_batch_mask_passes_the_mask_only_to_layers_that_declare_it():
    x = jnp.ones((3, 2))
    mask = jnp.array([True, False, True])
    declared, plain = [], []
    y, _ = apply_with_batch_mask(
        _recording_layer(declared, declares=True), {}, {}, x, train=True, batch_mask=mask
    )
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(declared[0]["batch_mask"], [True, False, True])
    assert declared[0]["train"] is True
    # Without the keyword the layer is called with the plain protocol (a strict signature that
    # would raise TypeError if the mask were passed).
    apply_with_batch_mask(_recording_layer(plain, declares=False), {}, {}, x, batch_mask=mask)
    assert plain == [{"train": False}]
    # batch_mask=None is never passed on: the call is the plain one.
    apply_with_batch_mask(_recording_layer(declared, declares=True).apply, {}, {}, x)
    assert declared[1]["batch_mask"] is None
    with pytest.raises(
        TypeError, match="apply_with_batch_mask: expected a jaxnn Layer or its apply function"
    ):
        apply_with_batch_mask("dense", {}, {}, x)


def test_apply_with_batch_mask_reaches_batchnorm(key):
    bn = BatchNorm(momentum=0.0, epsilon=1e-3)
    _, params, state = bn.init(key, (-1, 1))
    x = jnp.array([[1.0], [3.0], [5.0], [1.0]])
    mask = jnp.array([True, True, True, False])
    y, new_state = apply_with_batch_mask(bn, params, state, x, train=True, batch_mask=mask)
    # Real rows 1, 3, 5: mean 3, biased variance 8/3.
    np.testing.assert_allclose(new_state["mean"], [3.0], rtol=1e-6)
    np.testing.assert_allclose(new_state["var"], [8.0 / 3.0], rtol=1e-6)
    np.testing.assert_allclose(
        y[:, 0], (np.array([1.0, 3.0, 5.0, 1.0]) - 3.0) / np.sqrt(8.0 / 3.0 + 1e-3), rtol=1e-5
    )


def test_check_batch_mask_accepts_boolean_rows():
    check_batch_mask(None, jnp.ones((3, 2)), where="t")
    check_batch_mask(np.array([True, False, True]), jnp.ones((3, 2)), where="t")
    # Dict inputs: N is the leading axis of the leaves.
    check_batch_mask(jnp.ones(2, bool), {"inputs": jnp.ones((2, 5, 3)), "mask": None}, where="t")


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        (
            np.array([1, 0, 1], np.int32),
            TypeError,
            r"demo: batch_mask must be a boolean array of shape \(N,\) = \(3,\), True for the "
            r"real rows; got int32 array of shape \(3,\)\. Convert a 0/1 row mask with mask > 0",
        ),
        ((True, False, True), TypeError, r"demo: batch_mask must be a boolean array .* got tuple"),
        (
            np.ones(4, bool),
            ValueError,
            r"demo: batch_mask must have shape \(N,\) = \(3,\), one entry per row of x; got \(4,\)",
        ),
        (np.ones((), bool), ValueError, r"demo: batch_mask must have shape .* got \(\)"),
    ],
)
def test_check_batch_mask_errors(mask, error, match):
    with pytest.raises(error, match=match):
        check_batch_mask(mask, jnp.ones((3, 2)), where="demo")
