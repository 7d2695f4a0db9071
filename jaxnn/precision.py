r"""Precision policies: which dtype the parameters are kept in and which one computes.

A policy is named by a string, as Keras 3's ``mixed_precision`` policies are:

============== =================== ============== ==========================================
policy         parameters, Adam    compute        notes
============== =================== ============== ==========================================
float32        float32             float32        the default
bfloat16       bfloat16            bfloat16       everything in bfloat16 (half the memory)
mixed_bfloat16 float32 (master)    bfloat16       the usual choice on TPUs and recent GPUs
mixed_float16  float32 (master)    float16        with dynamic loss scaling (below)
============== =================== ============== ==========================================

Under a policy the model runs through :func:`apply_policy`: its floating parameters and inputs
are cast to the compute dtype at the start of ``apply`` (integer inputs such as token ids are
left alone), and its floating outputs are cast to float32, so that losses, softmax
cross-entropies and metric sums run in float32. The gradient of the cast is the cast back, so
the gradients of float32 master parameters are float32 and the optimizer updates them in
float32. Normalisation layers compute their statistics in float32 whatever their input
(:mod:`jaxnn.layers.normalization`), attention its softmax, and a layer's state (BatchNorm's
running statistics) keeps its own dtype.

**Dynamic loss scaling** (``mixed_float16``; float16 has 5 exponent bits, so small gradients
underflow to 0): the loss is multiplied by a scale :math:`S` before differentiation and the
gradients divided by it after. A step whose gradients are not all finite is skipped (the
parameters and optimizer state stay as they were) and :math:`S` is halved; after
``growth_interval`` finite steps in a row it is doubled. :math:`S` starts at :math:`2^{15}`
and grows every 2000 steps, as Keras' ``LossScaleOptimizer``. ``fit`` logs ``loss_scale`` (its
mean over the epoch's steps) and ``skipped_steps``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxnn.core import Layer
from jaxnn.dtypes import cast_floating
from jaxnn.types import Array, Params, PRNGKey, State

__all__ = [
    "POLICIES",
    "LossScaleState",
    "Policy",
    "apply_policy",
    "cast_floating",
    "check_layer_dtypes",
    "get",
    "cast_params",
    "loss_scaled",
    "prepare_optimizer",
]


@dataclass(frozen=True)
class Policy:
    """A precision policy.

    Attributes:
        name: The policy's name (a key of :data:`POLICIES`).
        param_dtype: The dtype parameters and optimizer state are kept in.
        compute_dtype: The dtype the model computes in.
        loss_scaling: Whether training uses dynamic loss scaling.
    """

    name: str
    param_dtype: str
    compute_dtype: str
    loss_scaling: bool = False

    @property
    def is_default(self) -> bool:
        """True for float32, which changes nothing."""
        return self.name == "float32"


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy("float32", "float32", "float32"),
        Policy("bfloat16", "bfloat16", "bfloat16"),
        Policy("mixed_bfloat16", "float32", "bfloat16"),
        Policy("mixed_float16", "float32", "float16", loss_scaling=True),
    )
}

# Backends whose XLA has no float16 arithmetic worth the name.
_NO_FLOAT16 = ("tpu",)


def get(precision: str | Policy | None, *, where: str = "precision") -> Policy:
    """The policy for a name (``None`` is float32).

    Raises:
        ValueError: For an unknown name (the choices are listed), or a float16 policy on a
            backend without float16 (TPU).

    Example:
        >>> get("mixed_bfloat16")
        Policy(name='mixed_bfloat16', param_dtype='float32', compute_dtype='bfloat16', loss_scaling=False)
        >>> get("fp16")
        Traceback (most recent call last):
        ...
        ValueError: precision: unknown precision 'fp16'; choose one of 'float32', 'bfloat16', 'mixed_bfloat16', 'mixed_float16'.
    """  # noqa: E501
    if precision is None:
        return POLICIES["float32"]
    if isinstance(precision, Policy):
        return precision
    policy = POLICIES.get(precision) if isinstance(precision, str) else None
    if policy is None:
        choices = ", ".join(repr(n) for n in POLICIES)
        raise ValueError(f"{where}: unknown precision {precision!r}; choose one of {choices}.")
    backend = jax.default_backend()
    if policy.compute_dtype == "float16" and backend in _NO_FLOAT16:
        raise ValueError(
            f"{where}: precision={policy.name!r} computes in float16, which the {backend} "
            f"backend does not support; use 'mixed_bfloat16' there."
        )
    return policy


def cast_params(params: Params, precision: str | Policy | None) -> Params:
    """The parameters in the policy's parameter dtype (floating leaves only)."""
    policy = get(precision)
    return params if policy.is_default else cast_floating(params, policy.param_dtype)


