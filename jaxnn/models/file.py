"""The whole-model file: ``save_model`` and ``load_model``.

A model file is one zip archive, like Keras' ``.keras``:

- ``config.json``: the architecture (:func:`jaxnn.models.config.to_config`) and, when ``fit``
  trained the state, the arguments to resume training (``fit_kwargs``);
- ``metadata.json``: the format and its version, jaxnn and jax versions, the date, the input and
  output shapes;
- ``model.safetensors``: every array as a `safetensors <https://huggingface.co/docs/safetensors>`_
  tensor named by its path: ``params/dense_1/w``, ``state/batch_norm/mean``,
  ``opt_state/0/mu/dense/w``, ``step``, ``key``. Any safetensors reader gets the weights without
  jaxnn.

:func:`load_model` rebuilds the model from the config alone (the layers it names must be
jaxnn's, importable functions, or registered with :func:`jaxnn.register_layer`), or takes the
model built in code (``model=``) and loads only the arrays.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import _html, optimizers
from jaxnn import precision as precision_lib
from jaxnn._version import __version__
from jaxnn.checkpoint import _key_fields, _restore_key, write_atomic
from jaxnn.core import Layer, as_shape
from jaxnn.models.archive import (
    _DTYPES,
    Archive,
    check_config,
    check_fit_kwargs,
    check_metadata,
    corrupt,
    read_archive,
)
from jaxnn.models.config import _decode, _encode, from_config, to_config
from jaxnn.train.inference import trained_with
from jaxnn.train.state import TrainState

__all__ = ["SavedModel", "load_model", "save_model"]

FORMAT = "jaxnn.model"
FORMAT_VERSION = 1


class SavedModel(NamedTuple):
    """What :func:`load_model` returns.

    Attributes:
        model: The rebuilt :class:`~jaxnn.Layer` (or the one passed as ``model=``).
        train_state: A :class:`~jaxnn.TrainState` with the saved params, state, step and key;
            ``opt_state`` is restored when the optimizer is known (saved by ``fit`` or passed as
            ``optimizer=``), else ``None``.
        fit_kwargs: The arguments ``fit`` trained with, decoded, with ``initial_epoch`` set to the
            next epoch: ``fit(model, data, initial_state=train_state, epochs=..., **fit_kwargs)``
            resumes. ``{}`` when the state did not come from ``fit``.
        metadata: ``metadata.json``: versions, date, input and output shapes.
    """

    model: Layer
    train_state: TrainState
    fit_kwargs: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The input shape the model was saved with (batch axis ``-1``)."""
        return tuple(self.metadata["input_shape"])

    def _repr_html_(self) -> str:
        """The file's model in a notebook: shapes, parameters, step, versions, then its layers."""
        count = sum(int(np.size(leaf)) for leaf in jax.tree.leaves(self.train_state.params))
        meta = self.metadata
        fit = {k: self.fit_kwargs[k] for k in ("loss", "optimizer") if k in self.fit_kwargs}
        rows: list[list[Any]] = [
            ["Input shape", meta.get("input_shape")],
            ["Output shape", meta.get("output_shape")],
            ["Params", f"{count:,}"],
            ["Step", int(np.asarray(self.train_state.step))],
            ["Optimizer state", "restored" if self.train_state.opt_state is not None else "none"],
            *[[k.capitalize(), getattr(v, "__name__", v)] for k, v in fit.items()],
            ["Saved", meta.get("created", "?")],
            ["Versions", f"jaxnn {meta.get('jaxnn_version')}, jax {meta.get('jax_version')}"],
        ]
        title = f"SavedModel {self.model.name!r}"
        return _html.table(["", ""], rows, title=title) + self.model._repr_html_()


def _name(path: tuple) -> str:
    parts = []
    for entry in path:
        part = str(getattr(entry, "key", getattr(entry, "name", getattr(entry, "idx", entry))))
        if "/" in part:
            raise ValueError(f"save_model: the tree key {part!r} holds '/', used between levels.")
        parts.append(part)
    return "/".join(parts)


