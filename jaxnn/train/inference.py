"""evaluate and predict: batched passes that return what one big call would."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import losses as losses_lib
from jaxnn import precision as precision_lib
from jaxnn.core import Layer
from jaxnn.metrics import Metric, merge
from jaxnn.train import data as data_lib
from jaxnn.train import placement as mesh_lib
from jaxnn.train import split
from jaxnn.train.runner import Evaluator, make_predictor
from jaxnn.train.sources import read_inputs
from jaxnn.train.state import TrainState
from jaxnn.train.step import make_objective, resolve_metrics
from jaxnn.train.streams import BatchStream, prefetched
from jaxnn.types import Array

__all__ = [
    "Training",
    "evaluate",
    "predict",
    "remember_training",
    "run_evaluation",
    "stream_logs",
    "trained_with",
]

# Steps per streamed chunk when the data stays on the host.
_STREAM_STEPS = 64

# What fit trained each returned TrainState with, keyed by the identity of its step array and
# dropped when that array is freed: evaluate's defaults (as Keras' compiled model has) and what
# save_model stores to resume training.
_TRAINED_WITH: dict[int, tuple[weakref.ref, Training]] = {}


class Training(NamedTuple):
    """What ``fit`` trained a TrainState with.

    Attributes:
        loss: The resolved loss function.
        metrics: The resolved metrics.
        fit_kwargs: ``fit``'s arguments that decide the training path (``loss``, ``optimizer``,
            ``learning_rate``, ``batch_size``, ``seed`` ...), as given, with ``initial_epoch``
            set to the next epoch to run, so that ``fit(..., **fit_kwargs)`` resumes.
        input_shape: The input shape, batch axis ``-1``.
    """

    loss: Callable
    metrics: list[Metric]
    fit_kwargs: dict[str, Any]
    input_shape: tuple[int, ...] | None


def remember_training(ts: TrainState, training: Training) -> None:
    """Records what ``fit`` trained ``ts`` with, for :func:`evaluate` and ``save_model``."""
    ident = id(ts.step)
    ref = weakref.ref(ts.step, lambda _: _TRAINED_WITH.pop(ident, None))
    _TRAINED_WITH[ident] = (ref, training)


def trained_with(ts: Any) -> Training | None:
    """What ``fit`` trained ``ts`` with, or ``None`` for a TrainState ``fit`` did not return.

    Example:
        >>> import jax, optax
        >>> from jaxnn.layers import Dense
        >>> trained_with(TrainState.create(Dense(1), jax.random.key(0), (-1, 2), optax.sgd(0.1)))
    """
    entry = _TRAINED_WITH.get(id(getattr(ts, "step", None)))
    if entry is None or entry[0]() is not ts.step:
        return None
    return entry[1]


def run_evaluation(
    evaluator: Evaluator, ts: TrainState, arrays: data_lib.Arrays, *, resident: bool
) -> dict[str, Any]:
    """Logs of one pass over ``arrays`` (already on the device when ``resident``)."""
    if resident:
        return to_python(evaluator.resident(ts, tuple(arrays)))
    idx, mask = data_lib.host_indices(evaluator.n, evaluator.batch_size)
    parts = [
        evaluator.streamed(ts, *data_lib.host_batches(arrays, idx[a:b], mask[a:b]))
        for a, b in data_lib.chunk_bounds(
            idx.shape[0], data_lib.host_chunk_steps(arrays, evaluator.batch_size, _STREAM_STEPS)
        )
    ]
    total = parts[0]
    for stats in parts[1:]:
        total = merge(total, stats)
    return to_python(evaluator.logs(total))


def stream_logs(evaluator: Evaluator, ts: TrainState, stream: BatchStream) -> dict[str, Any]:
    """Logs of one pass over a stream of batches, the next chunk read while one is evaluated."""
    total = None
    for _, batches, _, _ in prefetched(stream.chunks(0, _STREAM_STEPS)):
        stats = evaluator.streamed(ts, *batches)
        total = stats if total is None else merge(total, stats)
    return to_python(evaluator.logs(total))


def _stream_predict(streamed: Callable, ts: TrainState, stream: BatchStream) -> Array:
    """Outputs for every row of a stream of batches, padding rows dropped."""
    parts = []
    for _, ((x, _, _), mask), _, _ in prefetched(stream.chunks(0, _STREAM_STEPS)):
        out = streamed(ts, x)
        keep = np.asarray(mask).reshape(-1) > 0
        parts.append(out.reshape((-1, *out.shape[2:]))[keep])
    return jnp.concatenate(parts)


def evaluate(
    model: Layer,
    train_state: TrainState,
    data: Any,
    *,
    loss: Callable | str | None = None,
    metrics: Sequence[Any] = (),
    batch_size: int = 256,
    sample_weight: Any = None,
    class_weight: Any = None,
    data_on_device: Any = "auto",
    devices: Sequence[Any] | None = None,
    mesh: Any = None,
    shard_params: bool = False,
    precision: str | None = None,
) -> dict[str, float]:
    """Evaluates a model on ``(x, y)`` in batches, in evaluation mode (``train=False``).

    Losses and metrics are accumulated as weighted sums, so the result equals one call on all
    samples at once (up to float rounding), whatever the batch size.

    Args:
        model: The model.
        train_state: The TrainState (its params and state are used).
        data: ``(x, y)`` or ``(x, y, sample_weight)`` arrays (memory-mapped ones stream from
            their file), or a stream of such batches (an iterable, a generator, a Grain
            dataset: one pass, ``batch_size`` then unused).
        loss: A loss function or name; ``None`` to compute metrics only. When neither ``loss``
            nor ``metrics`` is given and ``train_state`` is the one :func:`jaxnn.fit` returned,
            the loss and metrics it trained with (as Keras' ``model.evaluate`` after
            ``compile``).
        metrics: Metric names or :class:`~jaxnn.metrics.Metric` objects.
        batch_size: Samples per batch (default 256); a partial last batch is masked.
        sample_weight: Optional ``(N,)`` weights.
        class_weight: Optional class weights passed to the loss.
        data_on_device: ``"auto"`` (default: copy the data to the device if it fits), ``True``,
            or ``False`` (stream it from the host).
        devices: Devices to split every batch over, as for :func:`jaxnn.fit`; the batch size is
            rounded up to a multiple of their number (the extra rows are masked padding). Data
            split by rows over them (one part per host) is evaluated where it lies.
        mesh: A :class:`jax.sharding.Mesh` with a ``data`` axis, instead of ``devices``.
        shard_params: Split the parameters over the devices instead of replicating them.
        precision: The precision policy to compute in (:mod:`jaxnn.precision`). Default: the
            one :func:`jaxnn.fit` trained ``train_state`` with, else float32.

    Returns:
        A dict of Python floats (arrays for per-class metrics): ``loss`` and one per metric.

    Raises:
        ValueError: If neither loss nor metrics is given for a TrainState that ``fit`` did not
            return, or for bad data (no rows, mismatched lengths, NaN or Inf with the first bad
            row, labels that do not fit the loss).

    Example:
        >>> import jax, jax.numpy as jnp, optax
        >>> from jaxnn.layers import Dense
        >>> from jaxnn.train import TrainState
        >>> model = Dense(1, kernel_init="ones")
        >>> ts = TrainState.create(model, jax.random.key(0), (-1, 1), optax.sgd(0.1))
        >>> x = jnp.arange(5.0)[:, None]
        >>> evaluate(model, ts, (x, x + 1), loss="mse", batch_size=2)
        {'loss': 1.0}
        >>> from jaxnn.train import fit
        >>> ts, _ = fit(model, (x, x + 1), loss="mse", metrics=["mae"], batch_size=2, verbose=0)
        >>> sorted(evaluate(model, ts, (x, x + 1)))  # fit's own loss and metrics
        ['loss', 'mae']
    """
    where = "evaluate"
    placement = mesh_lib.resolve_mesh(devices, mesh, where=where)
    policy = _policy(precision, train_state, where)
    if loss is None and not metrics:
        remembered = trained_with(train_state)
        if remembered is None:
            raise ValueError(
                f"{where}: give loss=, metrics= or both, e.g. loss='mse' (only a TrainState "
                f"returned by fit brings its own)."
            )
        loss, metrics = remembered.loss, remembered.metrics
    stream = read_inputs(data, where=where, need_y=True)
    if stream is not None:
        if sample_weight is not None:
            raise ValueError(f"{where}: a stream carries its weights in its batches; got "
                             f"sample_weight= too.")  # fmt: skip
        batch_size = stream.spec.batch
        mesh_lib.check_batch_size(batch_size, placement, where=where)
        data = (stream.first.x, stream.first.y, stream.first.w)  # checks and shapes only
    on_devices = split.is_split_data(data, placement, where=where)
    if on_devices:
        split.refuse_streaming(data_on_device, where=where)
        arrays, _ = split.split_arrays(data, sample_weight, placement, where=where)
    else:
        arrays = data_lib.check_arrays(data, sample_weight, where=where)
    batch_size = data_lib.check_batch_size(batch_size, len(arrays), where=where, warn=False)
    loss_fn = None if loss is None else losses_lib.get(loss)
    resolved = resolve_metrics(metrics, loss_fn)
    objective = make_objective(
        model, loss_fn, metrics=resolved, class_weight=class_weight, precision=policy
    )
    resident = on_devices or data_lib.resident_on_device(arrays, data_on_device, where=where)
    if resident and not on_devices:
        arrays = data_lib.to_device(arrays, placement)
    if placement is not None:
        train_state = mesh_lib.shard_state(train_state, placement, shard_params)
    evaluator = Evaluator(
        objective,
        resolved,
        n=len(arrays),
        batch_size=mesh_lib.padded_batch_size(batch_size, placement),
        batch_sharding=mesh_lib.batch_sharding(placement),
        split_mesh=placement if on_devices else None,
    )
    if stream is not None:
        return stream_logs(evaluator, train_state, stream)
    return run_evaluation(evaluator, train_state, arrays, resident=resident)


def _policy(precision: Any, train_state: Any, where: str) -> precision_lib.Policy:
    """The policy given, else the one ``fit`` trained ``train_state`` with, else float32."""
    if precision is None:
        remembered = trained_with(train_state)
        precision = None if remembered is None else remembered.fit_kwargs.get("precision")
    return precision_lib.get(precision, where=where)


def to_python(logs: dict[str, Array]) -> dict[str, Any]:
    """Scalars as Python floats, other arrays as NumPy arrays."""
    host = jax.device_get(logs)
    return {k: float(v) if np.ndim(v) == 0 else np.asarray(v) for k, v in host.items()}


def predict(
    model: Layer,
    train_state: TrainState,
    x: Any,
    *,
    batch_size: int = 256,
    data_on_device: Any = "auto",
    devices: Sequence[Any] | None = None,
    mesh: Any = None,
    shard_params: bool = False,
    precision: str | None = None,
) -> Array:
    """The model's outputs for ``x`` in evaluation mode, computed in batches.

    Args:
        model: The model.
        train_state: The TrainState (its params and state are used).
        x: Inputs ``(N, ...)`` (memory-mapped ones stream from their file), or a stream of
            batches of inputs (``x`` or ``(x, y[, sample_weight])``, the targets unused).
        batch_size: Samples per batch (default 256; a stream's batches are its own).
        data_on_device: ``"auto"`` (default), ``True`` or ``False``, as for :func:`evaluate`.
        devices: Devices to split every batch over, as for :func:`evaluate`.
        mesh: A :class:`jax.sharding.Mesh` with a ``data`` axis, instead of ``devices``.
        shard_params: Split the parameters over the devices instead of replicating them.
        precision: The precision policy to compute in (:mod:`jaxnn.precision`). Default: the
            one :func:`jaxnn.fit` trained ``train_state`` with, else float32.

    Returns:
        The outputs for all ``N`` samples, as one array (padding rows removed). For ``x`` split
        by rows over the devices (:func:`jaxnn.distributed.process_local_array`), each device
        predicts its own rows and the outputs are a global array split the same way; each
        process reads its rows with :func:`jaxnn.distributed.local_rows`.

    Raises:
        ValueError: For NaN or Inf in ``x`` (the first bad row is named).

    Example:
        >>> import jax, jax.numpy as jnp, optax
        >>> from jaxnn.layers import Dense
        >>> from jaxnn.train import TrainState
        >>> model = Dense(2)
        >>> ts = TrainState.create(model, jax.random.key(0), (-1, 3), optax.sgd(0.1))
        >>> predict(model, ts, jnp.ones((5, 3)), batch_size=2).shape
        (5, 2)
    """
    where = "predict"
    placement = mesh_lib.resolve_mesh(devices, mesh, where=where)
    model = precision_lib.apply_policy(model, _policy(precision, train_state, where))
    stream = read_inputs(x, where=where, need_y=False)
    if stream is not None:
        mesh_lib.check_batch_size(stream.spec.batch, placement, where=where)
        if placement is not None:
            train_state = mesh_lib.shard_state(train_state, placement, shard_params)
        sharding = mesh_lib.batch_sharding(placement)
        _, streamed = make_predictor(model, n=1, batch_size=1, batch_sharding=sharding)
        return _stream_predict(streamed, train_state, stream)
    on_devices = split.is_split(x, placement, where=where)
    if on_devices and placement is not None:  # each device predicts its own rows
        split.refuse_streaming(data_on_device, where=where)
        split.split_inputs(x, placement, where=where)
        batch_size = data_lib.check_batch_size(batch_size, x.shape[0], where=where, warn=False)
        batch_size = mesh_lib.padded_batch_size(batch_size, placement)
        train_state = mesh_lib.shard_state(train_state, placement, shard_params)
        return split.local_predict(model, train_state, x, placement, batch_size)
    arrays = data_lib.check_arrays(x, None, where=where, need_y=False)
    n = len(arrays)
    batch_size = data_lib.check_batch_size(batch_size, n, where=where, warn=False)
    batch_size = mesh_lib.padded_batch_size(batch_size, placement)
    if placement is not None:
        train_state = mesh_lib.shard_state(train_state, placement, shard_params)
    on_device, streamed = make_predictor(
        model, n=n, batch_size=batch_size, batch_sharding=mesh_lib.batch_sharding(placement)
    )
    if data_lib.resident_on_device(arrays, data_on_device, where=where):
        out = on_device(train_state, data_lib.to_device(arrays, placement).x)
    else:
        idx, _ = data_lib.host_indices(n, batch_size)
        parts = [
            streamed(train_state, jax.device_put(data_lib.take_rows(arrays.x, idx[a:b])))
            for a, b in data_lib.chunk_bounds(
                idx.shape[0],
                data_lib.host_chunk_steps(
                    data_lib.Arrays(arrays.x, None, None), batch_size, _STREAM_STEPS
                ),
            )
        ]
        out = jnp.concatenate(parts)
    return out.reshape((-1,) + out.shape[2:])[:n]
