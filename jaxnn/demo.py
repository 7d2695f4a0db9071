"""``python -m jaxnn.demo`` (``make demo``): train an MLP on the real handwritten digits.

The default job: the 1,797 8 x 8 digits that ship with scikit-learn, split 80/20 (stratified),
an MLP 64-128-64-10 with ReLU and dropout trained by :func:`jaxnn.fit` with Adam for 40 epochs,
printing each epoch, then the test accuracy (about 0.97) and the training throughput.

:func:`train_xor` is the smallest example of a hand-written jit-compiled Optax step: a 2-8-1
tanh MLP that learns XOR, the function a single perceptron cannot learn.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnn import activations, data, losses, metrics
from jaxnn.cache import cache_from_environment
from jaxnn.combinators import serial
from jaxnn.core import Layer
from jaxnn.layers import Dense, Dropout
from jaxnn.train import evaluate, fit
from jaxnn.types import Array, Params, State

__all__ = ["digits_model", "main", "train_digits", "train_xor", "xor_model"]

# NumPy, not jnp: an eager jnp.array compiles a conversion kernel when the module is imported.
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], np.float32)
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]], np.float32)


def _make_step(model: Layer, state: State, optimizer: optax.GradientTransformation):
    def loss_fn(params: Params, x: Array, y: Array) -> Array:
        logits, _ = model.apply(params, state, x)
        return losses.sigmoid_binary_cross_entropy(logits, y)

    @jax.jit
    def step(params: Params, opt_state: optax.OptState, x: Array, y: Array):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def xor_model() -> Layer:
    """The demo's model: ``serial(Dense(8), tanh, Dense(1))``, one logit out.

    Example:
        >>> xor_model().init(jax.random.key(0), (-1, 2))[0]
        (-1, 1)
    """
    return serial(Dense(8), activations.tanh, Dense(1))


def train_xor(
    *, steps: int = 500, learning_rate: float = 0.05, seed: int = 0, log_every: int = 0
) -> tuple[Params, State, list[tuple[int, float, float]]]:
    """Trains a 2-8-1 tanh MLP on XOR; returns params, state and ``(step, loss, accuracy)`` logs.

    Args:
        steps: Full-batch Adam steps (default 500).
        learning_rate: Adam's learning rate (default 0.05).
        seed: Seed of the parameter key (default 0).
        log_every: Print a log line every this many steps (default 0: silent).

    Returns:
        The trained params, the model state and the list of logged ``(step, loss, accuracy)``.

    Example:
        >>> params, state, log = train_xor(steps=500)
        >>> log[-1][2]
        1.0
    """
    model = xor_model()
    _, params, state = model.init(jax.random.key(seed), XOR_X.shape)
    optimizer = optax.adam(learning_rate)
    opt_state = optimizer.init(params)
    step = _make_step(model, state, optimizer)
    log = []
    for i in range(1, steps + 1):
        params, opt_state, loss = step(params, opt_state, XOR_X, XOR_Y)
        if i % 50 == 0 or i == steps:
            logits, _ = model.apply(params, state, XOR_X)
            acc = float(metrics.accuracy(logits, jnp.asarray(XOR_Y, jnp.int32), threshold=0.0))
            log.append((i, float(loss), acc))
            if log_every and (i % log_every == 0 or i == steps):
                print(f"step {i:4d}  loss {float(loss):.4f}  accuracy {acc:.0%}")
    return params, state, log


def digits_model() -> Layer:
    """The demo's digits classifier: 64-128-64-10, ReLU, dropout 0.1, logits out.

    Example:
        >>> digits_model().init(jax.random.key(0), (-1, 64))[0]
        (-1, 10)
    """
    return serial(
        Dense(128), activations.relu, Dropout(0.1), Dense(64), activations.relu, Dense(10)
    )


def train_digits(*, epochs: int = 40, seed: int = 0, verbose: int = 2) -> dict[str, float]:
    """Trains :func:`digits_model` on 80% of the digits; returns test loss, accuracy and speed.

    Example:
        >>> result = train_digits(epochs=40, verbose=0)
        >>> result["accuracy"] > 0.95
        True
    """
    (x_train, y_train), (x_test, y_test) = data.digits(test_fraction=0.2, seed=seed)
    model = digits_model()
    ts, history = fit(
        model,
        (x_train, y_train),
        loss="softmax_cross_entropy",
        optimizer="adam",
        learning_rate=1e-3,
        epochs=epochs,
        batch_size=32,
        validation_split=0.1,
        metrics=["accuracy"],
        seed=seed,
        verbose=verbose,
    )
    result = evaluate(
        model, ts, (x_test, y_test), loss="softmax_cross_entropy", metrics=["accuracy"]
    )
    result["samples_per_second"] = float(np.median(history.samples_per_second[1:]))
    return result


def main(argv: list[str] | None = None) -> None:
    """Runs the default job: the digits MLP, with progress, test accuracy and throughput.

    JAX's persistent compilation cache is on (see :mod:`jaxnn.cache`), so a second run loads the
    compiled programs instead of compiling them; ``--no-compilation-cache`` or
    ``JAXNN_COMPILATION_CACHE=off`` turns it off.
    """
    parser = argparse.ArgumentParser(prog="python -m jaxnn.demo", description=main.__doc__)
    parser.add_argument(
        "--no-compilation-cache",
        action="store_true",
        help="compile everything afresh (default: use the cache folder of jaxnn.cache)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    folder = cache_from_environment(disabled=args.no_compilation_cache)
    print("jaxnn demo: an MLP (64-128-64-10) learns the 8x8 handwritten digits with jaxnn.fit")
    result = train_digits()
    print(
        f"\ntest accuracy {result['accuracy']:.4f}, test loss {result['loss']:.4f}, "
        f"{result['samples_per_second']:,.0f} training samples/s after compilation, "
        f"{time.perf_counter() - start:.1f} s in all "
        f"(compilation cache: {folder if folder else 'off'})"
    )


if __name__ == "__main__":
    main()