def _flat(prefix: str, tree: Any) -> dict[str, Any]:
    """The leaves of ``tree`` by their ``prefix/key/key`` names."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join([prefix, _name(p)]).rstrip("/"): v for p, v in leaves}


def _tensors(ts: TrainState) -> dict[str, np.ndarray]:
    trees = {"params": ts.params, "state": ts.state, "opt_state": ts.opt_state}
    tensors = {n: np.asarray(v) for prefix, t in trees.items() for n, v in _flat(prefix, t).items()}
    tensors["step"] = np.asarray(ts.step)
    tensors["key"] = np.asarray(_key_fields(ts.key)["data"])
    return tensors


def _compare(expected: dict[str, Any], found: dict[str, Any], where: str, what: str) -> None:
    """Raises a ValueError naming every missing, extra or mis-shaped array."""
    problems = [f"{n} is missing" for n in expected if n not in found]
    problems += [f"{n} is not in the model" for n in found if n not in expected]
    for name in expected.keys() & found.keys():
        want, got = expected[name], found[name]
        if tuple(np.shape(got)) != tuple(want.shape) or np.dtype(got.dtype) != want.dtype:
            problems.append(
                f"{name} has shape {tuple(np.shape(got))} {np.dtype(got.dtype).name}, the model "
                f"expects {tuple(want.shape)} {np.dtype(want.dtype).name}"
            )
    if problems:
        raise ValueError(
            f"{where}: {what} does not match the model: {'; '.join(sorted(problems))}."
        )


def _fit_config(fit_kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The fit arguments that a file can describe, and why each of the others cannot be."""
    saved, skipped = {}, {}
    for name, value in fit_kwargs.items():
        try:
            saved[name] = _encode(value, f"fit argument {name!r}")
        except ValueError as error:
            skipped[name] = str(error)
    return saved, skipped


def _as_train_state(train_state: Any) -> TrainState:
    if isinstance(train_state, TrainState):
        return train_state
    if isinstance(train_state, tuple) and len(train_state) == 2:
        params, state = train_state
        return TrainState(params, state, None, jnp.zeros((), jnp.int32), jax.random.key(0))
    raise TypeError(
        f"save_model: train_state must be a jaxnn.TrainState or a (params, state) pair; got "
        f"{type(train_state).__name__}."
    )


def _init_specs(model: Layer, input_shape: tuple) -> tuple[Any, Any, Any]:
    """``model.init``'s output shape, and its params and state as ShapeDtypeStructs."""
    shapes = []

    def init() -> tuple[Any, Any]:
        out_shape, params, state = model.init(jax.random.key(0), input_shape)
        shapes.append(out_shape)
        return params, state

    params, state = jax.eval_shape(init)
    return shapes[0], params, state


def _metadata(ts: TrainState, input_shape: tuple, out_shape: Any) -> dict[str, Any]:
    key = _key_fields(ts.key)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "jaxnn_version": __version__,
        "jax_version": jax.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input_shape": list(input_shape),
        "output_shape": jax.tree.map(list, out_shape, is_leaf=lambda s: isinstance(s, tuple)),
        "key": {"typed": key["typed"], "impl": key["impl"]},
        "has_opt_state": ts.opt_state is not None,
    }


def save_model(
    path: str | os.PathLike,
    model: Layer,
    train_state: Any,
    *,
    input_shape: Any = None,
) -> Path:
    """Writes the model's architecture, weights, state and optimizer state to one file.

    The file is a zip of ``config.json``, ``metadata.json`` and ``model.safetensors`` (see the
    module docstring), written atomically: a failed save leaves any previous file untouched.
    When ``fit`` returned ``train_state``, the file also records fit's arguments
    (loss, optimizer, learning rate, batch size, seed ...) so training can resume; an argument
    that cannot be described (an Optax object, a closure) is left out and named in
    ``config.json`` under ``"fit_kwargs_not_saved"``.

    Args:
        path: The file to write (by convention ``*.jaxnn``); its folder is created.
        model: The model, built from jaxnn's layers, importable functions and registered types.
        train_state: A :class:`~jaxnn.TrainState`, or a ``(params, state)`` pair.
        input_shape: The input shape with a batch axis (``-1`` for any); by default the one
            ``fit`` trained ``train_state`` on.

    Returns:
        The path written.

    Raises:
        ValueError: If a layer cannot be described (the message names it and the fix), or the
            input shape is unknown.

    Example:
        >>> import os, tempfile, jax, jax.numpy as jnp, numpy as np, jaxnn
        >>> from jaxnn.layers import Dense
        >>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
        >>> model = jaxnn.serial(Dense(8), jnp.tanh, Dense(1))
        >>> ts, _ = jaxnn.fit(model, (x, x.sum(1, keepdims=True)), loss="mse", epochs=2,
        ...                   verbose=0)
        >>> path = save_model(os.path.join(tempfile.mkdtemp(), "m.jaxnn"), model, ts)
        >>> loaded = load_model(path)
        >>> bool(jnp.all(jaxnn.predict(loaded.model, loaded.train_state, x)
        ...              == jaxnn.predict(model, ts, x)))
        True
        >>> loaded.fit_kwargs["optimizer"], loaded.fit_kwargs["initial_epoch"]
        ('adam', 2)
    """
    ts = _as_train_state(train_state)
    training = trained_with(train_state)
    if input_shape is None and training is not None:
        input_shape = training.input_shape
    if input_shape is None:
        raise ValueError(
            "save_model: input_shape is needed (e.g. input_shape=(-1, 784)) when the train "
            "state did not come from fit."
        )
    input_shape = as_shape(input_shape, where="save_model")
    config: dict[str, Any] = {"model": to_config(model)}
    if training is not None:
        config["fit_kwargs"], skipped = _fit_config(training.fit_kwargs)
        if skipped:
            config["fit_kwargs_not_saved"] = skipped
    tensors = _tensors(ts)
    policy = None if training is None else training.fit_kwargs.get("precision")
    out_shape = _check_fits(model, ts, input_shape, policy)
    from safetensors.numpy import save as to_safetensors

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in (
            ("metadata.json", _metadata(ts, input_shape, out_shape)),
            ("config.json", config),
        ):
            archive.writestr(name, json.dumps(text, indent=2), zipfile.ZIP_DEFLATED)
        archive.writestr("model.safetensors", to_safetensors(tensors, {"format": FORMAT}))
    write_atomic(path, buffer.getvalue())
    return Path(path)


