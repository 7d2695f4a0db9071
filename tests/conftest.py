"""Shared fixtures and the float64 gradient-check helper."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

# Broadcasting between arrays of different ranks must be explicit in library code.
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.key(0)


def to_float64(tree):
    """Casts every floating leaf to float64 (call inside ``jax.enable_x64(True)``)."""
    return jax.tree.map(
        lambda a: (
            jnp.asarray(a, jnp.float64) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating) else a
        ),
        tree,
    )


def check_layer_grads(layer, params, state, x, *, train=False, key=None, order=1):
    """VJP and JVP of ``apply`` w.r.t. params and input against central finite differences, in float64."""
    with jax.enable_x64(True):
        params64, state64, x64 = to_float64((params, state, x))

        def f(p, inputs):
            return layer.apply(p, state64, inputs, key=key, train=train)[0]

        check_grads(f, (params64, x64), order=order, modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)


def check_fn_grads(fn, args, *, order=1):
    """VJP and JVP of ``fn(*args)`` against central finite differences, in float64."""
    with jax.enable_x64(True):
        check_grads(fn, to_float64(args), order=order, modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)


def rng(seed=0):
    return np.random.default_rng(seed)
