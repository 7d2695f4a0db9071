"""One configuration on one backend and precision: compile, time, count, and make a record.

The train step is :func:`jaxnn.make_train_step` (softmax cross-entropy, Adam) on a synthetic
batch, under a precision policy (:mod:`jaxnn.precision`): the ``TrainState``, the step and
``fit`` all take the same ``precision``, so the benchmark trains exactly as a user's
``fit(..., precision=...)`` does (float32 data, the policy's casts inside the model, float32
losses, float32 master weights and loss scaling where the policy has them). Its compile time
is ``jit(step).lower(...).compile()`` timed alone; FLOPs, bytes and memory come from that
compiled step. The steady-state time is ``jaxnn.fit``'s compiled epoch:
``fit`` runs ``1 + repeats`` epochs of ``steps`` batches, the first (which compiles) is dropped,
and each other epoch's time over ``steps`` is one run. With ``step=True`` the jitted step is
also timed alone, one call per batch, after a warm-up call.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnn.bench.cost import compiled_cost, vendor_peak_flops
from jaxnn.bench.families import Built, build, resolve_precision
from jaxnn.bench.timing import Clock, Timing, time_calls, time_once
from jaxnn.callbacks import Callback
from jaxnn.train.loop import fit
from jaxnn.train.state import TrainState
from jaxnn.train.step import make_train_step

__all__ = ["SCHEMA_VERSION", "measure", "record_header", "versions"]

SCHEMA_VERSION = 2
LEARNING_RATE = 1e-3


def versions() -> dict[str, str]:
    """Versions of jaxnn, jax, jaxlib, optax, numpy and Python.

    Example:
        >>> sorted(versions())
        ['jax', 'jaxlib', 'jaxnn', 'numpy', 'optax', 'python']
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("jaxnn")
    except PackageNotFoundError:  # run from a source tree that is not installed
        own = "unknown"
    return {
        "jaxnn": own,
        "jax": jax.__version__,
        "jaxlib": version("jaxlib"),
        "optax": optax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _data(built: Built, n: int) -> tuple[Any, Any]:
    """``n`` synthetic examples: float32 features or int32 token ids, and int32 labels."""
    rng = np.random.default_rng(0)
    x: np.ndarray
    if built.tokens:
        x = rng.integers(0, built.num_classes, size=(n, *built.x_shape[1:])).astype(np.int32)
    else:
        x = rng.standard_normal((n, *built.x_shape[1:]), dtype=np.float32)
    y = rng.integers(0, built.num_classes, size=(n, *built.y_shape[1:])).astype(np.int32)
    return jnp.asarray(x), jnp.asarray(y)


def _fit_timing(
    built: Built, ts: TrainState, data: Any, batch: int, repeats: int, precision: str
) -> Timing:
    steps = data[0].shape[0] // batch
    _, history = fit(
        built.model,
        data,
        loss="softmax_cross_entropy",
        optimizer=optax.adam(LEARNING_RATE),
        epochs=1 + repeats,
        batch_size=batch,
        initial_state=ts,
        precision=precision,
        verbose=0,
        steps_per_chunk=steps,
        # A callback that may touch the state (logs_only False) makes fit run one epoch per
        # compiled call, so the first epoch alone holds the compilation; with only logs-only
        # callbacks fit runs several epochs per call and shares the call's time among them.
        callbacks=[Callback()],
    )
    times = tuple(t / steps for t in history.epoch_times[1:])
    return Timing(float(np.median(times)), min(times), max(times), times)


def measure(
    config: Mapping[str, Any],
    device: Any,
    precision: str = "float32",
    *,
    steps: int = 4,
    repeats: int = 3,
    step: bool = False,
    clock: Clock = time.perf_counter,
) -> dict[str, Any]:
    """Measures one configuration on one device: a record of the :mod:`jaxnn.bench` schema.

    Args:
        config: ``{"family": ..., fields...}``.
        device: A ``jax.Device``.
        precision: The policy (default ``"float32"``): ``"bfloat16"`` (params, Adam state and
            compute), ``"mixed_bfloat16"`` (float32 params, bfloat16 compute) or
            ``"mixed_float16"`` (the same with float16 and dynamic loss scaling). The older
            dtype name ``"float16"`` runs ``"mixed_float16"``.
        steps: Batches per timed ``fit`` epoch (default 4).
        repeats: Timed epochs (and timed steps with ``step=True``) (default 3).
        step: Also time the jitted step alone.
        clock: Seconds as a float (compile time and the step timing use it).

    Returns:
        The record (without the peak and speedup figures, which the sweep adds).

    Raises:
        ValueError: For an unknown precision (see :func:`jaxnn.bench.families.resolve_precision`).
    """
    policy = resolve_precision(precision).name
    built = build(config)
    batch = built.x_shape[0]
    optimizer = optax.adam(LEARNING_RATE)
    with jax.default_device(device):
        ts = TrainState.create(
            built.model, jax.random.key(0), built.x_shape, optimizer, precision=policy
        )
        x, y = _data(built, batch * steps)
        train_step = jax.jit(
            make_train_step(built.model, "softmax_cross_entropy", optimizer, precision=policy)
        )
        one = (x[:batch], y[:batch])
        compile_s, compiled = time_once(lambda: train_step.lower(ts, one).compile(), clock=clock)
        record: dict[str, Any] = {"compile_s": compile_s, **compiled_cost(compiled)}
        if step:
            st = time_calls(
                lambda: jax.block_until_ready(compiled(ts, one)), repeats=repeats, clock=clock
            )
            record.update(step_s=st.median, step_s_min=st.min, step_s_max=st.max)
        fit_timing = _fit_timing(built, ts, (x, y), batch, repeats, policy)
    result = _record(config, device, policy, record, fit_timing, batch)
    if built.tokens and fit_timing.median > 0:  # a language model: positions trained per second
        result["tokens_per_s"] = batch * built.x_shape[1] / fit_timing.median
    return result


def record_header(
    config: Mapping[str, Any], device: Any, precision: str, status: str
) -> dict[str, Any]:
    """The fields every record starts with: schema, status, what ran where and with what.

    Example:
        >>> import jax
        >>> h = record_header({"family": "fc", "layers": 1, "width": 8, "batch": 2},
        ...                   jax.devices("cpu")[0], "mixed_bfloat16", "ok")
        >>> h["precision"], h["dtype"], h["param_dtype"], h["config"]
        ('mixed_bfloat16', 'bfloat16', 'float32', {'layers': 1, 'width': 8, 'batch': 2})
    """
    policy = resolve_precision(precision)
    return {
        "schema": SCHEMA_VERSION,
        "status": status,
        "family": config["family"],
        "config": {k: v for k, v in config.items() if k != "family"},
        "backend": device.platform,
        "device_kind": device.device_kind,
        "precision": policy.name,
        "dtype": policy.compute_dtype,
        "param_dtype": policy.param_dtype,
        "versions": versions(),
    }


def _record(
    config: Mapping[str, Any],
    device: Any,
    precision: str,
    figures: dict[str, Any],
    timing: Timing,
    batch: int,
) -> dict[str, Any]:
    flops, bytes_accessed = figures.get("flops"), figures.get("bytes_accessed")
    rate = flops / timing.median if flops and timing.median > 0 else None
    header = record_header(config, device, precision, "ok")
    vendor = vendor_peak_flops(device.device_kind, header["dtype"])
    return {
        **header,
        "fit_step_s": timing.median,
        "fit_step_s_min": timing.min,
        "fit_step_s_max": timing.max,
        "fit_step_spread": timing.spread,
        "examples_per_s": batch / timing.median if timing.median > 0 else None,
        **figures,
        "flop_per_s": rate,
        "intensity": flops / bytes_accessed if flops and bytes_accessed else None,
        "peak_flop_per_s_vendor": vendor,
        "utilisation_vendor": rate / vendor if rate and vendor else None,
    }