def _check_fits(model: Layer, ts: TrainState, input_shape: tuple, policy: Any) -> Any:
    """Checks that params and state are the ones the model makes; returns its output shape.

    Under the ``"bfloat16"`` policy the params are expected in bfloat16.
    """
    out_shape, params, state = _init_specs(model, input_shape)
    params = precision_lib.cast_params(params, policy)
    expected = {**_flat("params", params), **_flat("state", state)}
    found = {**_flat("params", ts.params), **_flat("state", ts.state)}
    _compare(expected, found, "save_model", "the train state")
    return out_shape


def _fill(prefix: str, spec: Any, tensors: dict[str, np.ndarray], path: Path) -> Any:
    """The tree of ``spec``'s structure with its leaves from ``tensors``, shapes checked."""
    expected = _flat(prefix, spec)
    found = {n: v for n, v in tensors.items() if n.split("/")[0] == prefix}
    _compare(expected, found, "load_model", f"{prefix} in {str(path)!r}")
    leaves = [jnp.asarray(found[name]) for name in expected]
    return jax.tree_util.tree_unflatten(jax.tree.structure(spec), leaves)


def _optimizer(fit_kwargs: dict[str, Any], path: Path) -> Any:
    """The optimizer ``fit`` built from these arguments, or ``None`` when it is not known."""
    if not isinstance(fit_kwargs.get("optimizer"), str):
        return None
    try:
        opt = optimizers.get(
            fit_kwargs["optimizer"],
            fit_kwargs.get("learning_rate"),
            clip_norm=fit_kwargs.get("clip_norm"),
        )
        opt = optimizers.freeze(opt, fit_kwargs.get("freeze", ()))
        return precision_lib.prepare_optimizer(opt, fit_kwargs.get("precision"))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"load_model: {str(path)!r} config.json fit_kwargs do not make an optimizer: {error}"
        ) from error


def _build_model(archive: Archive, safe_mode: bool) -> Layer:
    where = f"load_model: {str(archive.path)!r} config.json"
    try:
        return from_config(archive.config["model"], safe_mode=safe_mode, where=where)
    except ValueError:
        raise
    except Exception as error:  # a registered constructor may raise anything; name the file
        raise ValueError(
            f"{where}: building the model failed ({type(error).__name__}: {error})."
        ) from error


def _specs(model: Layer, archive: Archive) -> tuple[Any, Any]:
    """The params and state the model makes for the saved input shape, as ShapeDtypeStructs."""
    try:
        _, params, state = _init_specs(model, tuple(archive.metadata["input_shape"]))
    except Exception as error:  # a damaged config reaches the layers' own shape checks
        raise ValueError(
            f"load_model: {str(archive.path)!r}: the model in config.json does not take the "
            f"input_shape {archive.metadata['input_shape']} of metadata.json "
            f"({type(error).__name__}: {error})."
        ) from error
    return params, state


