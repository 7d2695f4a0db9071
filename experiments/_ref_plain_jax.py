"""Plain-JAX reference training loops for bench_fit.py (no jaxnn).

Two loops a JAX user would write: one jitted step per batch, and a whole epoch as one
``lax.scan`` with the shuffle on the device. The MLP is written by hand with glorot-uniform
kernels and zero biases.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax


def init_mlp(key, sizes):
    params = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        limit = math.sqrt(6 / (d_in + d_out))
        w = jax.random.uniform(
            jax.random.fold_in(key, i), (d_in, d_out), jnp.float32, -limit, limit
        )
        params.append({"w": w, "b": jnp.zeros(d_out, jnp.float32)})
    return params


def mlp(params, x, act):
    for layer in params[:-1]:
        x = act(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def make_loss(task):
    if task == "T1":

        def loss(params, x, y):
            return optax.sigmoid_binary_cross_entropy(mlp(params, x, jnp.tanh), y).mean()
    else:

        def loss(params, x, y):
            logits = mlp(params, x, jax.nn.relu)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    return loss


def make_step(loss, opt):
    def step(carry, batch):
        params, opt_state = carry
        value, grads = jax.value_and_grad(loss)(params, *batch)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value

    return step


def scan_epoch_runner(loss, opt, x, y, batch_size):
    """One jitted call per epoch: shuffle, gather and scan on the device (drops the remainder)."""
    step = make_step(loss, opt)
    steps = x.shape[0] // batch_size

    @jax.jit
    def epoch(params, opt_state, key):
        perm = jax.random.permutation(key, x.shape[0])[: steps * batch_size].reshape(
            steps, batch_size
        )

        def body(carry, rows):
            return step(carry, (x[rows], y[rows]))

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), perm)
        return params, opt_state, losses.mean()

    return epoch


def step_runner(loss, opt):
    step = jax.jit(make_step(loss, opt))
    return step
