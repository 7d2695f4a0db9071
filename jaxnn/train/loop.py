"""fit: train a model on arrays or a stream of batches, one compiled ``lax.scan`` per chunk."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from jaxnn import losses as losses_lib
from jaxnn import optimizers
from jaxnn import precision as precision_lib
from jaxnn.callbacks import Callback, FitRun, History, ProgressBar, TerminateOnNaN
from jaxnn.core import Layer
from jaxnn.train import data as data_lib
from jaxnn.train import placement as mesh_lib
from jaxnn.train import sources
from jaxnn.train.driver import RunOptions, run_fit
from jaxnn.train.inference import Training, remember_training
from jaxnn.train.state import _COMPILE_FAST, TrainState, warm_started
from jaxnn.train.step import make_objective, make_update, resolve_metrics
from jaxnn.types import Params

__all__ = ["default_steps_per_chunk", "fit"]


def _check_targets(
    model: Layer, ts: TrainState, loss: Callable, arrays: data_lib.Arrays, class_weight: Any
) -> None:
    """Traces the loss once on the model's output shape with all the real targets.

    Inside ``fit``'s compiled steps a loss cannot see label values, so this is where labels out
    of range, targets outside [0, 1] or shapes that do not fit the model's output are caught,
    before training. The targets and weights are closed over as concrete arrays, so the loss's
    own value checks see them, while ``eval_shape`` compiles and runs nothing.
    """
    x_spec = jax.ShapeDtypeStruct((1,) + tuple(arrays.x.shape[1:]), arrays.x.dtype)
    out = jax.eval_shape(lambda x: model.apply(ts.params, ts.state, x)[0], x_spec)
    predictions = jax.ShapeDtypeStruct((len(arrays),) + tuple(out.shape[1:]), out.dtype)
    kwargs = {} if class_weight is None else {"class_weight": class_weight}
    try:
        jax.eval_shape(lambda p: loss(p, arrays.y, sample_weight=arrays.w, **kwargs), predictions)
    except (ValueError, TypeError) as error:
        raise type(error)(
            f"fit: the targets y do not fit the loss {getattr(loss, '__name__', loss)!r} and the "
            f"model's output of shape {(-1,) + tuple(out.shape[1:])}: {error}"
        ) from error


def _check_initial_state(model: Layer, ts: TrainState, opt: Any, input_shape: tuple) -> None:
    """The initial state must belong to this model and this optimizer (structure and shapes)."""
    _, params, state = jax.eval_shape(lambda: model.init(jax.random.key(0), input_shape))
    expected = {"params": params, "state": state, "opt_state": jax.eval_shape(opt.init, params)}
    for name, want in expected.items():
        got = getattr(ts, name)
        same = str(jax.tree.structure(got)) == str(jax.tree.structure(want)) and all(
            tuple(np.shape(g)) == tuple(w.shape)
            for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True)
        )
        if not same:
            cause = "optimizer (and freeze patterns)" if name == "opt_state" else "model and input"
            raise ValueError(
                f"fit: initial_state.{name} does not match this {cause}; build the initial "
                f"state with TrainState.create from the same model, optimizer and precision "
                f"(jaxnn.optimizers.freeze(...) too, when freezing)."
            )


# The most epochs one compiled run holds (the size of its table of logs).
_MAX_EPOCHS_PER_RUN = 64

# Steps per compiled chunk of a stream of batches, by default: the host reads the next chunk
# while the device trains on this one.
_STREAM_STEPS = 64


def _setup(
    model: Layer, input_shape: tuple, opt: Any, seed: int, n_split: int, create: bool
) -> tuple[jax.Array, jax.Array | None, TrainState | None]:
    """Everything random that ``fit`` draws before training, as one compiled program.

    The shuffle key, the validation split's row permutation (of ``n_split`` rows; none for 0)
    and, if ``create``, the initial TrainState (``TrainState.create`` with ``fold_in(key, 0)``).
    It runs once, so it compiles at XLA's lowest optimisation level (2-3x faster, see
    ``TrainState.create``); integer work such as the keys and the permutation is bit-identical.
    """

    def draw(seed: Any) -> tuple[jax.Array, jax.Array | None, TrainState | None]:
        key = jax.random.key(seed)
        init_key, split_key, shuffle_key = (jax.random.fold_in(key, i) for i in range(3))
        order = jax.random.permutation(split_key, n_split) if n_split else None
        ts = TrainState.create(model, init_key, input_shape, opt) if create else None
        return shuffle_key, order, ts

    return jax.jit(draw, compiler_options=_COMPILE_FAST)(seed)


def _check_epochs(epochs: Any, initial_epoch: Any) -> None:
    for arg, value, low in (("epochs", epochs, 1), ("initial_epoch", initial_epoch, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"fit: {arg} must be an int >= {low}; got {value!r}.")
    if initial_epoch >= epochs:
        raise ValueError(
            f"fit: initial_epoch ({initial_epoch}) must be below epochs ({epochs}), the epoch "
            f"to stop before."
        )


# Layer types whose steps run far slower inside a lax.scan body than as separate compiled steps
# on XLA's CPU backend: XLA's CPU convolution (which computes a Conv layer's input gradient, and the
# whole layer with algorithm="xla") took 142 ms in a loop body against 21 ms outside one on T3
# (experiments/bench_cnn.py), so such models run one compiled step per chunk, without a loop.
_SLOW_IN_SCAN_ON_CPU = frozenset(
    {"Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose"}
)


def _layer_types(config: Any) -> set[str]:
    """Every ``type`` named in a (nested) layer config."""
    if isinstance(config, dict):
        found = {config["type"]} if isinstance(config.get("type"), str) else set()
        for value in config.values():
            found |= _layer_types(value)
        return found
    if isinstance(config, (list, tuple)):
        return set().union(*(_layer_types(c) for c in config)) if config else set()
    return set()


def default_steps_per_chunk(model: Layer, steps: int, backend: str | None = None) -> int:
    """How many steps ``fit`` fuses into one compiled scan when the caller does not say.

    The whole epoch, except on the CPU backend for models with layers that are slow in a scan
    body (convolutions): there, one compiled step per batch, so ``fit`` is never slower than a
    per-step jit loop.

    Example:
        >>> from jaxnn.layers import Dense
        >>> default_steps_per_chunk(Dense(2), 100, backend="cpu")
        100
    """
    backend = backend or jax.default_backend()
    if backend == "cpu" and _layer_types(model.config) & _SLOW_IN_SCAN_ON_CPU:
        return 1
    return steps


def _default_callbacks(
    callbacks: Sequence[Callback], verbose: int, *, stop_on_nan: bool
) -> list[Callback]:
    result = list(callbacks)
    for cb in result:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks must be jaxnn.callbacks.Callback objects; got {cb!r}.")
    if stop_on_nan and not any(isinstance(cb, TerminateOnNaN) for cb in result):
        result.append(TerminateOnNaN())
    if verbose and not any(isinstance(cb, ProgressBar) for cb in result):
        result.append(ProgressBar(verbose))
    return result


def fit(
    model: Layer,
    data: Any,
    *,
    loss: Callable | str,
    optimizer: Any = "adam",
    learning_rate: Any = None,
    epochs: int = 1,
    batch_size: int = 32,
    validation_split: float | None = None,
    validation_data: Any = None,
    shuffle: bool = True,
    class_weight: Any = None,
    sample_weight: Any = None,
    metrics: Sequence[Any] = (),
    callbacks: Sequence[Callback] = (),
    seed: int = 0,
    initial_state: TrainState | None = None,
    warm_start: tuple[Params, Any] | None = None,
    initial_epoch: int = 0,
    freeze: Sequence[Any] = (),
    regularizer: Callable[[Params], Any] | None = None,
    clip_norm: float | None = None,
    verbose: int = 1,
    steps_per_chunk: int | None = None,
    data_on_device: Any = "auto",
    validation_batch_size: int = 256,
    devices: Sequence[Any] | None = None,
    mesh: Any = None,
    shard_params: bool = False,
    on_nan: str = "stop",
    precision: str | None = None,
    steps_per_epoch: int | None = None,
    input_position: dict[str, Any] | None = None,
) -> tuple[TrainState, History]:
    """Trains ``model`` on ``(x, y)`` or a stream of batches; returns the TrainState and History.

    The data is copied to the device once and shuffled there; each epoch (or each chunk of
    ``steps_per_chunk`` steps) runs as one compiled ``lax.scan``, and when every callback only
    reads the logs (:attr:`~jaxnn.callbacks.Callback.logs_only`), several epochs with their
    validation run in one compiled call, dispatched before the previous call's logs are read.
    Losses and metrics are summed on the device and read once per call. The TrainState is donated
    to each call (one copy on the device); a step whose loss is NaN or Inf is not applied and
    training stops with the last finite state. The last, partial batch is masked (its padding
    rows weigh 0, and layers that reduce over the batch get ``batch_mask``), never dropped and
    never compiled again. Data too large for the device streams from the host chunk by chunk
    with the same results.

    Randomness comes from ``seed``: the parameters, the validation split, the shuffle of epoch
    ``e`` (``fold_in(key, e)``) and the dropout keys of step ``s`` (``fold_in(train_key, s)``).
    The same seed gives bit-identical results on CPU, and training 2 epochs, saving, and resuming
    with ``initial_state=`` and ``initial_epoch=2`` equals 4 epochs without a break.

    Args:
        model: The model.
        data: ``(x, y)`` or ``(x, y, sample_weight)``, NumPy or JAX arrays; with several
            devices also global arrays split by rows over the mesh, each process holding its own
            rows (:func:`jaxnn.distributed.process_local_array`): each device then trains on
            its own rows (:mod:`jaxnn.train.split`). Memory-mapped arrays
            (``np.load(path, mmap_mode="r")``) stream from their file without being loaded.
            Or a stream of batches ``(x, y[, sample_weight])``: an iterable, a generator or a
            Grain dataset (:mod:`jaxnn.train.streams`); its first batch fixes the batch size
            (``batch_size`` and ``shuffle`` are then the stream's business), a smaller last
            batch is masked, and every batch is checked as it arrives.
        loss: A loss function or name (:func:`jaxnn.losses.get`).
        optimizer: An Optax transformation or a name (:func:`jaxnn.optimizers.get`).
        learning_rate: A number or an Optax schedule for a named optimizer (default per name).
        epochs: The epoch to stop before (default 1); with ``initial_epoch=0``, the number of
            epochs.
        batch_size: Samples per step (default 32).
        validation_split: A fraction in (0, 1) of the data to hold out, drawn at random with
            ``seed`` (Keras takes the last rows instead).
        validation_data: ``(x, y)`` or ``(x, y, sample_weight)`` to validate on instead.
        shuffle: Shuffle the training data every epoch (default ``True``).
        class_weight: Class weights passed to the training loss (a sequence or a dict).
        sample_weight: ``(N,)`` training sample weights.
        metrics: Metric names or :class:`~jaxnn.metrics.Metric` objects, e.g. ``["accuracy"]``.
        callbacks: :class:`~jaxnn.callbacks.Callback` objects.
        seed: The seed of every random choice (default 0).
        initial_state: A TrainState to continue from (e.g. loaded from a checkpoint). It is
            copied, so the one passed stays valid.
        warm_start: A ``(params, state)`` pair to start from instead of the drawn values, whole
            or for some layers only (``({"base": params}, {"base": state})``), e.g. layers
            reused from a trained model (:func:`jaxnn.submodel`) under a new head. The optimizer
            state starts fresh. Not with ``initial_state``.
        initial_epoch: The epoch to start at, for resuming (default 0).
        freeze: Path patterns of parameters to keep fixed (:func:`jaxnn.optimizers.freeze`).
        regularizer: A ``params -> scalar`` penalty added to the loss (:mod:`jaxnn.regularizers`).
        clip_norm: Clip gradients to this global norm.
        verbose: 0 silent, 1 a progress bar on a terminal (lines elsewhere), 2 a line per epoch.
        steps_per_chunk: Steps per compiled chunk. Default: the whole epoch, except on CPU for
            models with convolutions, which run one compiled step per batch (a convolution is
            much slower inside a scan body there). Smaller chunks report progress more often.
        data_on_device: ``"auto"`` (copy to the device if the data fits), ``True`` or ``False``.
        validation_batch_size: Batch size of the validation pass (default 256).
        devices: Devices to train on in parallel, e.g. ``jax.devices()``: every batch is split
            over them (:mod:`jaxnn.distributed`); ``batch_size`` is the global batch and must
            be a multiple of their number. One device (the default) is the ordinary path.
        mesh: A :class:`jax.sharding.Mesh` with a ``data`` axis, instead of ``devices``.
        shard_params: With several devices, split parameters and optimizer state over them
            (FSDP-style) instead of replicating them; the results are the same.
        on_nan: ``"stop"`` (default): at the first NaN or Inf loss the step is not applied,
            training stops with a warning naming the epoch and step, the returned TrainState is
            the last finite one and ``History.non_finite`` is True. ``"continue"``: apply every
            update and train on whatever the values become, as Keras does without its
            ``TerminateOnNaN`` callback.
        precision: ``"float32"`` (default), ``"bfloat16"``, ``"mixed_bfloat16"`` or
            ``"mixed_float16"`` (:mod:`jaxnn.precision`): under a mixed policy the parameters
            and optimizer state stay float32 and the model computes in the low dtype, with
            losses and metrics in float32; ``mixed_float16`` adds dynamic loss scaling and logs
            ``loss_scale`` and ``skipped_steps``. ``x`` may be bfloat16 or float16 data.
        steps_per_epoch: For a stream: batches per epoch (default: one pass; a generator
            without it trains until it ends).
        input_position: For a stream: where to start, as a checkpoint
            (:attr:`jaxnn.checkpoint.Checkpoint.input_position`) or a whole-model file
            (``fit_kwargs["input_position"]``) saved it, so that a resumed run sees the batches
            an uninterrupted one would have.

    Returns:
        ``(train_state, history)``; ``history.history`` maps ``loss``, each metric and their
        ``val_`` versions to per-epoch lists.

    Raises:
        TypeError: For ``x``, ``y`` or ``sample_weight`` of strings or objects (dtype named).
        ValueError: For bad data (no rows, mismatched lengths of x, y and sample_weight, NaN or
            Inf with the first bad row named, targets that do not fit the loss), a validation split
            outside (0, 1), a batch size below 1, unknown optimizer, loss or metric names (the
            known ones listed), or bad epochs; for a mesh without a ``data`` axis, devices of
            mixed platforms, or a batch size that is not a multiple of the number of devices;
            for a stream that is empty, yields a batch unlike the first (its number and what
            was expected named), or cannot give ``validation_split`` (no length, no
            ``steps_per_epoch``).
        ImportError: For a Grain dataset without Grain installed (``pip install 'jaxnn[grain]'``).

    Example:
        >>> import jax.numpy as jnp, numpy as np
        >>> from jaxnn.layers import Dense
        >>> x = np.random.default_rng(0).normal(size=(200, 2)).astype("float32")
        >>> y = (x[:, 0] > 0).astype("int32")
        >>> ts, history = fit(Dense(2), (x, y), loss="softmax_cross_entropy", optimizer="adam",
        ...                   learning_rate=0.1, epochs=20, batch_size=32, metrics=["accuracy"],
        ...                   verbose=0)
        >>> history.history["accuracy"][-1] > 0.95
        True
    """
    where = "fit"
    if on_nan not in ("stop", "continue"):
        raise ValueError(f"fit: on_nan must be 'stop' or 'continue'; got {on_nan!r}.")
    policy = precision_lib.get(precision, where=where)
    precision_lib.check_layer_dtypes(model, policy)
    placement = mesh_lib.resolve_mesh(devices, mesh, where=where)
    _check_epochs(epochs, initial_epoch)
    _check_position(input_position, initial_epoch)
    source = sources.read(
        data, sample_weight, placement=placement, validation_split=validation_split,
        data_on_device=data_on_device, steps_per_epoch=steps_per_epoch, position=input_position,
    )  # fmt: skip
    loss_fn = losses_lib.get(loss)
    resolved = resolve_metrics(metrics, loss_fn)
    opt = optimizers.freeze(optimizers.get(optimizer, learning_rate, clip_norm=clip_norm), freeze)
    opt = precision_lib.prepare_optimizer(opt, policy)
    input_shape = source.input_shape
    if initial_state is not None:
        _check_initial_state(model, initial_state, opt, input_shape)
    n_split = source.rows_to_split(validation_split)
    shuffle_key, order, created = _setup(
        model, input_shape, opt, seed, n_split, initial_state is None
    )
    # fit donates the state it trains: a given initial_state is copied, so the caller's stays.
    ts = created if created is not None else jax.device_put(initial_state, may_alias=False)
    if warm_start is not None:
        if initial_state is not None:
            raise ValueError("fit: give initial_state (to resume) or warm_start, not both.")
        ts = warm_started(ts, warm_start, opt, where=where)
    if policy.param_dtype != "float32":  # "bfloat16": parameters and optimizer state too
        ts = ts._replace(
            params=precision_lib.cast_params(ts.params, policy),
            opt_state=precision_lib.cast_floating(ts.opt_state, policy.param_dtype),
        )
    source = source.split(validation_split, validation_data, order, placement)
    batch_size = source.batch_size(batch_size)
    mesh_lib.check_batch_size(batch_size, placement, where=where)
    source.check_targets(
        lambda arrays, training: _check_targets(
            model, ts, loss_fn, arrays, class_weight if training else None
        )
    )
    source = source.placed(placement, data_on_device)
    if placement is not None:
        ts = mesh_lib.shard_state(ts, placement, shard_params)
        shuffle_key = mesh_lib.replicated(shuffle_key, placement)
    objective = make_objective(
        model, loss_fn, metrics=resolved, regularizer=regularizer, class_weight=class_weight,
        precision=policy,
    )  # fmt: skip
    options = RunOptions(
        batch_size, shuffle, epochs, initial_epoch, _chunk(model, source, steps_per_chunk,
        batch_size), validation_batch_size, on_nan == "stop", placement, _MAX_EPOCHS_PER_RUN,
    )  # fmt: skip
    run = FitRun(model, ts, History(), epochs, 0)
    cbs = _default_callbacks(callbacks, verbose, stop_on_nan=on_nan == "stop")
    evaluation = make_objective(model, loss_fn, metrics=resolved, precision=policy)
    run_fit(source, make_update(objective, opt), evaluation, resolved, shuffle_key, options,
            run=run, cbs=cbs)  # fmt: skip
    fit_kwargs = {
        "loss": loss,
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "clip_norm": clip_norm,
        "freeze": list(freeze),
        "metrics": list(metrics),
        "batch_size": batch_size,
        "validation_split": validation_split,
        "shuffle": shuffle,
        "class_weight": class_weight,
        "regularizer": regularizer,
        "seed": seed,
        "precision": policy.name,
        "initial_epoch": initial_epoch + len(run.history.epoch),
    }
    if source.stream:
        fit_kwargs["steps_per_epoch"] = steps_per_epoch
        fit_kwargs["input_position"] = run.input_position
    training = Training(loss_fn, resolved, fit_kwargs, input_shape)
    remember_training(run.train_state, training)
    return run.train_state, run.history


def _check_position(position: Any, initial_epoch: int) -> None:
    """A saved input position belongs to the epoch that the run resumes at."""
    epoch = position.get("epoch") if isinstance(position, dict) else None
    if epoch is not None and epoch != initial_epoch:
        raise ValueError(
            f"fit: input_position was saved after epoch {epoch}, and initial_epoch is "
            f"{initial_epoch}; resume with initial_epoch={epoch} (the file's fit_kwargs hold "
            f"both)."
        )


def _chunk(model: Layer, source: sources.FitData, steps_per_chunk: Any, batch_size: int) -> Any:
    """Steps per compiled chunk: the caller's, else :func:`default_steps_per_chunk`'s.

    Arrays streamed from the host (too large for the device, or memory-mapped) are gathered a
    chunk at a time, so by default a chunk holds at most ``data.HOST_CHUNK_BYTES``: host memory
    then holds a few chunks, not a whole epoch of rows.
    """
    if steps_per_chunk is not None:
        return steps_per_chunk
    if source.stream:
        return default_steps_per_chunk(model, _STREAM_STEPS)
    steps = default_steps_per_chunk(model, data_lib.num_steps(len(source.train), batch_size))
    return steps if source.resident else data_lib.host_chunk_steps(source.train, batch_size, steps)