def prepare_optimizer(
    optimizer: optax.GradientTransformation, precision: str | Policy | None
) -> optax.GradientTransformation:
    """The optimizer a policy trains with: wrapped in :func:`loss_scaled` for ``mixed_float16``."""
    return loss_scaled(optimizer) if get(precision).loss_scaling else optimizer


def _like(tree: Any, reference: Any) -> Any:
    """``tree`` with each floating leaf cast to the dtype of the matching ``reference`` leaf."""
    return jax.tree.map(
        lambda a, r: a.astype(r.dtype) if jnp.issubdtype(r.dtype, jnp.floating) else a,
        tree,
        reference,
    )


def apply_policy(model: Layer, precision: str | Policy | None) -> Layer:
    """``model`` computing in the policy's dtype, with float32 outputs (``model`` for float32).

    ``init`` is the model's own (the caller casts parameters for the ``bfloat16`` policy). The
    returned layer's ``apply`` casts floating parameters and inputs to the compute dtype, runs
    the model, casts floating outputs to float32 and the new state to the old state's dtypes.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxnn.layers import Dense
        >>> model = apply_policy(Dense(2), "mixed_bfloat16")
        >>> _, params, state = model.init(jax.random.key(0), (-1, 3))
        >>> params["w"].dtype, model.apply(params, state, jnp.ones((1, 3)))[0].dtype
        (dtype('float32'), dtype('float32'))
    """
    policy = get(precision)
    if policy.is_default:
        return model
    compute = jnp.dtype(policy.compute_dtype)
    check_layer_dtypes(model, policy)

    def apply(
        params: Params, state: State, x: Any, *, key: PRNGKey | None = None, **kwargs: Any
    ) -> tuple[Any, State]:
        y, new_state = model.apply(
            cast_floating(params, compute), state, cast_floating(x, compute), key=key, **kwargs
        )
        return cast_floating(y, jnp.float32), _like(new_state, state)

    return Layer(model.init, apply, model.name, model.config, model.children)


def _layers(layer: Layer) -> Iterator[Layer]:
    yield layer
    for child in layer.children:
        yield from _layers(child)


def check_layer_dtypes(model: Layer, precision: str | Policy) -> None:
    """Refuses a layer whose own ``dtype`` or ``param_dtype`` disagrees with a policy.

    Under a policy other than float32 the policy decides the dtypes. A layer may repeat them
    (``dtype`` equal to the policy's compute dtype, ``param_dtype`` equal to its parameter
    dtype) or leave them at their defaults (``dtype=None``, ``param_dtype=float32``, which the
    policy casts); a layer built with ``dtype=jnp.float16`` under ``mixed_bfloat16`` would
    silently compute in neither, so it is an error naming it.

    Raises:
        ValueError: Naming the layer, its dtype and the policy.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxnn.layers import Dense
        >>> check_layer_dtypes(Dense(2, dtype=jnp.bfloat16), "mixed_bfloat16")  # the same: fine
        >>> check_layer_dtypes(Dense(2, dtype=jnp.float16, name="head"), "mixed_bfloat16")
        Traceback (most recent call last):
        ...
        ValueError: precision='mixed_bfloat16': layer 'head' (Dense) was built with dtype='float16', which conflicts with the policy's bfloat16 compute; leave the layer's dtype at None (or set it to 'bfloat16') and let the policy cast it.
    """  # noqa: E501
    policy = get(precision)
    if policy.is_default:
        return
    for layer in _layers(model):
        config = dict(layer.config or {})
        inner = config.get("layer_kwargs")  # Bidirectional passes its layer's dtypes through
        if isinstance(inner, dict):
            config = {**inner, **config}
        for arg, wanted, default, role in (
            ("dtype", policy.compute_dtype, None, "compute"),
            ("param_dtype", policy.param_dtype, "float32", "parameters"),
        ):
            dtype = config.get(arg)
            if isinstance(dtype, str) and dtype not in (wanted, default):
                raise ValueError(
                    f"precision={policy.name!r}: layer {layer.name!r} "
                    f"({config.get('type', 'layer')}) was built with {arg}={dtype!r}, which "
                    f"conflicts with the policy's {wanted} {role}; leave the layer's {arg} at "
                    f"{default!r} (or set it to {wanted!r}) and let the policy cast it."
                )


