"""TrainState: everything that changes during training, as one pytree."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnn import precision as precision_lib
from jaxnn.core import Layer, check_key
from jaxnn.types import Array, Params, PRNGKey, State

__all__ = ["TrainState", "warm_started"]


_COMPILE_FAST = {"xla_backend_optimization_level": 0}


class TrainState(NamedTuple):
    """The training state: a pytree of arrays that a step maps to the next one.

    Attributes:
        params: The model's params (a nested dict).
        state: The model's state, e.g. BatchNorm running statistics.
        opt_state: The Optax optimizer's state.
        step: The number of optimizer steps taken, an int32 scalar.
        key: The base training key. Step ``s`` uses ``fold_in(key, s)`` for dropout and other
            randomness, so resuming from a checkpoint continues the same random stream.

    Example:
        >>> import jax, optax
        >>> from jaxnn.layers import Dense
        >>> ts = TrainState.create(Dense(2), jax.random.key(0), (-1, 3), optax.sgd(0.1))
        >>> int(ts.step), jax.tree.map(jnp.shape, ts.params)
        (0, {'b': (2,), 'w': (3, 2)})
    """

    params: Params
    state: State
    opt_state: optax.OptState
    step: Array
    key: PRNGKey

    @classmethod
    def create(
        cls,
        model: Layer,
        key: PRNGKey,
        input_shape: Any,
        optimizer: optax.GradientTransformation,
        *,
        precision: Any = None,
    ) -> TrainState:
        """Initialises the model and the optimizer.

        Args:
            model: The model.
            key: A PRNG key. Parameters are drawn from ``fold_in(key, 0)`` (by ``model.init``
                under ``jit``); the training key is ``fold_in(key, 1)``.
            input_shape: The input shape with a batch axis, or an example input array.
            optimizer: An ``optax.GradientTransformation``.
            precision: A precision policy (:mod:`jaxnn.precision`, default float32):
                ``"bfloat16"`` keeps the parameters and optimizer state in bfloat16, and
                ``"mixed_float16"`` wraps the optimizer in dynamic loss scaling
                (:func:`jaxnn.precision.loss_scaled`), whose state holds the scale. Give the
                training step the same policy.

        Returns:
            A TrainState at step 0.

        Raises:
            TypeError: If ``key`` is not a PRNG key or ``optimizer`` is not an Optax
                transformation.
        """
        check_key(key, where="TrainState.create")
        if not isinstance(optimizer, optax.GradientTransformation):
            raise TypeError(
                f"TrainState.create: optimizer must be an optax.GradientTransformation; got "
                f"{type(optimizer).__name__}. Use jaxnn.optimizers.get('adam', 1e-3) for a name."
            )
        policy = precision_lib.get(precision, where="TrainState.create")
        optimizer = precision_lib.prepare_optimizer(optimizer, policy)

        def create(key: PRNGKey) -> TrainState:
            # One compiled program instead of an eager compile per initializer and optimizer op.
            _, params, state = model.init(jax.random.fold_in(key, 0), input_shape)
            params = precision_lib.cast_params(params, policy)
            return cls(
                params=params,
                state=state,
                opt_state=optimizer.init(params),
                step=jnp.zeros((), jnp.int32),
                key=jax.random.fold_in(key, 1),
            )

        # Run once, so compile fast: XLA's lowest optimisation level compiles the random draws
        # 2-3x faster. Uniform and integer draws are bit-identical to an optimised build;
        # normal-type draws may differ in the last bit (no fused multiply-adds).
        if isinstance(key, jax.core.Tracer):  # inside the caller's jit or vmap: just trace it
            return create(key)
        return jax.jit(create, compiler_options=_COMPILE_FAST)(key)


def _overlay(base: Any, given: Any, where: str) -> Any:
    """``base`` with the leaves that ``given`` names replaced, after checking their shapes."""
    if isinstance(base, dict):
        if not isinstance(given, dict) or not set(given) <= set(base):
            got = sorted(given) if isinstance(given, dict) else type(given).__name__
            raise ValueError(
                f"{where} must be a dict with some of the keys {sorted(base)}; got {got}."
            )
        return {
            k: _overlay(v, given[k], f"{where}/{k}") if k in given else v for k, v in base.items()
        }
    if tuple(np.shape(given)) != tuple(base.shape) or np.dtype(given.dtype) != base.dtype:
        raise ValueError(
            f"{where} has shape {tuple(np.shape(given))} {np.dtype(given.dtype).name}; the model "
            f"has {tuple(base.shape)} {np.dtype(base.dtype).name} there."
        )
    return jnp.array(given)  # a copy: fit donates the state it trains


def warm_started(
    ts: TrainState, warm_start: Any, optimizer: optax.GradientTransformation, *, where: str
) -> TrainState:
    """``ts`` with params and state taken, whole or in part, from a ``(params, state)`` pair.

    The optimizer state is initialised again from the new params. ``fit(warm_start=...)``
    starts transfer learning this way: reused layers from a trained model, a new head drawn.

    Example:
        >>> import jax, optax, jaxnn
        >>> from jaxnn.layers import Dense
        >>> model = jaxnn.serial(Dense(2), Dense(1, name="head"))
        >>> ts = TrainState.create(model, jax.random.key(0), (-1, 3), optax.sgd(0.1))
        >>> body = {"dense": {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}}
        >>> warm = warm_started(ts, (body, {}), optax.sgd(0.1), where="fit")
        >>> warm.params["dense"]["w"].tolist()
        [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
        >>> bool((warm.params["head"]["w"] == ts.params["head"]["w"]).all())  # drawn as before
        True
    """
    if not (isinstance(warm_start, tuple) and len(warm_start) == 2):
        raise TypeError(
            f"{where}: warm_start must be a (params, state) pair, e.g. "
            f"({{'base': params}}, {{'base': state}}); got {type(warm_start).__name__}."
        )
    params = _overlay(ts.params, warm_start[0], f"{where}: warm_start params")
    state = _overlay(ts.state, warm_start[1], f"{where}: warm_start state")
    return ts._replace(params=params, state=state, opt_state=optimizer.init(params))