def _check_header(
    archive: Archive, header: dict[str, Any], expected: dict[str, Any], opt_known: bool
) -> None:
    """Checks the safetensors header against the model before any tensor is read."""
    found = {
        n: jax.ShapeDtypeStruct(shape, dtype)
        for n, (shape, dtype) in header.items()
        if n.split("/")[0] in ("params", "state") or (opt_known and n.startswith("opt_state"))
    }
    _compare(expected, found, "load_model", f"model.safetensors in {str(archive.path)!r}")
    for name, want in (("step", ()), ("key", None)):
        if name not in header or (want is not None and header[name][0] != want):
            raise corrupt(archive.path, f"model.safetensors lacks a {name!r} tensor of its shape")
    key_shape, key_dtype = header["key"]
    if key_dtype != np.uint32 or len(key_shape) != 1 or not 1 <= key_shape[0] <= 4:
        raise corrupt(archive.path, f"model.safetensors 'key' is {key_dtype} {key_shape}")
    other = [n for n in header if n not in expected and n not in ("step", "key")]
    extra = [n for n in other if not n.startswith("opt_state/")]
    if extra:
        raise corrupt(
            archive.path, f"model.safetensors holds tensors not in the model: {extra[:5]}"
        )
    budget = 4 * sum(math.prod(s.shape) * s.dtype.itemsize for s in expected.values()) + 2**20
    unchecked = sum(math.prod(header[n][0]) * header[n][1].itemsize for n in other)
    if unchecked > budget:
        raise corrupt(archive.path, f"model.safetensors holds {unchecked:,} bytes of opt_state")


def load_model(
    path: str | os.PathLike,
    *,
    model: Layer | None = None,
    optimizer: Any = None,
    safe_mode: bool = True,
) -> SavedModel:
    """Reads a file written by :func:`save_model`: the model, its train state and fit arguments.

    Args:
        path: The model file.
        model: The model built in code, to load only the arrays into it (for a model with
            layers the file cannot describe). Default: rebuild it from the file's config.
        optimizer: An ``optax.GradientTransformation`` (or a name) to restore the optimizer state
            into, when ``fit``'s optimizer was not a name; default: the one ``fit`` used.
        safe_mode: If True (default), import functions named in the file only from jax, jaxnn,
            numpy, optax and modules already imported.

    Returns:
        A :class:`SavedModel` ``(model, train_state, fit_kwargs, metadata)``.

    Raises:
        FileNotFoundError: If there is no file.
        ValueError: For a truncated, corrupt or foreign file, a newer format version, an unknown
            layer type, or arrays whose paths or shapes do not match the model (each named).

    Example:
        >>> import tempfile, jax, jaxnn
        >>> from jaxnn.layers import Dense
        >>> model = jaxnn.serial(Dense(4, activation="relu"), Dense(2))
        >>> _, params, state = model.init(jax.random.key(0), (-1, 3))
        >>> path = save_model(tempfile.mkdtemp() + "/m.jaxnn", model, (params, state),
        ...                   input_shape=(-1, 3))
        >>> loaded = load_model(path)
        >>> loaded.input_shape, jax.tree.map(jnp.shape, loaded.train_state.params)["dense_1"]
        ((-1, 3), {'b': (2,), 'w': (4, 2)})
    """
    path = Path(path)
    archive = read_archive(path)
    check_metadata(path, archive.metadata, FORMAT, FORMAT_VERSION)
    check_config(path, archive.config)
    model = _build_model(archive, safe_mode) if model is None else model
    params_spec, state_spec = _specs(model, archive)
    where = f"load_model: {str(path)!r} config.json fit_kwargs"
    fit_kwargs = _decode(archive.config.get("fit_kwargs", {}), safe_mode, where)
    check_fit_kwargs(fit_kwargs, where)
    opt = _optimizer(fit_kwargs, path) if optimizer is None else optimizers.get(optimizer)
    # "bfloat16" keeps parameters (and optimizer state) in bfloat16: so does the file.
    params_spec = precision_lib.cast_params(params_spec, fit_kwargs.get("precision"))
    has_saved = opt is not None and archive.metadata.get("has_opt_state", False)
    expected = {**_flat("params", params_spec), **_flat("state", state_spec)}
    opt_spec = jax.eval_shape(opt.init, params_spec) if opt is not None else None
    if has_saved:
        expected.update(_flat("opt_state", opt_spec))
    _check_header(archive, archive.tensor_header(), expected, has_saved)
    from safetensors import SafetensorError, deserialize

    try:
        # safetensors' own decoding, viewed with NumPy here: its NumPy loader has no bfloat16.
        tensors = {
            name: np.frombuffer(view["data"], np.dtype(_DTYPES[view["dtype"]])).reshape(
                view["shape"]
            )
            for name, view in deserialize(archive.tensor_bytes())
        }
    except SafetensorError as error:
        raise corrupt(path, f"model.safetensors is damaged ({error})") from None
    params = _fill("params", params_spec, tensors, path)
    state = _fill("state", state_spec, tensors, path)
    opt_state = None
    if opt is not None:
        opt_state = _fill("opt_state", opt_spec, tensors, path) if has_saved else opt.init(params)
    key = _restore_key({**archive.metadata["key"], "data": tensors["key"]})
    ts = TrainState(params, state, opt_state, jnp.asarray(tensors["step"]), key)
    return SavedModel(model, ts, fit_kwargs, archive.metadata)