# ------------------------------------------------------------------------------------------------
# Dynamic loss scaling, as an Optax transformation around the optimizer


class LossScaleState(NamedTuple):
    """The optimizer state under dynamic loss scaling.

    Attributes:
        inner: The wrapped optimizer's state.
        scale: The current loss scale :math:`S` (float32 scalar).
        good_steps: Finite steps since the scale last changed (int32 scalar).
        finite: Whether the last step's gradients were finite (it was applied).
    """

    inner: Any
    scale: Array
    good_steps: Array
    finite: Array


def loss_scaled(
    optimizer: optax.GradientTransformation,
    *,
    initial_scale: float = 2.0**15,
    growth_interval: int = 2000,
    factor: float = 2.0,
) -> optax.GradientTransformation:
    """``optimizer`` taking gradients of the loss times :math:`S`, with :math:`S` adapted.

    ``update`` divides the gradients by :math:`S`; when they are all finite it passes them to
    ``optimizer``, otherwise it returns zero updates, keeps the inner state and divides
    :math:`S` by ``factor`` (never below 1). After ``growth_interval`` finite steps in a row
    :math:`S` is multiplied by ``factor``. The training step multiplies the loss by
    ``state.scale`` (:func:`jaxnn.train.step.make_update` does, for ``fit``).

    Example:
        >>> import jax.numpy as jnp, optax
        >>> opt = loss_scaled(optax.sgd(1.0), initial_scale=4.0)
        >>> params = {"w": jnp.ones(2)}
        >>> state = opt.init(params)
        >>> updates, state = opt.update({"w": jnp.array([8.0, jnp.inf])}, state, params)
        >>> updates["w"].tolist(), float(state.scale), bool(state.finite)
        ([0.0, 0.0], 2.0, False)
        >>> updates, state = opt.update({"w": jnp.array([8.0, 4.0])}, state, params)
        >>> updates["w"].tolist(), float(state.scale)  # divided by the scale 2
        ([-4.0, -2.0], 2.0)
    """

    def init(params: Params) -> LossScaleState:
        return LossScaleState(
            optimizer.init(params),
            jnp.asarray(initial_scale, jnp.float32),
            jnp.zeros((), jnp.int32),
            jnp.ones((), bool),
        )

    def update(
        grads: Params, state: LossScaleState, params: Params | None = None
    ) -> tuple[Params, LossScaleState]:
        grads = jax.tree.map(lambda g: (g / state.scale).astype(g.dtype), grads)
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))

        def apply(_: Any) -> tuple[Params, Any]:
            return optimizer.update(grads, state.inner, params)

        def skip(_: Any) -> tuple[Params, Any]:
            return jax.tree.map(jnp.zeros_like, grads), state.inner

        updates, inner = jax.lax.cond(finite, apply, skip, None)
        good = jnp.where(finite, state.good_steps + 1, 0)
        grow = good >= growth_interval
        scale = jnp.where(
            finite,
            jnp.where(grow, state.scale * factor, state.scale),
            jnp.maximum(state.scale / factor, 1.0),
        )
        return updates, LossScaleState(inner, scale, jnp.where(grow, 0, good), finite)

    return optax.GradientTransformation(init, update)
