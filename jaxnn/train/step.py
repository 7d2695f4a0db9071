"""Pure training and evaluation steps.

``make_train_step`` returns ``step(train_state, batch) -> (train_state, logs)``: a pure function
that you may ``jit``, ``vmap`` or shard. ``fit`` is built from the same pieces: an *objective*
that returns the loss and the batch's sufficient statistics (weighted sums, see
:mod:`jaxnn.metrics`), so that logs over many batches add up exactly.

A batch is ``(x, y)``, ``(x, y, sample_weight)`` or a dict with keys ``x``, ``y`` and optionally
``sample_weight``. A loss is called as ``loss(predictions, y, sample_weight=w)`` (plus
``class_weight=`` when one is given), the signature of every :mod:`jaxnn.losses` function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxnn import losses as losses_lib
from jaxnn import metrics as metrics_lib
from jaxnn import precision as precision_lib
from jaxnn.core import Layer
from jaxnn.masking import apply_with_batch_mask
from jaxnn.metrics import Metric
from jaxnn.optimizers import get as get_optimizer
from jaxnn.train.state import TrainState
from jaxnn.types import Array, Params, PRNGKey, State

__all__ = ["make_eval_step", "make_train_step", "resolve_metrics", "split_batch"]

Stats = dict[str, Any]
Objective = Callable[..., tuple[Array, tuple[State, Stats]]]

# Losses that take logits: binary metrics named by string threshold at 0 instead of 0.5.
_LOGIT_LOSSES = (losses_lib.sigmoid_binary_cross_entropy, losses_lib.hinge)


def split_batch(batch: Any, *, where: str = "step") -> tuple[Any, Any, Any]:
    """Returns ``(x, y, sample_weight or None)`` from a tuple or dict batch.

    Example:
        >>> split_batch((1, 2))
        (1, 2, None)
        >>> split_batch({"x": 1, "y": 2, "sample_weight": 3})
        (1, 2, 3)
    """
    if isinstance(batch, Mapping):
        unknown = set(batch) - {"x", "y", "sample_weight"}
        if unknown or not {"x", "y"} <= set(batch):
            raise ValueError(
                f"{where}: a dict batch needs keys 'x' and 'y' and may have 'sample_weight'; "
                f"got {sorted(batch)}."
            )
        return batch["x"], batch["y"], batch.get("sample_weight")
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        return batch[0], batch[1], (batch[2] if len(batch) == 3 else None)
    raise ValueError(
        f"{where}: a batch must be (x, y), (x, y, sample_weight) or a dict with those keys; "
        f"got {type(batch).__name__}."
    )


def resolve_metrics(metrics: Sequence[Any], loss: Any = None) -> list[Metric]:
    """Turns names and :class:`~jaxnn.metrics.Metric` objects into metrics with unique names.

    Metric names given as strings threshold binary scores at 0 when the loss takes logits
    (``sigmoid_binary_cross_entropy``, ``hinge``), at 0.5 otherwise.

    Raises:
        ValueError: For an unknown name (listing the known ones) or two metrics of one name.

    Example:
        >>> [m.name for m in resolve_metrics(["accuracy", "auc"])]
        ['accuracy', 'auc']
    """
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    logits = any(loss is f for f in _LOGIT_LOSSES)
    resolved = [
        metrics_lib.get(m, logits=logits) if isinstance(m, str) else metrics_lib.get(m)
        for m in metrics
    ]
    names = [m.name for m in resolved]
    duplicates = sorted({n for n in names if names.count(n) > 1} | ({"loss"} & set(names)))
    if duplicates:
        raise ValueError(f"metrics: each metric needs its own name; {duplicates} repeat or clash.")
    return resolved


def _call_loss(loss: Callable, predictions: Array, y: Array, w: Array, class_weight: Any) -> Array:
    kwargs = {"sample_weight": w}
    if class_weight is not None:
        kwargs["class_weight"] = class_weight
    try:
        return loss(predictions, y, **kwargs)
    except TypeError as error:
        if "unexpected keyword" in str(error):
            raise TypeError(
                f"loss {getattr(loss, '__name__', loss)!r} must accept the keyword arguments "
                f"{sorted(kwargs)}, as every jaxnn.losses function does "
                f"(loss(predictions, targets, *, sample_weight=None, class_weight=None)); {error}"
            ) from error
        raise


def make_objective(
    model: Layer,
    loss: Callable | None,
    *,
    metrics: Sequence[Metric] = (),
    regularizer: Callable[[Params], Array] | None = None,
    class_weight: Any = None,
    precision: Any = None,
) -> Objective:
    """Returns ``objective(params, state, x, y, w, key, train, batch_mask=None)``.

    The objective returns ``(value, (new_state, stats))``: ``value`` is the weighted mean loss
    plus the regularizer; ``stats`` holds, per metric and for ``"loss"``, weighted sums that add
    across batches. Weights ``w`` are per sample; a weight of 0 (a padding row) removes the row
    from the loss, the gradient and every statistic. ``batch_mask`` (a boolean ``(N,)`` array,
    False on padding rows, or ``None``) is passed to ``model.apply`` when the model accepts it
    (:func:`jaxnn.masking.accepts_batch_mask`), so that layers reducing over the batch, such as
    ``BatchNorm``, see only the real rows. Under a ``precision`` policy
    (:mod:`jaxnn.precision`) the model computes in its dtype and the predictions reach the loss
    and the metrics in float32.
    """
    model = precision_lib.apply_policy(model, precision)

    def objective(
        params: Params,
        state: State,
        x: Array,
        y: Array,
        w: Array,
        key: PRNGKey,
        train: bool,
        batch_mask: Array | None = None,
    ) -> tuple[Array, tuple[State, Stats]]:
        predictions, new_state = apply_with_batch_mask(
            model, params, state, x, key=key, train=train, batch_mask=batch_mask
        )
        stats: Stats = {m.name: m.stats(predictions, y, w) for m in metrics}
        value = jnp.zeros((), jnp.float32)
        if loss is not None:
            value = _call_loss(loss, predictions, y, w, class_weight)
        if regularizer is not None:
            value = value + regularizer(params)
        if loss is not None or regularizer is not None:
            total_weight = jnp.sum(w)
            stats["loss"] = {"total": value * total_weight, "count": total_weight}
        return value, (new_state, stats)

    return objective


def logs_from_stats(stats: Stats, metrics: Sequence[Metric]) -> dict[str, Array]:
    """Metric values (and the mean loss) from accumulated statistics."""
    logs = {}
    if "loss" in stats:
        total, count = stats["loss"]["total"], stats["loss"]["count"]
        logs["loss"] = total / jnp.where(count > 0, count, 1.0)
    if _SCALE in stats:  # dynamic loss scaling: the mean scale and the skipped steps
        scale = stats[_SCALE]
        logs["loss_scale"] = scale["total"] / jnp.maximum(scale["count"], 1.0)
        logs["skipped_steps"] = scale["skipped"]
    for m in metrics:
        logs[m.name] = m.compute(stats[m.name])
    return logs


def _apply_updates(params: Params, updates: Params) -> Params:
    # A zero update keeps the old array, so frozen parameters stay bit-identical (-0.0 included).
    return jax.tree.map(lambda p, u: jnp.where(u == 0, p, p + u.astype(p.dtype)), params, updates)


_SCALE = "loss_scale"


def _value_and_grad(objective: Objective, scale: Array | None) -> Callable[..., Any]:
    """``value_and_grad`` of the objective; with a loss scale, of ``scale`` times its value.

    The value returned is the unscaled one; the gradients are scaled (the loss-scaling
    optimizer, :func:`jaxnn.precision.loss_scaled`, divides them).
    """
    if scale is None:
        return jax.value_and_grad(objective, has_aux=True)

    def scaled(*args: Any) -> tuple[Array, Any]:
        value, aux = objective(*args)
        return value * scale, (value, aux)

    grad_fn = jax.value_and_grad(scaled, has_aux=True)

    def run(*args: Any) -> tuple[tuple[Array, Any], Params]:
        (_, (value, aux)), grads = grad_fn(*args)
        return (value, aux), grads

    return run


def make_update(
    objective: Objective, optimizer: optax.GradientTransformation
) -> Callable[..., tuple[TrainState, Stats]]:
    """``update(train_state, x, y, w, batch_mask=None, *, halted=None) -> (train_state, stats)``.

    One optimizer step. ``batch_mask`` (a boolean ``(N,)`` array, False on the padding rows of a
    partial batch, or ``None``) goes to the objective with ``train=True``; give the padding rows
    weight 0 in ``w`` too, so that they leave the loss and the gradient. With ``halted`` (a
    boolean scalar), the step is applied only if ``halted`` is False and the loss is finite;
    otherwise the TrainState comes back as it was (``fit``'s NaN guard). The choice is a
    ``lax.cond``, so a skipped step computes no optimizer update and a taken one costs no select.

    When the optimizer state is a :class:`jaxnn.precision.LossScaleState` (the optimizer was
    wrapped in :func:`jaxnn.precision.loss_scaled`), the loss is multiplied by its scale before
    differentiation, and ``stats`` gains ``"loss_scale"`` (the scale after the step and whether
    the step was skipped for non-finite gradients).
    """

    def update(
        ts: TrainState,
        x: Array,
        y: Array,
        w: Array,
        batch_mask: Array | None = None,
        *,
        halted: Array | None = None,
    ) -> tuple[TrainState, Stats]:
        key = jax.random.fold_in(ts.key, ts.step)
        scaling = isinstance(ts.opt_state, precision_lib.LossScaleState)
        grad_fn = _value_and_grad(objective, ts.opt_state.scale if scaling else None)
        (value, (new_state, stats)), grads = grad_fn(
            ts.params, ts.state, x, y, w, key, True, batch_mask
        )

        def step(ts: TrainState) -> TrainState:
            updates, opt_state = optimizer.update(grads, ts.opt_state, ts.params)
            params = _apply_updates(ts.params, updates)
            return TrainState(params, new_state, opt_state, ts.step + 1, ts.key)

        if halted is None:
            new = step(ts)
        else:
            ok = jnp.logical_not(halted) & jnp.isfinite(value)
            new = jax.lax.cond(ok, step, lambda ts: ts, ts)
        if scaling:
            scale_state = new.opt_state
            stats[_SCALE] = {
                "total": scale_state.scale,
                "count": jnp.ones((), jnp.float32),
                "skipped": 1.0 - scale_state.finite.astype(jnp.float32),
            }
        return new, stats

    return update


def _weights(w: Any, x: Any) -> Array:
    n = jax.tree.leaves(x)[0].shape[0]
    return jnp.ones((n,), jnp.float32) if w is None else jnp.asarray(w, jnp.float32)


def make_train_step(
    model: Layer,
    loss: Callable | str,
    optimizer: optax.GradientTransformation | str,
    *,
    metrics: Sequence[Any] = (),
    regularizer: Callable[[Params], Array] | None = None,
    class_weight: Any = None,
    precision: Any = None,
) -> Callable[[TrainState, Any], tuple[TrainState, dict[str, Array]]]:
    r"""Returns a pure training step ``(train_state, batch) -> (train_state, logs)``.

    One step computes the predictions with ``train=True`` and the key
    ``fold_in(train_state.key, train_state.step)``, the loss
    :math:`L = \frac{\sum_n w_n \ell_n}{\sum_n w_n} + R(\theta)`, its gradient, and one
    optimizer update. ``logs`` has ``"loss"`` and one entry per metric, for this batch.

    Args:
        model: The model.
        loss: A loss function or name (:func:`jaxnn.losses.get`).
        optimizer: An ``optax.GradientTransformation`` or a name (default learning rate).
        metrics: Metric names or :class:`~jaxnn.metrics.Metric` objects.
        regularizer: Optional ``params -> scalar`` penalty added to the loss.
        class_weight: Optional class weights passed to the loss.
        precision: A precision policy (:mod:`jaxnn.precision`): ``"float32"`` (default),
            ``"bfloat16"``, ``"mixed_bfloat16"`` or ``"mixed_float16"``. Create the TrainState
            with the same policy (``TrainState.create(..., precision=...)``); under
            ``mixed_float16`` the logs gain ``loss_scale`` and ``skipped_steps``.

    Returns:
        The step function. It is not jitted: wrap it in ``jax.jit`` (and donate the state).

    Raises:
        ValueError: For an unknown precision, or (when called) ``mixed_float16`` with a
            TrainState whose optimizer state holds no loss scale.

    Example:
        >>> import jax, jax.numpy as jnp, optax
        >>> from jaxnn.layers import Dense
        >>> model = Dense(1)
        >>> step = jax.jit(make_train_step(model, "mse", optax.sgd(0.1)))
        >>> ts = TrainState.create(model, jax.random.key(0), (-1, 1), optax.sgd(0.1))
        >>> batch = (jnp.array([[1.0], [2.0]]), jnp.array([[2.0], [4.0]]))
        >>> for _ in range(500):
        ...     ts, logs = step(ts, batch)
        >>> float(logs["loss"]) < 1e-6, int(ts.step)
        (True, 500)
    """
    policy = precision_lib.get(precision, where="make_train_step")
    loss_fn = losses_lib.get(loss)
    resolved = resolve_metrics(metrics, loss_fn)
    objective = make_objective(
        model, loss_fn, metrics=resolved, regularizer=regularizer, class_weight=class_weight,
        precision=policy,
    )  # fmt: skip
    update = make_update(
        objective, precision_lib.prepare_optimizer(get_optimizer(optimizer), policy)
    )

    def train_step(ts: TrainState, batch: Any) -> tuple[TrainState, dict[str, Array]]:
        if policy.loss_scaling and not isinstance(ts.opt_state, precision_lib.LossScaleState):
            raise ValueError(
                f"train_step: precision={policy.name!r} scales the loss, and this TrainState's "
                f"optimizer state holds no loss scale; create it with "
                f"TrainState.create(..., precision={policy.name!r})."
            )
        x, y, w = split_batch(batch, where="train_step")
        ts, stats = update(ts, x, y, _weights(w, x))
        return ts, logs_from_stats(stats, resolved)

    return train_step


def make_eval_step(
    model: Layer,
    loss: Callable | str | None = None,
    *,
    metrics: Sequence[Any] = (),
    class_weight: Any = None,
    precision: Any = None,
) -> Callable[[TrainState, Any], dict[str, Array]]:
    """Returns a pure evaluation step ``(train_state, batch) -> logs`` (``train=False``).

    Args:
        model: The model.
        loss: A loss function or name; ``None`` to compute metrics only.
        metrics: Metric names or :class:`~jaxnn.metrics.Metric` objects.
        class_weight: Optional class weights passed to the loss.
        precision: A precision policy (:mod:`jaxnn.precision`, default float32).

    Returns:
        The step function.

    Raises:
        ValueError: If neither a loss nor a metric is given.

    Example:
        >>> import jax, jax.numpy as jnp, optax
        >>> from jaxnn.layers import Dense
        >>> ts = TrainState.create(Dense(2), jax.random.key(0), (-1, 3), optax.sgd(0.1))
        >>> step = make_eval_step(Dense(2), metrics=["accuracy"])
        >>> sorted(step(ts, (jnp.ones((4, 3)), jnp.zeros(4, int))))
        ['accuracy']
    """
    if loss is None and not metrics:
        raise ValueError("make_eval_step: give a loss, metrics, or both; got neither.")
    loss_fn = None if loss is None else losses_lib.get(loss)
    resolved = resolve_metrics(metrics, loss_fn)
    objective = make_objective(
        model, loss_fn, metrics=resolved, class_weight=class_weight, precision=precision
    )

    def eval_step(ts: TrainState, batch: Any) -> dict[str, Array]:
        x, y, w = split_batch(batch, where="eval_step")
        _, (_, stats) = objective(ts.params, ts.state, x, y, _weights(w, x), ts.key, False)
        return logs_from_stats(stats, resolved)

    return eval_step
